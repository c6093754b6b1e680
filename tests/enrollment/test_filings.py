"""A filing that ends reports nothing and answers no due date (EN-7, EN-9, EN-11);
the approved-enrollment report reads CMS's date from the record (EN-8, EN-10).

A revalidation or a change of information counts as filed while its filing stands:
withdrawn, denied, or rejected for a missed development deadline, it no longer
answers the revalidation due date on the enrollment record or the agenda, nor
reports a change; and a submission answers only its own development request.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from enrollkit.access import System
from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    Agenda,
    Application,
    ApplicationStatus,
    ChangeKind,
    Form,
    Kind,
    RecordService,
    RecordStatus,
)
from enrollkit.runtime import Runtime
from enrollkit.signatures import Attestation, agenda_sources
from tests.conftest import NO_EXPIRY, make_runtime
from tests.enrollment.factories import OAK_AVE
from tests.enrollment.world import EMAILS, Kit, ana_855i

HEADER = (
    '"Enrollment ID","National Provider Identifier","First Name","Last Name",'
    '"Organization Name","Enrollment State Code","Enrollment Type","Provider Type Text",'
    '"Enrollment Specialty","Revalidation Due Date","Adjusted Due Date",'
    '"Individual Total Employer Associations","Group Member Total Reassignments"'
)
EID = "I20031110000070"
#: The day after the record's due date of 2026-03-31.
AFTER_DUE = datetime(2026, 4, 2, 12, tzinfo=UTC)


@pytest.fixture
def runtime(clock: FixedClock) -> Runtime:
    return make_runtime(clock=clock, password_policy=NO_EXPIRY)


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return Kit(runtime)


def import_ana(kit: Kit, due: str = "03/31/2026") -> RecordService:
    """CMS's list puts Dr Diaz's enrollment on the record, due *due*."""
    records = RecordService(kit.runtime)
    line = (
        f'"{EID}","1234567893","ANA","DIAZ","","IL","1","Practitioner",'
        f'"Internal Medicine","{due}","","1",""'
    )
    records.import_revalidation_list(actor=kit.actors.help_desk(), lines=[HEADER, line])
    return records


def file_855i(kit: Kit, kind: Kind, **changes: object) -> Application:
    """An 855I of *kind* prepared by the credentialer and signed by Dr Diaz: submitted."""
    app = kit.enrollment.create(
        actor=kit.actor("u-cred"),
        profile_id="prof-ana",
        form=Form.CMS_855I,
        kind=kind,
        content=ana_855i(**changes),
    )
    kit.send(app.id, actor=kit.actor("u-cred"))
    return kit.signatures.sign_electronically(
        app.id,
        actor=kit.actor("u-ana"),
        digest=kit.digest(app.id),
        slot="individual",
        confirmed_email=EMAILS["u-ana"],
        attestations=frozenset(Attestation),
    )


def revalidation_dues(kit: Kit) -> list[date]:
    agenda = Agenda(kit.runtime, sources=agenda_sources())
    return [
        i.due.date()
        for i in agenda.for_profile("prof-ana", horizon_days=3660)
        if i.kind == "revalidation.due"
    ]


class TestRecord:
    @pytest.mark.parametrize("ending", ["withdrawn", "denied"])
    def test_en_11_an_ended_revalidation_files_nothing(
        self, kit: Kit, clock: FixedClock, ending: str
    ) -> None:
        """A revalidation withdrawn or denied after it was filed no longer answers the
        record's due date: past it, billing reads deactivated (EN-11)."""
        records = import_ana(kit)
        app = file_855i(kit, Kind.REVALIDATION)
        assert app.status is ApplicationStatus.SUBMITTED
        assert records.get(EID).revalidation_filed_on == clock.now().date()
        if ending == "withdrawn":
            kit.signatures.withdraw(app.id, actor=kit.actor("u-cred"))
        else:
            kit.enrollment.start_review(app.id, actor=kit.mac())
            kit.enrollment.deny(app.id, actor=kit.mac(), reason="incomplete")
        record = records.get(EID)
        assert record.revalidation_filed_on is None
        clock.set(AFTER_DUE)
        assert record.status_on(clock.now()) is RecordStatus.DEACTIVATED

    def test_en_11_a_filed_revalidation_stands(self, kit: Kit, clock: FixedClock) -> None:
        """The same revalidation left in review keeps billing active past the due date."""
        records = import_ana(kit)
        app = file_855i(kit, Kind.REVALIDATION)
        kit.enrollment.start_review(app.id, actor=kit.mac())
        clock.set(AFTER_DUE)
        assert records.get(EID).status_on(clock.now()) is RecordStatus.APPROVED

    def test_en_11_a_submission_answers_only_its_own_development_request(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """An unrelated change of information submitted meanwhile leaves the revalidation's
        development deadline on the record: unanswered, it deactivates billing (EN-11)."""
        records = import_ana(kit, due="12/31/2027")
        revalidation = file_855i(kit, Kind.REVALIDATION)
        kit.enrollment.start_review(revalidation.id, actor=kit.mac())
        kit.enrollment.request_development(revalidation.id, actor=kit.mac(), reason="license")
        due_on = records.get(EID).development_due_on
        assert due_on is not None
        file_855i(kit, Kind.CHANGE_OF_INFORMATION, mailing_address=OAK_AVE)
        record = records.get(EID)
        assert record.development_due_on == due_on
        clock.set(datetime.combine(due_on + timedelta(days=2), datetime.min.time(), tzinfo=UTC))
        assert record.status_on(clock.now()) is RecordStatus.DEACTIVATED


class TestAgenda:
    def test_en_7_a_denied_revalidation_brings_the_due_date_back(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """Without a record, the estimated due date leaves the agenda while a revalidation
        is filed and comes back once the MAC denies it (EN-7, EN-9)."""
        initial = file_855i(kit, Kind.INITIAL)
        kit.enrollment.start_review(initial.id, actor=kit.mac())
        kit.enrollment.approve(initial.id, actor=kit.mac(), ptan="P1")
        before = revalidation_dues(kit)
        assert len(before) == 1
        clock.advance(days=1)
        revalidation = file_855i(kit, Kind.REVALIDATION)
        assert revalidation_dues(kit) == []
        kit.enrollment.start_review(revalidation.id, actor=kit.mac())
        kit.enrollment.deny(revalidation.id, actor=kit.mac(), reason="incomplete")
        assert revalidation_dues(kit) == before

    def test_en_7_a_withdrawn_change_application_reports_nothing(self, kit: Kit) -> None:
        """A change of information withdrawn after it was submitted leaves the PECOS change
        to report on the agenda (EN-7, EN-9)."""
        kit.enrollment.record_change(
            actor=kit.actor("u-cred"),
            profile_id="prof-ana",
            form=Form.CMS_855I,
            change=ChangeKind.OFFICIALS,
            occurred_on=kit.runtime.clock.now().date(),
            description="a new delegated official",
            system=System.PECOS,
        )
        app = file_855i(kit, Kind.CHANGE_OF_INFORMATION, mailing_address=OAK_AVE)
        agenda = Agenda(kit.runtime, sources=agenda_sources())

        def open_changes() -> list[str]:
            return [i.kind for i in agenda.for_profile("prof-ana") if i.kind.startswith("change")]

        assert open_changes() == []
        kit.signatures.withdraw(app.id, actor=kit.actor("u-cred"))
        assert open_changes() != []


class TestApprovedRecordReport:
    def test_en_10_the_report_reads_cms_date_from_the_record(self, kit: Kit) -> None:
        """With CMS's due date on the enrollment record, the approved-enrollment report
        gives that date, as the agenda does, not the application estimate (EN-8, EN-10)."""
        import_ana(kit, due="06/30/2030")
        initial = file_855i(kit, Kind.INITIAL)
        kit.enrollment.start_review(initial.id, actor=kit.mac())
        kit.enrollment.approve(initial.id, actor=kit.mac(), ptan="P1", enrollment_id=EID)
        report = kit.enrollment.approved_record(initial.id, actor=kit.actor("u-cred"))
        assert report.revalidation_due == date(2030, 6, 30)
        assert report.revalidation_due_assigned
        assert revalidation_dues(kit) == [date(2030, 6, 30)]
