"""When an enrollment must revalidate (Rule EN-7 amended), from its applications.

One function answers it for the agenda, the approved enrollment record and
the reassignment report, so they never disagree:

* the anchor is the latest *approved* initial enrollment or revalidation of
  the form (a change of information never moves the date);
* the due date is the one CMS assigned with that approval, else the estimate
  (5 years, 3 for DMEPOS, after the anchor, at the end of that month);
* an enrollment voluntarily terminated after its anchor has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import attrs

from enrollkit.enrollment._application import (
    REVALIDATION_ANCHORS,
    TERMINATING_KINDS,
    Application,
)
from enrollkit.enrollment._deadlines import DeadlinePolicy
from enrollkit.enrollment._forms import Form
from enrollkit.enrollment._lifecycle import ApplicationStatus

__all__ = ["RevalidationDue", "revalidation_due"]


@attrs.frozen
class RevalidationDue:
    """An enrollment's revalidation due date and where it comes from (EN-7)."""

    form: Form
    due: date
    assigned: bool  #: CMS assigned it; otherwise enrollkit estimated it
    anchor_application_id: str  #: the initial enrollment or revalidation it follows


def _approved(app: Application) -> bool:
    return (
        app.status is ApplicationStatus.APPROVED
        and app.decision is not None
        and app.decision.approved
    )


def revalidation_due(
    applications: Iterable[Application],
    form: Form,
    *,
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008 - a frozen value
) -> RevalidationDue | None:
    """The revalidation due date of the *form* enrollment among *applications* (EN-7), or
    None when there is no approved initial enrollment or revalidation, or the enrollment
    was voluntarily terminated after it."""
    anchor: Application | None = None
    terminated_at = None
    for app in applications:
        if app.form is not form or not _approved(app):
            continue
        assert app.decision is not None
        at = app.decision.decided_at
        if app.kind in REVALIDATION_ANCHORS:
            if anchor is None or (anchor.decision is not None and anchor.decision.decided_at < at):
                anchor = app
        elif app.kind in TERMINATING_KINDS and (terminated_at is None or terminated_at < at):
            terminated_at = at
    if anchor is None or anchor.decision is None:
        return None
    if terminated_at is not None and terminated_at >= anchor.decision.decided_at:
        return None
    assigned = anchor.decision.revalidation_due
    if assigned is not None:
        return RevalidationDue(form, assigned, True, anchor.id)
    estimated = policy.estimated_revalidation_due(anchor.decision.decided_at.date(), form)
    return RevalidationDue(form, estimated, False, anchor.id)
