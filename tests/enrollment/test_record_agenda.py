"""EN-7, EN-9, EN-10, EN-11: the agenda reads the enrollment record: CMS's due date, the
MAC's notice window, deactivation on read and reactivation; on every shipped adapter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    ENROLLMENT_RECORDS,
    FORM_KINDS,
    Agenda,
    AgendaItem,
    AgendaQuery,
    EnrollmentRecord,
    Fact,
    Form,
    Kind,
    LocationPtan,
    ProviderType,
    RecordSource,
    RecordStatus,
    Requirements,
    mac_notice_window,
    month_end,
    record_items,
)
from enrollkit.signatures import Attestation, agenda_sources, signer_slots
from enrollkit.storage import Storage
from tests.conftest import T0, make_runtime
from tests.enrollment.world import EMAILS, NPI_ANA, Kit, ana_855i
from tests.storage.pg import EVERY_ADAPTER, shipped_storage

EID = "I20100301000123"
DUE = month_end(date(2026, 6, 1))  # about 5 months after T0 (2026-01-05)


def _record(**changes: Any) -> EnrollmentRecord:
    base = EnrollmentRecord(
        id=EID,
        enrollment_id=EID,
        npi=NPI_ANA,
        first_name="Ana",
        last_name="Diaz",
        state="MD",
        revalidation_due=DUE,
        listed=True,
    )
    return attrs.evolve(base, **changes)


@pytest.fixture(params=EVERY_ADAPTER)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Every shipped adapter."""
    with shipped_storage(request.param, tmp_path) as store:
        yield store


@pytest.fixture
def world(storage: Storage, clock: FixedClock) -> Kit:
    return Kit(make_runtime(storage, clock=clock))


def _put(kit: Kit, record: EnrollmentRecord) -> None:
    with kit.runtime.transaction() as tx:
        repo = tx.repo(ENROLLMENT_RECORDS)
        old = repo.get(record.id)
        if old is None:
            repo.add(record)
        else:
            repo.save(attrs.evolve(record, version=old.version))
        tx.commit()


def _agenda(kit: Kit) -> Agenda:
    return Agenda(kit.runtime, sources=agenda_sources())


def _of(items: tuple[AgendaItem, ...], subject: str = EID) -> dict[str, AgendaItem]:
    return {i.kind: i for i in items if i.subject == subject}


class TestAgendaFromTheRecord:
    def test_en_10_the_imported_due_date_is_on_the_agenda_of_those_in_scope(
        self, world: Kit
    ) -> None:
        """A record's CMS due date is on the agenda of the profile's owner and of a
        connected credentialer (the access decision), never a stranger's (EN-9, EN-10)."""
        _put(world, _record())
        agenda = _agenda(world)
        mine = _of(agenda.for_user("u-ana"))
        assert mine["revalidation.due"].due == datetime(2026, 6, 30, tzinfo=UTC)
        assert mine["revalidation.due"].rule == "EN-7"
        assert mine["revalidation.due"].days_left == (DUE - T0.date()).days
        assert "revalidation.due" in _of(agenda.for_user("u-cred"))
        assert "revalidation.due" in _of(agenda.for_profile("prof-ana"))
        assert _of(agenda.for_user("u-stranger")) == {}
        assert _of(agenda.for_profile("prof-acme")) == {}

    def test_en_9_a_due_date_beyond_the_horizon_waits(self, world: Kit) -> None:
        """A due date 8 months out is not shown yet; 7 months out it is (EN-9 amended)."""
        far = month_end(T0.date() + relativedelta(months=8))
        _put(world, _record(revalidation_due=far))
        assert "revalidation.due" not in _of(_agenda(world).for_user("u-ana"))
        near = month_end(T0.date() + relativedelta(months=6))
        _put(world, _record(revalidation_due=near))
        assert "revalidation.due" in _of(_agenda(world).for_user("u-ana"))

    def test_en_7_the_mac_notice_shows_in_its_window_only(
        self, world: Kit, clock: FixedClock
    ) -> None:
        """From 4 to 3 months before the due date, "your MAC should send the notice"."""
        _put(world, _record())
        first, last = mac_notice_window(DUE)
        assert (first, last) == (date(2026, 2, 28), date(2026, 3, 30))
        agenda = _agenda(world)
        assert "revalidation.mac_notice" not in _of(agenda.for_user("u-ana"))
        clock.set(datetime(2026, 2, 28, 8, tzinfo=UTC))
        notice = _of(agenda.for_user("u-ana"))["revalidation.mac_notice"]
        assert "MAC should send the revalidation notice" in notice.title
        assert notice.days_left == 30
        clock.set(datetime(2026, 3, 31, tzinfo=UTC))
        assert "revalidation.mac_notice" not in _of(agenda.for_user("u-ana"))

    def test_en_11_a_missed_revalidation_puts_reactivation_on_the_agenda(
        self, world: Kit, clock: FixedClock
    ) -> None:
        """The day after the due date with nothing filed, the record reads deactivated and
        the agenda says to file a reactivation; a filed revalidation prevents it."""
        _put(world, _record())
        clock.set(datetime(2026, 7, 1, tzinfo=UTC))
        items = _of(_agenda(world).for_user("u-ana"))
        assert set(items) == {"record.reactivate"}
        item = items["record.reactivate"]
        assert item.rule == "EN-11"
        assert item.due == datetime(2026, 7, 1, tzinfo=UTC)
        assert Kind.REACTIVATION.value in item.title
        assert "no revalidation was filed" in item.title
        _put(world, _record(revalidation_filed_on=date(2026, 6, 1)))
        assert _of(_agenda(world).for_user("u-ana")) == {}

    def test_en_11_an_unanswered_development_request_deactivates(
        self, world: Kit, clock: FixedClock
    ) -> None:
        """An open development request is a deactivation risk; unanswered past its date,
        the record reads deactivated and reactivation is due."""
        _put(world, _record(revalidation_due=None, development_due_on=date(2026, 2, 4)))
        items = _of(_agenda(world).for_user("u-ana"))
        assert set(items) == {"record.development"}
        assert items["record.development"].days_left == 30
        clock.set(datetime(2026, 2, 5, tzinfo=UTC))
        items = _of(_agenda(world).for_user("u-ana"))
        assert set(items) == {"record.reactivate"}
        assert "development request" in items["record.reactivate"].title

    def test_en_11_a_record_imported_deactivated_asks_for_reactivation(self, world: Kit) -> None:
        """A record PECOS holds as deactivated is on the agenda as a reactivation too."""
        _put(world, _record(status=RecordStatus.DEACTIVATED, status_since=date(2025, 12, 1)))
        item = _of(_agenda(world).for_user("u-ana"))["record.reactivate"]
        assert item.due == datetime(2025, 12, 1, tzinfo=UTC)
        assert item.days_left < 0

    @pytest.mark.parametrize(
        "status",
        [RecordStatus.REVOKED, RecordStatus.OPTED_OUT, RecordStatus.VOLUNTARILY_TERMINATED],
    )
    def test_en_7_an_ended_enrollment_has_nothing_due(
        self, world: Kit, status: RecordStatus
    ) -> None:
        """Revoked, opted-out and terminated enrollments have no due date and no items."""
        _put(world, _record(status=status))
        assert _of(_agenda(world).for_user("u-ana")) == {}


_DUES = st.dates(date(2020, 1, 1), date(2035, 12, 1)).map(month_end)
_DAYS = st.integers(-400, 400)


class TestMacNoticeWindow:
    @given(due=_DUES, offset=_DAYS)
    def test_en_7_the_mac_notice_is_shown_exactly_3_to_4_months_before(
        self, due: date, offset: int
    ) -> None:
        """For any due date and any day, the MAC-notice item is on the agenda exactly when
        the day is 3 to 4 (calendar) months before the due date, both ends included."""
        day = due + timedelta(days=offset)
        query = AgendaQuery(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
        kinds = {i.kind for i in record_items(_record(revalidation_due=due), query)}
        in_window = due - relativedelta(months=4) <= day <= due - relativedelta(months=3)
        assert ("revalidation.mac_notice" in kinds) is in_window
        assert ("record.reactivate" in kinds) is (day > due)  # EN-11: deactivated on read


class TestReactivationKind:
    @pytest.mark.parametrize(
        "form",
        [Form.CMS_855I, Form.CMS_855B, Form.CMS_855A, Form.CMS_855S, Form.CMS_855O, Form.CMS_20134],
    )
    def test_en_11_reactivation_is_a_kind_of_the_enrolling_forms(self, form: Form) -> None:
        """Every enrolling form is filed for a reactivation; 855R and 588 are not ([default])."""
        assert Kind.REACTIVATION in FORM_KINDS[form]
        assert Kind.REACTIVATION not in FORM_KINDS[Form.CMS_855R]
        assert Kind.REACTIVATION not in FORM_KINDS[Form.CMS_588]

    @pytest.mark.parametrize(
        ("form", "provider_type"),
        [
            (Form.CMS_855I, ProviderType.INDIVIDUAL_PRACTITIONER),
            (Form.CMS_855B, ProviderType.SUPPLIER),
            (Form.CMS_855A, ProviderType.INSTITUTIONAL_PROVIDER),
            (Form.CMS_855S, ProviderType.DMEPOS_SUPPLIER),
        ],
    )
    def test_en_11_a_reactivation_is_signed_and_paid_as_a_revalidation(
        self, form: Form, provider_type: ProviderType
    ) -> None:
        """Signers as for other non-initial kinds; the fee as a revalidation's ([default])."""
        assert signer_slots(form, Kind.REACTIVATION, reassignment=False) == signer_slots(
            form, Kind.REVALIDATION, reassignment=False
        )
        rules = Requirements()
        assert rules.fee_for(form, Kind.REACTIVATION, provider_type, year=2025) == rules.fee_for(
            form, Kind.REVALIDATION, provider_type, year=2025
        )
        assert rules.checklist_for(form, Kind.REACTIVATION, provider_type) == rules.checklist_for(
            form, Kind.REVALIDATION, provider_type
        )


def _approve_ana(
    kit: Kit, kind: Kind = Kind.INITIAL, *, cms_due: date | None = None, eid: str | None = EID
) -> str:
    app = kit.enrollment.create(
        actor=kit.actor("u-ana"),
        profile_id="prof-ana",
        form=Form.CMS_855I,
        kind=kind,
        content=ana_855i(),
    )
    _file(kit, app.id)
    kit.enrollment.start_review(app.id, actor=kit.mac())
    kit.enrollment.approve(
        app.id, actor=kit.mac(), ptan="PT-ANA", revalidation_due=cms_due, enrollment_id=eid
    )
    return app.id


def _file(kit: Kit, app_id: str) -> None:
    kit.send(app_id, actor=kit.actor("u-ana"))
    kit.signatures.sign_electronically(
        app_id,
        actor=kit.actor("u-ana"),
        digest=kit.digest(app_id),
        slot="individual",
        confirmed_email=EMAILS["u-ana"],
        attestations=set(Attestation),
    )


class TestApprovalUpdatesTheRecord:
    def test_en_10_an_approval_creates_the_record_with_its_sources(self, world: Kit) -> None:
        """The MAC's approval with an enrollment ID creates the record: approved, effective
        date (EN-11: the filing date for an 855I), PTAN, CMS's due date, each fact sourced
        "approved application"."""
        app_id = _approve_ana(world, cms_due=DUE)
        (record,) = _records(world)
        assert record.status is RecordStatus.APPROVED
        assert record.status_since == T0.date()
        assert record.effective_date == T0.date()
        assert [p.ptan for p in record.ptans] == ["PT-ANA"]
        assert record.revalidation_due == DUE
        assert record.npi == NPI_ANA
        assert record.name == "Ana Diaz"
        source = record.source_of(Fact.REVALIDATION_DUE)
        assert source is not None
        assert source.source is RecordSource.APPLICATION
        assert app_id in source.reference

    def test_en_10_an_approval_without_an_id_updates_the_npis_only_record(self, world: Kit) -> None:
        """With no enrollment ID given, the NPI's only (imported) record is updated; with
        no record at all, none is invented ([default])."""
        _approve_ana(world, eid=None)
        assert _records(world) == []
        _put(world, _record(revalidation_due=None))
        _approve_ana(world, Kind.REVALIDATION, cms_due=DUE, eid=None)
        (record,) = _records(world)
        assert record.revalidation_due == DUE
        assert record.source_of(Fact.IDENTITY) is None  # the imported identity is kept

    def test_en_7_no_double_listing_of_one_enrollment(self, world: Kit) -> None:
        """An enrollment approved in enrollkit with CMS's date is on the agenda once (the
        record's item), not once more from the application."""
        _approve_ana(world, cms_due=DUE)
        items = [i for i in _agenda(world).for_profile("prof-ana") if i.kind == "revalidation.due"]
        assert [(i.subject, i.due.date()) for i in items] == [(EID, DUE)]

    def test_en_11_a_filed_revalidation_and_a_development_request_reach_the_record(
        self, world: Kit, clock: FixedClock
    ) -> None:
        """Filing a revalidation sets ``revalidation_filed_on`` (no deactivation once the
        date passes); a development request sets ``development_due_on``, answering clears
        it."""
        _put(world, _record())
        app = world.enrollment.create(
            actor=world.actor("u-ana"),
            profile_id="prof-ana",
            form=Form.CMS_855I,
            kind=Kind.REVALIDATION,
            content=ana_855i(),
        )
        _file(world, app.id)
        (record,) = _records(world)
        assert record.revalidation_filed_on == T0.date()
        world.enrollment.start_review(app.id, actor=world.mac())
        world.enrollment.request_development(app.id, actor=world.mac(), reason="License copy")
        (record,) = _records(world)
        assert record.development_due_on == T0.date() + timedelta(days=30)
        assert "record.development" in _of(_agenda(world).for_user("u-ana"))
        clock.set(datetime(2026, 7, 2, tzinfo=UTC))  # past the due date, but filed
        assert record.deactivation_reason(clock.now()) == (
            f"the development request was not answered by {record.development_due_on}"
        )


def _records(kit: Kit) -> list[EnrollmentRecord]:
    with kit.runtime.transaction() as tx:
        return list(
            tx.repo(ENROLLMENT_RECORDS).find(ENROLLMENT_RECORDS.index("npi"), NPI_ANA.value)
        )


class TestReportsFromTheRecord:
    def test_en_8_the_medicare_id_report_reads_imported_records(self, world: Kit) -> None:
        """An imported record with a PTAN is on the Medicare ID report of its profile, with
        its enrollment ID; a stranger's profile has none (EN-8, EN-10)."""
        _put(world, _record(ptans=(LocationPtan("PT-IMP", "Main office"),)))
        (row,) = world.enrollment.medicare_id_report("prof-ana", actor=world.actor("u-ana"))
        assert (row.enrollment_id, row.ptan, row.application_id) == (EID, "PT-IMP", None)
        assert row.npi == NPI_ANA.value
        acme = world.enrollment.medicare_id_report("prof-acme", actor=world.actor("u-ao"))
        assert acme == ()

    def test_en_8_an_approval_and_its_record_are_listed_once(self, world: Kit) -> None:
        """The record an approval wrote replaces the application's row: one row, with
        both the application id and the enrollment ID."""
        app_id = _approve_ana(world, cms_due=DUE)
        (row,) = world.enrollment.medicare_id_report("prof-ana", actor=world.actor("u-ana"))
        assert (row.application_id, row.enrollment_id, row.ptan) == (app_id, EID, "PT-ANA")
        assert row.medicare_id is None or row.medicare_id  # as the MAC gave it

    def test_en_7_the_revalidation_list_reads_records_in_scope(
        self, world: Kit, clock: FixedClock
    ) -> None:
        """The revalidation list: each record of the profiles the actor acts for, with
        CMS's date and status on read; "TBD" last; nothing for a stranger."""
        _put(world, _record())
        listed = world.enrollment.revalidation_list(actor=world.actor("u-cred"))
        assert [(r.enrollment_id, r.due, r.assigned) for r in listed] == [(EID, DUE, True)]
        assert world.enrollment.revalidation_list(actor=world.actor("u-stranger")) == ()
        _put(world, _record(revalidation_due=date(2025, 12, 31)))
        (row,) = world.enrollment.revalidation_list(actor=world.actor("u-ana"))
        assert row.status is RecordStatus.DEACTIVATED  # EN-11, on read
        assert row.days_left == -5

    def test_en_7_without_a_record_the_list_falls_back_to_applications(self, world: Kit) -> None:
        """A profile approved in enrollkit without a record is listed from its application
        (CMS's date, else the estimate), once."""
        app_id = _approve_ana(world, cms_due=DUE, eid=None)
        (row,) = world.enrollment.revalidation_list(actor=world.actor("u-ana"))
        assert (row.application_id, row.enrollment_id, row.due) == (app_id, None, DUE)
