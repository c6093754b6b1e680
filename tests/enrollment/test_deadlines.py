"""EN-7: revalidation and change-reporting deadlines (pure policy)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from enrollkit.enrollment import ChangeKind, DeadlinePolicy, Form, days_left

POLICY = DeadlinePolicy()


class TestRevalidation:
    @pytest.mark.parametrize("form", [f for f in Form if f is not Form.CMS_855S])
    def test_en_7_revalidation_due_5_years_after_approval(self, form: Form) -> None:
        """Every form but 855S revalidates after 5 years."""
        assert POLICY.revalidation_due(date(2026, 3, 1), form) == date(2031, 3, 1)

    def test_en_7_dmepos_revalidates_after_3_years(self) -> None:
        """855S suppliers revalidate after 3 years."""
        assert POLICY.revalidation_due(date(2026, 3, 1), Form.CMS_855S) == date(2029, 3, 1)

    def test_en_7_leap_day_lands_on_28_february(self) -> None:
        """relativedelta keeps the calendar right."""
        assert POLICY.revalidation_due(date(2028, 2, 29), Form.CMS_855I) == date(2033, 2, 28)


class TestChangeReporting:
    @pytest.mark.parametrize(
        ("change", "form", "days"),
        [
            (ChangeKind.OWNERSHIP, Form.CMS_855B, 30),
            (ChangeKind.PRACTICE_LOCATION, Form.CMS_855I, 30),
            (ChangeKind.ADVERSE_LEGAL_ACTION, Form.CMS_855A, 30),
            (ChangeKind.OTHER, Form.CMS_855B, 90),
            (ChangeKind.OTHER, Form.CMS_855S, 30),
            (ChangeKind.PRACTICE_LOCATION, Form.CMS_855S, 30),
            (ChangeKind.NPPES, Form.CMS_855I, 30),
        ],
    )
    def test_en_7_change_windows(self, change: ChangeKind, form: Form, days: int) -> None:
        """Urgent changes 30 days, others 90, DMEPOS always 30, NPPES 30."""
        assert POLICY.change_report_days(change, form) == days
        assert POLICY.change_report_due(change, form, date(2026, 1, 1)) == date(
            2026, 1, 1
        ) + timedelta(days=days)

    def test_en_4_development_due_30_days_after_request(self) -> None:
        """The development response is due 30 days after the request."""
        at = datetime(2026, 1, 1, 9, tzinfo=UTC)
        assert POLICY.development_due(at) == at + timedelta(days=30)


class TestDaysLeft:
    def test_days_left_counts_calendar_days(self) -> None:
        """0 on the day, negative after, by UTC calendar day."""
        due = datetime(2026, 1, 31, 9, tzinfo=UTC)
        assert days_left(due, datetime(2026, 1, 1, 23, tzinfo=UTC)) == 30
        assert days_left(due, datetime(2026, 1, 31, 10, tzinfo=UTC)) == 0
        assert days_left(date(2026, 1, 30), datetime(2026, 1, 31, tzinfo=UTC)) == -1
