"""Enrollment reports (Rule EN-8), as pure functions over applications.

* Medicare ID report: PTAN and Medicare ID of every approved enrollment;
* approved enrollment record: what was approved (the frozen revision) and its identifiers;
* pending reassignment applications: reassignments not yet decided;
* reassignment report: approved reassignments with PTAN, effective date and
  revalidation due date.

Rows are frozen attrs values: JSON-ready through the one converter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import attrs

from enrollkit.clock import ensure_utc
from enrollkit.enrollment._application import Application, Revision
from enrollkit.enrollment._content import Reassignment
from enrollkit.enrollment._deadlines import DeadlinePolicy
from enrollkit.enrollment._forms import Form, Kind
from enrollkit.enrollment._lifecycle import FINAL_STATUSES, ApplicationStatus
from enrollkit.enrollment._revalidation import revalidation_due
from enrollkit.errors import InvalidTransitionError

__all__ = [
    "ApprovedEnrollmentRecord",
    "MedicareIdRow",
    "PendingReassignmentRow",
    "ReassignmentRow",
    "approved_record",
    "medicare_id_report",
    "pending_reassignments",
    "reassignment_report",
]


@attrs.frozen
class MedicareIdRow:
    """One approved enrollment's Medicare identifiers."""

    application_id: str
    profile_id: str
    form: Form
    npi: str | None
    legal_name: str
    ptan: str | None
    medicare_id: str | None
    effective_date: date | None
    approved_at: datetime = attrs.field(converter=ensure_utc)


@attrs.frozen
class ApprovedEnrollmentRecord:
    """The approved enrollment: the revision the MAC approved and its identifiers."""

    application_id: str
    profile_id: str
    form: Form
    revision: Revision
    ptan: str | None
    medicare_id: str | None
    effective_date: date | None
    approved_at: datetime = attrs.field(converter=ensure_utc)
    revalidation_due: date | None  #: EN-7: CMS's date, else the estimate; None if terminated
    revalidation_due_assigned: bool = False  #: CMS assigned it (not an estimate)


@attrs.frozen
class PendingReassignmentRow:
    """A reassignment application not yet decided."""

    application_id: str
    individual_profile_id: str
    receiving_profile_id: str | None
    form: Form
    status: ApplicationStatus
    submitted_at: datetime | None
    effective_date: date | None


@attrs.frozen
class ReassignmentRow:
    """An approved reassignment (EN-8): PTAN, effective date, revalidation due date."""

    application_id: str
    individual_profile_id: str
    individual_name: str
    receiving_profile_id: str
    ptan: str | None
    effective_date: date | None
    revalidation_due: date | None  #: the individual's 855I enrollment's (EN-7), if known
    revalidation_due_assigned: bool = False  #: CMS assigned it (not an estimate)


def _name(app: Application) -> str:
    content = (app.current_revision.content if app.current_revision else None) or app.content
    if content.legal_business_name:
        return content.legal_business_name
    return content.practitioner.full_name if content.practitioner else ""


def _target(app: Application) -> Reassignment | None:
    return (app.current_revision.content if app.current_revision else app.content).reassignment


def _approved(app: Application) -> bool:
    return app.status is ApplicationStatus.APPROVED and app.decision is not None


def medicare_id_report(applications: Iterable[Application]) -> tuple[MedicareIdRow, ...]:
    """PTAN and Medicare ID of every approved application, oldest approval first (EN-8)."""
    rows = []
    for app in applications:
        if not _approved(app):
            continue
        decision = app.decision
        assert decision is not None
        content = app.current_revision.content if app.current_revision else app.content
        rows.append(
            MedicareIdRow(
                application_id=app.id,
                profile_id=app.profile_id,
                form=app.form,
                npi=str(content.npi) if content.npi else None,
                legal_name=_name(app),
                ptan=decision.ptan,
                medicare_id=decision.medicare_id,
                effective_date=decision.effective_date,
                approved_at=decision.decided_at,
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.approved_at, r.application_id)))


def approved_record(
    app: Application,
    *,
    history: Iterable[Application] = (),
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008
) -> ApprovedEnrollmentRecord:
    """The approved enrollment record of *app* (EN-8); refused unless it is approved.

    Its revalidation due date is the enrollment's (EN-7), read from *history* (the
    profile's applications): the date CMS assigned with the latest initial enrollment or
    revalidation, else its estimate; none once the enrollment was voluntarily terminated.
    """
    if not _approved(app) or app.current_revision is None:
        raise InvalidTransitionError(
            "report.not_approved",
            f"Application {app.id} is {app.status.label}; only an approved application has "
            "an approved enrollment record.",
            application_id=app.id,
        )
    decision = app.decision
    assert decision is not None
    due = (
        revalidation_due((app, *history), app.form, policy=policy) if app.form.revalidates else None
    )
    return ApprovedEnrollmentRecord(
        application_id=app.id,
        profile_id=app.profile_id,
        form=app.form,
        revision=app.current_revision,
        ptan=decision.ptan,
        medicare_id=decision.medicare_id,
        effective_date=decision.effective_date,
        approved_at=decision.decided_at,
        revalidation_due=due.due if due else None,
        revalidation_due_assigned=due.assigned if due else False,
    )


def pending_reassignments(
    applications: Iterable[Application], *, now: datetime
) -> tuple[PendingReassignmentRow, ...]:
    """Reassignment applications neither decided nor ended, oldest first (EN-8)."""
    rows = []
    for app in applications:
        status = app.status_at(now)
        if not app.reassigns or status in FINAL_STATUSES:
            continue
        target = app.content.reassignment
        rows.append(
            PendingReassignmentRow(
                application_id=app.id,
                individual_profile_id=app.profile_id,
                receiving_profile_id=target.target_profile_id if target else None,
                form=app.form,
                status=status,
                submitted_at=app.submitted_at,
                effective_date=target.effective_date if target else None,
            )
        )
    return tuple(sorted(rows, key=lambda r: r.application_id))


def reassignment_report(
    applications: Iterable[Application],
    *,
    individual_enrollments: Iterable[Application] = (),
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008
) -> tuple[ReassignmentRow, ...]:
    """Approved reassignments with PTAN, effective date and revalidation due date (EN-8).

    A reassignment either party terminated since (an approved reassignment termination,
    EN-12) is left out. The revalidation due date is the individual's 855I enrollment's
    (EN-7), read from
    *individual_enrollments*: None when enrollkit knows no approved 855I initial enrollment
    or revalidation of theirs (a reassignment itself never sets it).
    """
    by_profile: dict[str, list[Application]] = {}
    for app in individual_enrollments:
        by_profile.setdefault(app.profile_id, []).append(app)
    applications = tuple(applications)
    ended: dict[tuple[str, str], datetime] = {}  # EN-12: (individual, organization) -> when
    for app in applications:
        target = _target(app)
        if (
            app.kind is Kind.REASSIGNMENT_TERMINATION
            and _approved(app)
            and target is not None
            and app.decision is not None
        ):
            key = (app.profile_id, target.target_profile_id)
            ended[key] = max(ended.get(key, app.decision.decided_at), app.decision.decided_at)
    rows = []
    for app in applications:
        target = _target(app)
        if not (
            _approved(app)
            and app.reassigns
            and target is not None
            and app.kind is not Kind.REASSIGNMENT_TERMINATION
        ):
            continue
        decision = app.decision
        assert decision is not None
        terminated = ended.get((app.profile_id, target.target_profile_id))
        if terminated is not None and terminated >= decision.decided_at:
            continue  # EN-12: terminated by either party since
        due = revalidation_due(by_profile.get(app.profile_id, ()), Form.CMS_855I, policy=policy)
        rows.append(
            ReassignmentRow(
                application_id=app.id,
                individual_profile_id=app.profile_id,
                individual_name=_name(app),
                receiving_profile_id=target.target_profile_id,
                ptan=decision.ptan,
                effective_date=decision.effective_date or target.effective_date,
                revalidation_due=due.due if due else None,
                revalidation_due_assigned=due.assigned if due else False,
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.receiving_profile_id, r.application_id)))
