"""Deadlines of an enrollment (Rules EN-4, EN-7), as a policy object of documented defaults.

Calendar arithmetic uses python-dateutil's ``relativedelta``.

**Revalidation** (EN-7 amended). CMS assigns the due date, always the last day
of a month; enrollkit uses the date CMS assigned when one is known (the MAC's
approval of an initial enrollment or a revalidation carries it). Only when
none is known is it *estimated*: 5 years (3 for DMEPOS) after the latest
initial or revalidation approval, at the end of that month. A change of
information never moves it, and a voluntarily terminated enrollment has none.

>>> from datetime import date
>>> from enrollkit.enrollment import Form
>>> DeadlinePolicy().estimated_revalidation_due(date(2024, 2, 29), Form.CMS_855I)
datetime.date(2029, 2, 28)
>>> DeadlinePolicy().estimated_revalidation_due(date(2026, 3, 15), Form.CMS_855S)
datetime.date(2029, 3, 31)

**Reporting windows** (EN-7 amended, 42 CFR 424.516) depend on who reports and
what changed: physicians, non-physician practitioners and their groups report
a change of ownership, an adverse legal action or a practice location within
30 days and anything else within 90; other providers and suppliers report a
change of ownership or control (an AO or DO change included) within 30 days
and anything else within 90; DMEPOS suppliers report every change within 30
days; NPPES data within 30 days:

>>> policy = DeadlinePolicy()
>>> policy.change_report_days(ChangeKind.OFFICIALS, ProviderCategory.INSTITUTIONAL)
30
>>> policy.change_report_days(ChangeKind.OFFICIALS, ProviderCategory.PRACTITIONER)
90
>>> policy.change_report_days(ChangeKind.PRACTICE_LOCATION, ProviderCategory.INSTITUTIONAL)
90
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Final

import attrs
from dateutil.relativedelta import relativedelta

from enrollkit.access import System
from enrollkit.clock import days_left, ensure_utc
from enrollkit.enrollment._forms import Form, ProviderCategory

__all__ = [
    "THIRTY_DAY_CHANGES",
    "ChangeKind",
    "DeadlinePolicy",
    "days_left",
    "month_end",
]


class ChangeKind(Enum):
    """A change to enrollment facts that must be reported (Rules EN-7, EN-14)."""

    OWNERSHIP = "ownership"  #: a change of ownership
    CONTROL = "control"  #: a change of managing control
    OFFICIALS = "officials"  #: an authorized or delegated official added or removed
    ADVERSE_LEGAL_ACTION = "adverse_legal_action"
    PRACTICE_LOCATION = "practice_location"  #: a practice location (address) changed
    LEGAL_NAME = "legal_name"  #: the legal (business) name changed
    STRUCTURE = "structure"  #: the organizational structure changed
    OTHER = "other"

    @property
    def label(self) -> str:
        """Lower-case words: ``"practice location"``."""
        return self.value.replace("_", " ")


#: EN-7 amended (42 CFR 424.516): the changes each category reports within 30 days; every
#: other change of that category has 90 days. DMEPOS suppliers (424.57) report everything
#: within 30 days.
THIRTY_DAY_CHANGES: Final[Mapping[ProviderCategory, frozenset[ChangeKind]]] = MappingProxyType(
    {
        ProviderCategory.PRACTITIONER: frozenset(
            {ChangeKind.OWNERSHIP, ChangeKind.ADVERSE_LEGAL_ACTION, ChangeKind.PRACTICE_LOCATION}
        ),
        ProviderCategory.INSTITUTIONAL: frozenset(
            {ChangeKind.OWNERSHIP, ChangeKind.CONTROL, ChangeKind.OFFICIALS}
        ),
        ProviderCategory.DMEPOS: frozenset(ChangeKind),
    }
)


def month_end(day: date) -> date:
    """The last day of *day*'s month (CMS sets revalidation due dates at month ends, EN-7).

    >>> month_end(date(2028, 2, 3)), month_end(date(2026, 12, 31))
    (datetime.date(2028, 2, 29), datetime.date(2026, 12, 31))
    """
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@attrs.frozen(kw_only=True)
class DeadlinePolicy:
    """Deadlines of Rules EN-4 and EN-7; every number is a field, confirmed by CMS/MAC sources."""

    development_response_days: int = 30  #: EN-4: respond to a development request
    revalidation_years: int = 5  #: EN-7: estimated 5 years after the anchoring approval
    dmepos_revalidation_years: int = 3  #: EN-7: DMEPOS suppliers (855S): 3 years
    urgent_change_days: int = 30  #: EN-7: the 30-day changes of each category
    other_change_days: int = 90  #: EN-7: every other change
    nppes_change_days: int = 30  #: EN-7, EN-14: NPPES data (45 CFR 162.410)

    def development_due(self, requested_at: datetime) -> datetime:
        """When a development response is due (Rule EN-4): 30 days after the request."""
        return ensure_utc(requested_at) + timedelta(days=self.development_response_days)

    def estimated_revalidation_due(self, approved_on: date, form: Form) -> date:
        """The estimate EN-7 allows when CMS assigned no date: 5 years (3 for DMEPOS) after
        the latest initial or revalidation approval, at the end of that month."""
        years = self.dmepos_revalidation_years if form.is_dmepos else self.revalidation_years
        return month_end(approved_on + relativedelta(years=years))

    def change_report_days(
        self, change: ChangeKind, category: ProviderCategory, *, system: System = System.PECOS
    ) -> int:
        """How many days a change may wait before it is reported (Rule EN-7 amended)."""
        if system is System.NPPES:
            return self.nppes_change_days
        if change in THIRTY_DAY_CHANGES[category]:
            return self.urgent_change_days
        return self.other_change_days

    def change_report_due(
        self,
        change: ChangeKind,
        category: ProviderCategory,
        changed_on: date,
        *,
        system: System = System.PECOS,
    ) -> date:
        """The last day to report *change* that happened on *changed_on* (Rule EN-7)."""
        return changed_on + relativedelta(
            days=self.change_report_days(change, category, system=system)
        )
