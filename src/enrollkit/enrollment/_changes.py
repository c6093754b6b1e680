"""Reportable changes, their reporting windows and both systems (Rules EN-7, EN-14).

A change to enrollment facts (a new practice location, a change of
ownership or control, an AO or DO added or removed, an adverse legal action)
must be reported within the window :class:`~enrollkit.enrollment.DeadlinePolicy`
sets for the provider's category (42 CFR 424.516). A :class:`ReportableChange`
records that such a change happened, in the system it must reach (PECOS, or
NPPES). It is met when it is marked reported, or, computed on read:

* in PECOS, when a change-of-information or revalidation application for the
  same profile and form is submitted on or after the day of the change;
* in NPPES, when the NPPES record shows the new value (the new legal name, the
  new practice address).

EN-14: a change of legal name, practice address or organizational structure
"must be reported to both systems independently": recording it in one system
records its *counterpart* in the other, linked both ways, each with its own
window (NPPES: 30 days).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

import attrs

from enrollkit.access import System
from enrollkit.clock import ensure_utc, ensure_utc_or_none
from enrollkit.enrollment._application import Application
from enrollkit.enrollment._deadlines import ChangeKind, DeadlinePolicy
from enrollkit.enrollment._forms import Form, Kind, ProviderCategory
from enrollkit.enrollment._nppes import NppesRecord, normalize
from enrollkit.storage import Collection, Index

__all__ = ["BOTH_SYSTEMS", "REPORTABLE_CHANGES", "REPORTING_SYSTEMS", "ReportableChange"]

_REPORTING_KINDS: Final = frozenset({Kind.CHANGE_OF_INFORMATION, Kind.REVALIDATION})
#: EN-14: the changes reported to both PECOS and NPPES, each independently.
BOTH_SYSTEMS: Final = frozenset(
    {ChangeKind.LEGAL_NAME, ChangeKind.PRACTICE_LOCATION, ChangeKind.STRUCTURE}
)
#: The systems a change is reported to (EHR holds no enrollment facts).
REPORTING_SYSTEMS: Final = frozenset({System.PECOS, System.NPPES})


def _default_category(instance: ReportableChange) -> ProviderCategory:
    return instance.form.default_category


@attrs.frozen(kw_only=True)
class ReportableChange:
    """A change that must be reported to PECOS or NPPES within its window (EN-7, EN-14).

    ``category`` sets the PECOS window (defaults to the form's, see
    :attr:`Form.default_category`); ``new_value`` is the value as it must read after
    the change (the new legal name, the new address on one line), which is how an
    NPPES to-do sees that NPPES shows it; ``counterpart_id`` links the same change in
    the other system (EN-14).
    """

    id: str
    profile_id: str
    form: Form
    change: ChangeKind
    occurred_on: date
    description: str
    recorded_by: str
    recorded_at: datetime = attrs.field(converter=ensure_utc)
    system: System = System.PECOS
    category: ProviderCategory = attrs.field(
        default=attrs.Factory(_default_category, takes_self=True)
    )
    new_value: str | None = None
    counterpart_id: str | None = None
    reported_at: datetime | None = attrs.field(default=None, converter=ensure_utc_or_none)
    version: int = 0

    @property
    def system_label(self) -> str:
        """Where the change is reported, for people: "Medicare (PECOS)" or "NPPES"."""
        return "NPPES" if self.system is System.NPPES else "Medicare (PECOS)"

    def due(self, policy: DeadlinePolicy) -> date:
        """The last day to report it (EN-7): its system's and category's window."""
        return policy.change_report_due(
            self.change, self.category, self.occurred_on, system=self.system
        )

    def shown_by(self, record: NppesRecord | None) -> bool:
        """Whether the NPPES *record* already shows the new value (EN-14): the new legal
        name, or the new address among its practice addresses. A change with no
        ``new_value`` (or of another kind) is shown only once marked reported."""
        if record is None or not self.new_value:
            return False
        wanted = normalize(self.new_value)
        if self.change is ChangeKind.LEGAL_NAME:
            return wanted == normalize(record.name)
        if self.change is ChangeKind.PRACTICE_LOCATION:
            return any(wanted == normalize(a.one_line()) for a in record.practice_addresses)
        return False

    def met_by(
        self,
        applications: tuple[Application, ...],
        nppes: NppesRecord | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Whether the change was reported: marked, or (PECOS) a change of information or
        revalidation submitted on or after its day whose filing still stands at *now*
        (not withdrawn, denied or rejected: EN-7), or (NPPES) the NPPES record shows the
        new value."""
        if self.reported_at is not None:
            return True
        if self.system is System.NPPES:
            return self.shown_by(nppes)
        return any(
            app.form is self.form
            and app.kind in _REPORTING_KINDS
            and app.submitted_at is not None
            and app.submitted_at.date() >= self.occurred_on
            and app.stands_filed(now)
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
