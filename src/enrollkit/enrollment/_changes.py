"""Reportable changes and their reporting windows (Rule EN-7).

A change to enrollment facts (a new practice location, a change of
ownership, an adverse legal action, NPPES data) must be reported within a
window that :class:`~enrollkit.enrollment.DeadlinePolicy` sets. A
:class:`ReportableChange` records that such a change happened; it is met when
it is marked reported, or when a change-of-information or revalidation
application for the same profile and form is submitted on or after the day
of the change (computed on read).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

import attrs

from enrollkit.clock import ensure_utc
from enrollkit.enrollment._application import Application
from enrollkit.enrollment._deadlines import ChangeKind
from enrollkit.enrollment._forms import Form, Kind
from enrollkit.storage import Collection, Index

__all__ = ["REPORTABLE_CHANGES", "ReportableChange"]

_REPORTING_KINDS: Final = frozenset({Kind.CHANGE_OF_INFORMATION, Kind.REVALIDATION})


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else ensure_utc(value)


@attrs.frozen(kw_only=True)
class ReportableChange:
    """A change that must be reported to Medicare (or NPPES) within a window (EN-7)."""

    id: str
    profile_id: str
    form: Form
    change: ChangeKind
    occurred_on: date
    description: str
    recorded_by: str
    recorded_at: datetime = attrs.field(converter=ensure_utc)
    reported_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    version: int = 0

    def met_by(self, applications: tuple[Application, ...]) -> bool:
        """Whether the change was reported: marked, or a submitted COI/revalidation after it."""
        if self.reported_at is not None:
            return True
        if self.change is ChangeKind.NPPES:
            return False
        return any(
            app.form is self.form
            and app.kind in _REPORTING_KINDS
            and app.submitted_at is not None
            and app.submitted_at.date() >= self.occurred_on
            for app in applications
        )


#: Reportable changes; "open_profile" finds the changes of a profile not yet marked reported.
REPORTABLE_CHANGES: Final = Collection(
    "enrollment_changes",
    ReportableChange,
    indexes=(
        Index[ReportableChange](
            "open_profile", lambda c: [c.profile_id] if c.reported_at is None else []
        ),
    ),
)
