"""Deadlines of an enrollment (Rules EN-4, EN-7), as a policy object of documented defaults.

Calendar arithmetic uses python-dateutil's ``relativedelta`` so "5 years after
approval on 29 February" lands on 28 February.

>>> from datetime import date
>>> from enrollkit.enrollment import Form
>>> DeadlinePolicy().revalidation_due(date(2024, 2, 29), Form.CMS_855I)
datetime.date(2029, 2, 28)
>>> DeadlinePolicy().revalidation_due(date(2024, 2, 29), Form.CMS_855S)
datetime.date(2027, 2, 28)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import Enum

import attrs
from dateutil.relativedelta import relativedelta

from enrollkit.clock import days_left, ensure_utc
from enrollkit.enrollment._forms import Form

__all__ = ["ChangeKind", "DeadlinePolicy", "days_left"]


class ChangeKind(Enum):
    """A change to enrollment facts that must be reported to Medicare (Rule EN-7)."""

    OWNERSHIP = "ownership"
    PRACTICE_LOCATION = "practice_location"
    ADVERSE_LEGAL_ACTION = "adverse_legal_action"
    OTHER = "other"
    NPPES = "nppes"  #: a change of NPPES data (reported to NPPES)


_URGENT = frozenset(
    {ChangeKind.OWNERSHIP, ChangeKind.PRACTICE_LOCATION, ChangeKind.ADVERSE_LEGAL_ACTION}
)


@attrs.frozen(kw_only=True)
class DeadlinePolicy:
    """Deadlines of Rules EN-4 and EN-7; every number is a field, confirmed by CMS/MAC sources."""

    development_response_days: int = 30  #: EN-4: respond to a development request
    revalidation_years: int = 5  #: EN-7: revalidate 5 years after approval
    dmepos_revalidation_years: int = 3  #: EN-7: DMEPOS suppliers (855S): 3 years
    urgent_change_days: int = 30  #: EN-7: ownership, practice location, adverse legal action
    other_change_days: int = 90  #: EN-7: other changes
    dmepos_change_days: int = 30  #: EN-7: DMEPOS: every change
    nppes_change_days: int = 30  #: EN-7: NPPES data changes

    def development_due(self, requested_at: datetime) -> datetime:
        """When a development response is due (Rule EN-4): 30 days after the request."""
        return ensure_utc(requested_at) + timedelta(days=self.development_response_days)

    def revalidation_due(self, approved_on: date, form: Form) -> date:
        """When revalidation is due (Rule EN-7): 5 years after approval, 3 for DMEPOS."""
        years = self.dmepos_revalidation_years if form.is_dmepos else self.revalidation_years
        return approved_on + relativedelta(years=years)

    def change_report_days(self, change: ChangeKind, form: Form) -> int:
        """How many days a change may wait before it is reported (Rule EN-7)."""
        if change is ChangeKind.NPPES:
            return self.nppes_change_days
        if form.is_dmepos:
            return self.dmepos_change_days
        return self.urgent_change_days if change in _URGENT else self.other_change_days

    def change_report_due(self, change: ChangeKind, form: Form, changed_on: date) -> date:
        """The last day to report *change* that happened on *changed_on* (Rule EN-7)."""
        return changed_on + relativedelta(days=self.change_report_days(change, form))
