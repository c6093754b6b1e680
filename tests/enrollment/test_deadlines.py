"""EN-7 (amended): revalidation and change-reporting deadlines (pure policy)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.access import System
from enrollkit.enrollment import (
    THIRTY_DAY_CHANGES,
    Application,
    ApplicationStatus,
    ChangeKind,
    DeadlinePolicy,
    Form,
    Kind,
    MacDecision,
    ProviderCategory,
    days_left,
    month_end,
    revalidation_due,
)
from enrollkit.errors import ValidationError

POLICY = DeadlinePolicy()
START = datetime(2020, 1, 1, tzinfo=UTC)


def approved(
    kind: Kind,
    at: datetime,
    *,
    form: Form = Form.CMS_855I,
    due: date | None = None,
    number: int = 0,
) -> Application:
    """An application of *kind* the MAC approved at *at* (with CMS's due date *due*)."""
    app = Application.start(
        id=f"app-{number}-{kind.value}",
        profile_id="p-1",
        form=form,
        kind=Kind.INITIAL if kind is Kind.REASSIGNMENT else kind,
        created_by="u-1",
        now=at,
    )
    decision = MacDecision(approved=True, decided_at=at, revalidation_due=due)
    return attrs.evolve(app, kind=kind, status=ApplicationStatus.APPROVED, decision=decision)


class TestEstimate:
    @pytest.mark.parametrize("form", [f for f in Form if f is not Form.CMS_855S])
    def test_en_7_estimate_is_5_years_later_at_the_month_end(self, form: Form) -> None:
        """Every form but 855S: 5 years after the approval, on the last day of that month."""
        assert POLICY.estimated_revalidation_due(date(2026, 3, 1), form) == date(2031, 3, 31)

    def test_en_7_dmepos_estimate_is_3_years(self) -> None:
        """855S suppliers revalidate after 3 years."""
        assert POLICY.estimated_revalidation_due(date(2026, 3, 1), Form.CMS_855S) == date(
            2029, 3, 31
        )

    def test_en_7_leap_day_lands_on_the_end_of_february(self) -> None:
        """relativedelta keeps the calendar right; CMS dates are month ends."""
        assert POLICY.estimated_revalidation_due(date(2028, 2, 29), Form.CMS_855I) == date(
            2033, 2, 28
        )

    @given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
    def test_en_7_every_estimate_is_a_month_end(self, day: date) -> None:
        """Whatever the approval day, the estimate is the last day of a month, in the
        month 5 years on."""
        due = POLICY.estimated_revalidation_due(day, Form.CMS_855I)
        assert (due + timedelta(days=1)).day == 1
        assert (due.year, due.month) == (day.year + 5, day.month)
        assert month_end(due) == due


_KINDS = st.sampled_from(
    [Kind.INITIAL, Kind.REVALIDATION, Kind.CHANGE_OF_INFORMATION, Kind.VOLUNTARY_TERMINATION]
)


class TestRevalidationDue:
    def test_en_7_cms_assigned_date_wins(self) -> None:
        """The date CMS assigned with the approval is the due date, not an estimate."""
        app = approved(Kind.INITIAL, START, due=date(2024, 11, 30))
        found = revalidation_due([app], Form.CMS_855I)
        assert found is not None
        assert (found.due, found.assigned) == (date(2024, 11, 30), True)

    def test_en_7_a_change_of_information_never_moves_it(self) -> None:
        """The issue's example: a change approved in year 4 left the date where it was."""
        initial = approved(Kind.INITIAL, START)
        change = approved(Kind.CHANGE_OF_INFORMATION, START.replace(year=2024), number=1)
        found = revalidation_due([initial, change], Form.CMS_855I)
        assert found is not None
        assert found.due == date(2025, 1, 31)
        assert found.anchor_application_id == initial.id

    def test_en_7_a_terminated_enrollment_has_none(self) -> None:
        """A voluntary termination after the anchor ends the revalidation reminders."""
        initial = approved(Kind.INITIAL, START)
        ended = approved(Kind.VOLUNTARY_TERMINATION, START.replace(year=2022), number=1)
        assert revalidation_due([initial, ended], Form.CMS_855I) is None

    def test_en_7_a_new_initial_after_termination_anchors_again(self) -> None:
        """Enrolling again after terminating starts a new cycle."""
        apps = [
            approved(Kind.INITIAL, START),
            approved(Kind.VOLUNTARY_TERMINATION, START.replace(year=2021), number=1),
            approved(Kind.INITIAL, START.replace(year=2022), number=2),
        ]
        found = revalidation_due(apps, Form.CMS_855I)
        assert found is not None
        assert found.due == date(2027, 1, 31)

    def test_en_7_only_anchors_carry_a_cms_date(self) -> None:
        """A change of information cannot be approved with a revalidation due date."""
        change = approved(Kind.CHANGE_OF_INFORMATION, START)
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(change, status=ApplicationStatus.IN_REVIEW, decision=None).approve(
                ptan=None,
                medicare_id=None,
                effective_date=None,
                now=START,
                revalidation_due=date(2025, 1, 31),
            )
        assert caught.value.code == "application.revalidation_due_kind"

    def test_en_7_cms_dates_are_month_ends(self) -> None:
        """A due date that is not the last day of a month is refused."""
        with pytest.raises(ValidationError) as caught:
            MacDecision(approved=True, decided_at=START, revalidation_due=date(2025, 1, 15))
        assert caught.value.code == "application.revalidation_due_month_end"

    @given(st.lists(st.tuples(_KINDS, st.integers(0, 3000), st.booleans()), max_size=8))
    def test_en_7_due_date_follows_the_latest_anchor_only(
        self, history: list[tuple[Kind, int, bool]]
    ) -> None:
        """For any approval history: the due date is the latest initial/revalidation's
        (CMS's date if it carried one, else the estimate), unless a termination came after
        it; changes of information never matter."""
        apps = []
        for number, (kind, offset, assigned) in enumerate(history):
            at = START + timedelta(days=offset, minutes=number)
            due = month_end(at.date() + timedelta(days=1000)) if assigned else None
            carries = due if kind in (Kind.INITIAL, Kind.REVALIDATION) else None
            apps.append(approved(kind, at, due=carries, number=number))
        found = revalidation_due(apps, Form.CMS_855I)
        anchors = [a for a in apps if a.kind in (Kind.INITIAL, Kind.REVALIDATION)]
        if not anchors:
            assert found is None
            return
        anchor = max(anchors, key=lambda a: a.decision.decided_at if a.decision else START)
        assert anchor.decision is not None
        ended = any(
            a.kind is Kind.VOLUNTARY_TERMINATION
            and a.decision is not None
            and a.decision.decided_at >= anchor.decision.decided_at
            for a in apps
        )
        if ended:
            assert found is None
            return
        assert found is not None
        expected = anchor.decision.revalidation_due or POLICY.estimated_revalidation_due(
            anchor.decision.decided_at.date(), Form.CMS_855I
        )
        assert found.due == expected
        without_changes = [a for a in apps if a.kind is not Kind.CHANGE_OF_INFORMATION]
        assert revalidation_due(without_changes, Form.CMS_855I) == found


#: EN-7 amended, as the issue and 42 CFR 424.516 state them, written out by hand.
EXPECTED_THIRTY = {
    ProviderCategory.PRACTITIONER: {"ownership", "adverse_legal_action", "practice_location"},
    ProviderCategory.INSTITUTIONAL: {"ownership", "control", "officials"},
    ProviderCategory.DMEPOS: {kind.value for kind in ChangeKind},
}


class TestChangeReporting:
    @pytest.mark.parametrize(
        ("change", "category", "days"),
        [
            (ChangeKind.PRACTICE_LOCATION, ProviderCategory.INSTITUTIONAL, 90),  # the 855A
            (ChangeKind.OFFICIALS, ProviderCategory.INSTITUTIONAL, 30),  # an AO or DO change
            (ChangeKind.CONTROL, ProviderCategory.INSTITUTIONAL, 30),
            (ChangeKind.ADVERSE_LEGAL_ACTION, ProviderCategory.INSTITUTIONAL, 90),
            (ChangeKind.PRACTICE_LOCATION, ProviderCategory.PRACTITIONER, 30),
            (ChangeKind.OFFICIALS, ProviderCategory.PRACTITIONER, 90),
            (ChangeKind.OTHER, ProviderCategory.DMEPOS, 30),
        ],
    )
    def test_en_7_change_windows(
        self, change: ChangeKind, category: ProviderCategory, days: int
    ) -> None:
        """The windows of 42 CFR 424.516, per provider kind."""
        assert POLICY.change_report_days(change, category) == days

    @given(
        st.sampled_from(ChangeKind),
        st.sampled_from(ProviderCategory),
        st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    )
    def test_en_7_every_category_and_change_kind(
        self, change: ChangeKind, category: ProviderCategory, day: date
    ) -> None:
        """Every provider kind x change kind: 30 days for its listed changes, 90 otherwise;
        NPPES always 30 (EN-14)."""
        days = 30 if change.value in EXPECTED_THIRTY[category] else 90
        assert POLICY.change_report_days(change, category) == days
        assert POLICY.change_report_due(change, category, day) == day + timedelta(days=days)
        assert POLICY.change_report_due(change, category, day, system=System.NPPES) == (
            day + timedelta(days=30)
        )

    def test_en_7_table_covers_every_category(self) -> None:
        """No provider kind is missing from the table."""
        assert set(THIRTY_DAY_CHANGES) == set(ProviderCategory)

    @pytest.mark.parametrize("form", list(Form))
    def test_en_7_form_default_category(self, form: Form) -> None:
        """[default] A form's category: 855A and 20134 (EN-7: other suppliers) institutional,
        855S DMEPOS, others practitioner."""
        expected = {
            Form.CMS_855A: ProviderCategory.INSTITUTIONAL,
            Form.CMS_20134: ProviderCategory.INSTITUTIONAL,
            Form.CMS_855S: ProviderCategory.DMEPOS,
        }.get(form, ProviderCategory.PRACTITIONER)
        assert form.default_category is expected

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
