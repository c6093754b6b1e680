"""EN-10, EN-11: the enrollment record, its identity, due date and status on read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.enrollment import (
    ENROLLMENT_RECORDS,
    EnrollmentRecord,
    Form,
    RecordStatus,
    billing_window,
    check_enrollment_id,
    month_end,
)
from enrollkit.errors import ConflictError, ValidationError
from enrollkit.npi import NPI
from enrollkit.serialization import from_data, to_data
from enrollkit.testing.strategies import enrollment_records

EID = "I20031110000070"


def _record(**changes: Any) -> EnrollmentRecord:
    base = EnrollmentRecord(
        id=EID,
        enrollment_id=EID,
        npi=NPI("1234567893"),
        state="MD",
        provider_type="Practitioner - Internal Medicine",
        revalidation_due=date(2026, 10, 31),
    )
    return attrs.evolve(base, **changes)


class TestRecordIdentity:
    @pytest.mark.parametrize("text", ["I2003111000007", "i20031110000070", "X2003111000007A", ""])
    def test_en_10_an_enrollment_id_is_a_letter_and_14_digits(self, text: str) -> None:
        """Anything but a capital letter and 14 digits is refused with a stable code."""
        with pytest.raises(ValidationError) as info:
            check_enrollment_id(text)
        assert info.value.code == "record.enrollment_id"

    def test_en_10_the_enrollment_id_is_unique_in_storage(self) -> None:
        """Two records cannot hold one enrollment ID, whatever their ids."""
        storage = MemoryStorage()
        with storage.unit_of_work() as uow:
            repo = uow.repository(ENROLLMENT_RECORDS)
            repo.add(_record())
            with pytest.raises(ConflictError) as info:
                repo.add(_record(id="other"))
        assert info.value.code == "storage.unique"

    def test_en_7_a_due_date_is_a_month_end(self) -> None:
        """CMS sets due dates at month ends; a record refuses any other day."""
        with pytest.raises(ValidationError) as info:
            _record(revalidation_due=date(2026, 10, 30))
        assert info.value.code == "record.due_not_month_end"

    @given(enrollment_records())
    def test_en_10_records_round_trip_through_the_one_converter(
        self, record: EnrollmentRecord
    ) -> None:
        """Every record survives to_data and back unchanged (ST-4)."""
        assert from_data(to_data(record), EnrollmentRecord) == record


class TestDueDate:
    def test_en_7_the_adjusted_due_date_wins(self) -> None:
        """CMS's adjusted due date replaces the posted one."""
        assert _record(adjusted_due=date(2027, 1, 31)).due == date(2027, 1, 31)

    def test_en_7_tbd_has_no_due_date(self) -> None:
        """A "TBD" date is kept as no date."""
        assert _record(revalidation_due=None).due is None

    @pytest.mark.parametrize(
        "status",
        [RecordStatus.REVOKED, RecordStatus.OPTED_OUT, RecordStatus.VOLUNTARILY_TERMINATED],
    )
    def test_en_7_an_ended_enrollment_has_no_due_date(self, status: RecordStatus) -> None:
        """A terminated, revoked or opted-out enrollment does not revalidate."""
        assert _record(status=status).due is None


class TestDeactivationOnRead:
    @given(st.integers(-400, 400))
    def test_en_11_a_missed_revalidation_deactivates_on_read(self, offset: int) -> None:
        """After the due date with nothing filed the record reads deactivated; on or
        before it, approved (no sweep ran)."""
        record = _record()
        now = datetime(2026, 10, 31, 23, 59, tzinfo=UTC) + timedelta(days=offset)
        expected = RecordStatus.DEACTIVATED if offset > 0 else RecordStatus.APPROVED
        assert record.status_on(now) is expected
        assert (record.deactivation_reason(now) is not None) == (offset > 0)

    def test_en_11_a_filed_revalidation_keeps_billing(self) -> None:
        """A revalidation filed before the due date keeps the record approved."""
        record = _record(revalidation_filed_on=date(2026, 9, 1))
        assert record.status_on(datetime(2027, 1, 1, tzinfo=UTC)) is RecordStatus.APPROVED

    def test_en_11_an_unanswered_development_request_deactivates(self) -> None:
        """Past its response date, an unanswered development request deactivates."""
        record = _record(revalidation_due=None, development_due_on=date(2026, 5, 1))
        assert record.status_on(datetime(2026, 5, 1, 12, tzinfo=UTC)) is RecordStatus.APPROVED
        assert record.status_on(datetime(2026, 5, 2, tzinfo=UTC)) is RecordStatus.DEACTIVATED

    @given(st.sampled_from(sorted(RecordStatus, key=lambda s: s.value)), st.dates())
    def test_en_11_only_an_approved_record_is_deactivated_on_read(
        self, status: RecordStatus, day: date
    ) -> None:
        """A record already deactivated, revoked, opted out or terminated keeps its status."""
        record = _record(status=status, revalidation_due=month_end(date(2020, 1, 1)))
        now = datetime(day.year, day.month, day.day, tzinfo=UTC)
        read = record.status_on(now)
        if status is not RecordStatus.APPROVED:
            assert read is status
        else:
            assert read in (RecordStatus.APPROVED, RecordStatus.DEACTIVATED)


class TestEffectiveDate:
    @given(st.dates(date(2000, 1, 1), date(2040, 1, 1)), st.integers(-200, 200), st.booleans())
    def test_en_11_effective_from_the_later_date_billing_30_or_90_days_back(
        self, filed: date, offset: int, disaster: bool
    ) -> None:
        """Effective date: the later of filing and first service; billing starts 30 days
        before it, 90 after a declared disaster (424.520(d), 424.521)."""
        served = filed + timedelta(days=offset)
        window = billing_window(
            Form.CMS_855I, filed_on=filed, first_served_on=served, declared_disaster=disaster
        )
        assert window.effective_date == max(filed, served)
        assert window.effective_date - window.bills_from == timedelta(days=90 if disaster else 30)

    @pytest.mark.parametrize("form", [Form.CMS_855A, Form.CMS_855S, Form.CMS_855R])
    def test_en_11_only_855i_and_855b_get_this_effective_date(self, form: Form) -> None:
        """Other forms are refused with a stable code."""
        with pytest.raises(ValidationError) as info:
            billing_window(form, filed_on=date(2026, 1, 1), first_served_on=date(2026, 1, 1))
        assert info.value.code == "record.effective_form"
