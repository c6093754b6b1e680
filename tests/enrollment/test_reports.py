"""EN-8: Medicare ID report, approved record, pending reassignments, reassignment report."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    Agenda,
    Application,
    ApplicationContent,
    ApplicationStatus,
    Form,
    Kind,
    month_end,
)
from enrollkit.errors import InvalidTransitionError, NotPermittedError
from enrollkit.notify import InMemoryNotifier
from enrollkit.serialization import to_data
from enrollkit.signatures import Attestation, agenda_sources
from tests.conftest import NO_EXPIRY, make_runtime
from tests.enrollment.world import EMAILS, Kit, ana_855i, ana_855r

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
