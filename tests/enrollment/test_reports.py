"""EN-8: Medicare ID report, approved record, pending reassignments, reassignment report."""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import pytest

from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    ENROLLMENT_RECORDS,
    Agenda,
    Application,
    ApplicationContent,
    ApplicationStatus,
    EnrollmentRecord,
    Fact,
    Form,
    Kind,
    LocationPtan,
    Reassignment,
    ReassignmentParty,
    ReassignmentRow,
    RecordReassignment,
    month_end,
)
from enrollkit.errors import InvalidTransitionError, NotPermittedError
from enrollkit.notify import InMemoryNotifier
from enrollkit.serialization import to_data
from enrollkit.signatures import Attestation, agenda_sources
from tests.conftest import NO_EXPIRY, make_runtime
from tests.enrollment.world import EMAILS, NPI_ACME, NPI_ANA, Kit, ana_855i, ana_855r

SIGNERS = {"individual": "u-ana", "receiving_organization": "u-ao"}


@pytest.fixture
def kit(clock: FixedClock, notifier: InMemoryNotifier) -> Kit:
    """The world, with passwords that never expire: these reports span years."""
    return Kit(make_runtime(clock=clock, notifier=notifier, password_policy=NO_EXPIRY))


def through(
    kit: Kit,
    form: Form,
    kind: Kind,
    content: ApplicationContent,
    *,
    ptan: str | None = None,
    effective: date | None = None,
    cms_due: date | None = None,
    approve: bool = False,
) -> Application:
    """Create, send, sign every slot and (with a PTAN, or *approve*) approve, with the
    revalidation due date CMS assigned (*cms_due*)."""
    app = kit.enrollment.create(
        actor=kit.actor("u-cred"), profile_id="prof-ana", form=form, kind=kind, content=content
    )
    app = kit.send(app.id, actor=kit.actor("u-cred"))
    for request in kit.signatures.sheet(app.id).open_requests():
        signer = SIGNERS[request.slot.name]
        app = kit.signatures.sign_electronically(
            app.id,
            actor=kit.actor(signer),
            digest=kit.digest(app.id),
            slot=request.slot.name,
            confirmed_email=EMAILS[signer],
            attestations=set(Attestation),
        )
    if ptan is not None or approve:
        kit.enrollment.start_review(app.id, actor=kit.mac())
        app = kit.enrollment.approve(
            app.id,
            actor=kit.mac(),
            ptan=ptan,
            medicare_id=f"M-{ptan}" if ptan else None,
            effective_date=effective,
            revalidation_due=cms_due,
        )
    return app


class TestReports:
    def test_en_8_medicare_id_report(self, kit: Kit, clock: FixedClock) -> None:
        """Every approved enrollment of the profile with PTAN and Medicare ID, oldest first."""
        through(kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I")
        clock.advance(days=3)
        through(kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r(), ptan="PT-R")
        through(kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r())  # submitted, not approved
        rows = kit.enrollment.medicare_id_report("prof-ana", actor=kit.actor("u-ana"))
        assert [(r.form, r.ptan, r.medicare_id) for r in rows] == [
            (Form.CMS_855I, "PT-I", "M-PT-I"),
            (Form.CMS_855R, "PT-R", "M-PT-R"),
        ]
        assert rows[0].legal_name == "Ana Diaz" and rows[0].npi == "1234567893"
        assert to_data(rows[0])["form"] == "855I"

    def test_en_8_approved_enrollment_record(self, kit: Kit, clock: FixedClock) -> None:
        """The record holds the approved revision and the revalidation due date."""
        app = through(kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I")
        record = kit.enrollment.approved_record(app.id, actor=kit.actor("u-cred"))
        assert record.revision.number == 1 and record.revision.content == ana_855i()
        assert record.revalidation_due == month_end(clock.now().date().replace(year=2031))
        assert not record.revalidation_due_assigned  # estimated: CMS gave no date
        pending = through(kit, Form.CMS_855I, Kind.CHANGE_OF_INFORMATION, ana_855i())
        with pytest.raises(InvalidTransitionError):
            kit.enrollment.approved_record(pending.id, actor=kit.actor("u-cred"))

    def test_en_7_record_keeps_the_cms_date_through_a_change(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """EN-7 amended: the date CMS assigned with the initial approval stays the due date
        after a change of information is approved years later (the issue saw 2031 -> 2035)."""
        initial = through(
            kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I", cms_due=date(2031, 1, 31)
        )
        clock.advance(days=4 * 365)
        change = through(kit, Form.CMS_855I, Kind.CHANGE_OF_INFORMATION, ana_855i(), ptan="PT-I")
        for app in (initial, change):
            record = kit.enrollment.approved_record(app.id, actor=kit.actor("u-cred"))
            assert (record.revalidation_due, record.revalidation_due_assigned) == (
                date(2031, 1, 31),
                True,
            )

    def test_en_7_terminated_enrollment_has_no_revalidation(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """A voluntarily terminated enrollment has no revalidation due, on the record and on
        the agenda."""
        initial = through(kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I")
        agenda = Agenda(kit.runtime, sources=agenda_sources())
        assert [i.kind for i in agenda.for_profile("prof-ana", horizon_days=3000)] == [
            "revalidation.due"
        ]
        clock.advance(days=200)
        through(kit, Form.CMS_855I, Kind.VOLUNTARY_TERMINATION, ana_855i(), approve=True)
        record = kit.enrollment.approved_record(initial.id, actor=kit.actor("u-cred"))
        assert record.revalidation_due is None
        assert agenda.for_profile("prof-ana", horizon_days=3000) == ()

    def test_en_8_pending_reassignments_seen_from_both_sides(self, kit: Kit) -> None:
        """A submitted 855R shows for Dr Diaz and for Acme, the receiving organization."""
        app = through(kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r())
        for profile, actor in (("prof-ana", "u-ana"), ("prof-acme", "u-ao")):
            (row,) = kit.enrollment.pending_reassignments(profile, actor=kit.actor(actor))
            assert (row.application_id, row.status) == (app.id, ApplicationStatus.SUBMITTED)
            assert row.receiving_profile_id == "prof-acme"
        with pytest.raises(NotPermittedError):
            kit.enrollment.pending_reassignments("prof-acme", actor=kit.actor("u-ana"))

    def test_en_8_reassignment_report(self, kit: Kit, clock: FixedClock) -> None:
        """Approved reassignments to Acme with PTAN, effective date and the individual's
        revalidation due date (from her 855I approval)."""
        through(kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I")
        approved_855i = clock.now().date()
        clock.advance(days=40)
        app = through(
            kit,
            Form.CMS_855R,
            Kind.REASSIGNMENT,
            ana_855r(),
            ptan="PT-R",
            effective=approved_855i + timedelta(days=45),
        )
        (row,) = kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-do"))
        assert (row.application_id, row.ptan, row.individual_name) == (app.id, "PT-R", "Ana Diaz")
        assert row.effective_date == approved_855i + timedelta(days=45)
        assert row.revalidation_due == month_end(approved_855i.replace(year=approved_855i.year + 5))

    def test_en_7_reassignment_without_a_known_855i_has_no_date(self, kit: Kit) -> None:
        """A reassignment never sets a revalidation date: without the individual's approved
        855I in enrollkit the report says None rather than inventing one."""
        through(kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r(), ptan="PT-R")
        (row,) = kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-do"))
        assert row.revalidation_due is None


ANA_EID = "I20100301000123"
ACME_EID = "O20080205000209"


def _records(kit: Kit, *reassignments: RecordReassignment, due: date | None = None) -> None:
    """Ana's and Acme's enrollment records, as an import would leave them (EN-10)."""
    with kit.runtime.transaction() as tx:
        repo = tx.repo(ENROLLMENT_RECORDS)
        repo.add(
            EnrollmentRecord(
                id=ANA_EID,
                enrollment_id=ANA_EID,
                npi=NPI_ANA,
                first_name="Ana",
                last_name="Diaz",
                ptans=(LocationPtan("PT-ANA", "Main office"),),
                reassignments=reassignments,
                revalidation_due=due,
            )
        )
        repo.add(
            EnrollmentRecord(
                id=ACME_EID,
                enrollment_id=ACME_EID,
                npi=NPI_ACME,
                organization_name="Acme Family Medicine PLLC",
            )
        )
        tx.commit()


def _ana_record(kit: Kit) -> EnrollmentRecord:
    with kit.runtime.transaction() as tx:
        found = tx.repo(ENROLLMENT_RECORDS).get(ANA_EID)
    assert found is not None
    return found


class TestReassignmentsOnTheRecord:
    def test_en_10_an_approved_reassignment_and_its_termination_are_on_the_record(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """EN-10, EN-12: the MAC's approval of an 855R writes who bills for whom on the
        individual's record from the effective date, sourced to the application; the
        report names both PECOS enrollments; an approved termination ends it and the
        report drops it."""
        _records(kit)
        start = clock.now().date() + timedelta(days=10)
        app = through(
            kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r(), ptan="PT-R", effective=start
        )
        record = _ana_record(kit)
        assert record.reassignments == (RecordReassignment(ANA_EID, ACME_EID, since=start),)
        source = record.source_of(Fact.REASSIGNMENTS)
        assert source is not None and source.reference == f"approved application {app.id}"
        clock.advance(days=20)
        (row,) = kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-do"))
        assert (row.application_id, row.individual_enrollment_id, row.receiving_enrollment_id) == (
            app.id,
            ANA_EID,
            ACME_EID,
        )
        ended = clock.now().date() + timedelta(days=5)
        ending = attrs.evolve(
            ana_855r(),
            reassignment=Reassignment("prof-acme", terminated_by=ReassignmentParty.INDIVIDUAL),
        )
        through(
            kit, Form.CMS_855R, Kind.REASSIGNMENT_TERMINATION, ending, approve=True, effective=ended
        )
        assert _ana_record(kit).reassignments == (
            RecordReassignment(ANA_EID, ACME_EID, since=start, until=ended),
        )
        assert kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-do")) == ()

    def test_en_10_a_reassignment_only_the_record_knows_is_reported(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """EN-8, EN-10: a reassignment imported from PECOS, with no application in
        enrollkit, is on both parties' reassignment reports with the individual's PTAN and
        CMS's due date; one the record shows ended is not."""
        today = clock.now().date()
        due = month_end(today + timedelta(days=200))
        _records(kit, RecordReassignment(ANA_EID, ACME_EID, since=date(2019, 5, 1)), due=due)
        expected = ReassignmentRow(
            application_id=None,
            individual_profile_id="prof-ana",
            individual_name="Ana Diaz",
            receiving_profile_id="prof-acme",
            ptan="PT-ANA",
            effective_date=date(2019, 5, 1),
            revalidation_due=due,
            revalidation_due_assigned=True,
            individual_enrollment_id=ANA_EID,
            receiving_enrollment_id=ACME_EID,
        )
        for profile, actor in (("prof-acme", "u-do"), ("prof-ana", "u-ana")):
            assert kit.enrollment.reassignment_report(profile, actor=kit.actor(actor)) == (
                expected,
            )
        with kit.runtime.transaction() as tx:
            repo = tx.repo(ENROLLMENT_RECORDS)
            ana = repo.get(ANA_EID)
            assert ana is not None
            ended = RecordReassignment(ANA_EID, ACME_EID, since=date(2019, 5, 1), until=today)
            repo.save(attrs.evolve(ana, reassignments=(ended,)))
            tx.commit()
        assert kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-do")) == ()
