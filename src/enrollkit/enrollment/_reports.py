"""Enrollment reports (Rule EN-8), as pure functions over applications.

* Medicare ID report: PTAN and Medicare ID of every approved enrollment;
* approved enrollment record: what was approved (the frozen revision) and its identifiers;
* pending reassignment applications: reassignments not yet decided;
* reassignment report: approved reassignments with PTAN, effective date and
  revalidation due date;
* EN-10: the enrollment records (imported, or written by approvals) feed the Medicare ID
  report (:func:`record_medicare_ids`), the reassignment report's due dates and the
  revalidation list (:func:`revalidation_list`); an application a record already stems
  from is listed once.

Rows are frozen attrs values: JSON-ready through the one converter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

import attrs

from enrollkit.clock import days_left, ensure_utc
from enrollkit.enrollment._application import Application, Revision
from enrollkit.enrollment._content import Reassignment
from enrollkit.enrollment._deadlines import DeadlinePolicy
from enrollkit.enrollment._forms import Form, Kind
from enrollkit.enrollment._lifecycle import FINAL_STATUSES, ApplicationStatus
from enrollkit.enrollment._record import (
    EnrollmentRecord,
    Fact,
    RecordReassignment,
    RecordStatus,
)
from enrollkit.enrollment._revalidation import revalidation_due
from enrollkit.errors import InvalidTransitionError

__all__ = [
    "ApprovedEnrollmentRecord",
    "MedicareIdRow",
    "PendingReassignmentRow",
    "ReassignmentRow",
    "RevalidationRow",
    "approved_record",
    "medicare_id_report",
    "pending_reassignments",
    "reassignment_report",
    "record_medicare_ids",
    "revalidation_list",
]


@attrs.frozen
class MedicareIdRow:
    """One approved enrollment's Medicare identifiers: from an application approved in
    enrollkit, or (EN-10) from an enrollment record (``application_id`` and ``form`` then
    None unless an approval wrote it; ``enrollment_id`` set)."""

    application_id: str | None
    profile_id: str
    form: Form | None
    npi: str | None
    legal_name: str
    ptan: str | None
    medicare_id: str | None
    effective_date: date | None
    approved_at: datetime = attrs.field(converter=ensure_utc)
    enrollment_id: str | None = None  #: EN-10: the PECOS enrollment ID, when a record has it


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
    """An approved reassignment (EN-8): PTAN, effective date, revalidation due date.

    A row comes from an approved application (``application_id``) or, for a reassignment
    only the enrollment records know (imported from PECOS), from the record (EN-10):
    ``application_id`` is then None and a profile id is None where no profile in
    enrollkit has that enrollment's NPI. ``individual_enrollment_id`` and
    ``receiving_enrollment_id`` name the PECOS enrollments where the records know them.
    """

    application_id: str | None
    individual_profile_id: str | None
    individual_name: str
    receiving_profile_id: str | None
    ptan: str | None
    effective_date: date | None
    revalidation_due: date | None  #: the individual's 855I enrollment's (EN-7), if known
    revalidation_due_assigned: bool = False  #: CMS assigned it (not an estimate)
    individual_enrollment_id: str | None = None
    receiving_enrollment_id: str | None = None


def _name(app: Application) -> str:
    content = app.filed_content
    if content.legal_business_name:
        return content.legal_business_name
    return content.practitioner.full_name if content.practitioner else ""


def _target(app: Application) -> Reassignment | None:
    return app.filed_content.reassignment


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
        content = app.filed_content
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
    record: EnrollmentRecord | None = None,
) -> ApprovedEnrollmentRecord:
    """The approved enrollment record of *app* (EN-8); refused unless it is approved.

    Its revalidation due date is the enrollment's (EN-7): CMS's date on its enrollment
    *record* when it holds one (EN-10: reports read the record, as the agenda does),
    else read from *history* (the profile's applications): the date CMS assigned with the
    latest initial enrollment or revalidation, else its estimate; none once the
    enrollment was voluntarily terminated.
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
    # CMS's date on the record, unless the applications show the enrollment ended.
    posted = record.due if record is not None and due is not None else None
    return ApprovedEnrollmentRecord(
        application_id=app.id,
        profile_id=app.profile_id,
        form=app.form,
        revision=app.current_revision,
        ptan=decision.ptan,
        medicare_id=decision.medicare_id,
        effective_date=decision.effective_date,
        approved_at=decision.decided_at,
        revalidation_due=posted if posted is not None else (due.due if due else None),
        revalidation_due_assigned=posted is not None or (due.assigned if due else False),
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
    record_dues: Mapping[str, date] = {},
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008
    records: Iterable[EnrollmentRecord] = (),
    profile_of: Mapping[str, str] = {},
    on: date | None = None,
) -> tuple[ReassignmentRow, ...]:
    """Approved reassignments with PTAN, effective date and revalidation due date (EN-8).

    A reassignment either party terminated since (an approved reassignment termination,
    EN-12) is left out. The revalidation due date is the individual's 855I enrollment's
    (EN-7), read from
    *individual_enrollments*: None when enrollkit knows no approved 855I initial enrollment
    or revalidation of theirs (a reassignment itself never sets it). EN-10: a due date
    on the individual's enrollment record (*record_dues*, by profile) is CMS's and wins.

    EN-10: *records* are the individuals' enrollment records; their reassignments holding
    *on* that day name the PECOS enrollments of an application's row (matched through
    *profile_of*, enrollment ID to profile id) and add a row of their own for a
    reassignment no approved application gives; one the record shows ended is left out.
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
    dropped: set[tuple[str | None, str | None]] = set()
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
            dropped.add((app.profile_id, target.target_profile_id))
            continue  # EN-12: terminated by either party since
        due = revalidation_due(by_profile.get(app.profile_id, ()), Form.CMS_855I, policy=policy)
        on_record = record_dues.get(app.profile_id)
        rows.append(
            ReassignmentRow(
                application_id=app.id,
                individual_profile_id=app.profile_id,
                individual_name=_name(app),
                receiving_profile_id=target.target_profile_id,
                ptan=decision.ptan,
                effective_date=decision.effective_date or target.effective_date,
                revalidation_due=on_record or (due.due if due else None),
                revalidation_due_assigned=on_record is not None or (due.assigned if due else False),
            )
        )
    rows = _with_record_reassignments(rows, tuple(records), profile_of, on, dropped)
    return tuple(
        sorted(
            rows,
            key=lambda r: (
                r.receiving_profile_id or "",
                r.receiving_enrollment_id or "",
                r.application_id or "",
                r.individual_enrollment_id or "",
            ),
        )
    )


def _with_record_reassignments(
    rows: list[ReassignmentRow],
    records: tuple[EnrollmentRecord, ...],
    profile_of: Mapping[str, str],
    on: date | None,
    terminated: set[tuple[str | None, str | None]],
) -> list[ReassignmentRow]:
    """EN-10: merge what the enrollment records say about reassignments into *rows*; a
    pair of profiles whose reassignment an approved termination ended (EN-12,
    *terminated*) stays out, whatever the record says until the termination's date."""
    if not records or on is None:
        return rows
    held: dict[tuple[str, str], tuple[EnrollmentRecord, RecordReassignment]] = {}
    ended = set(terminated)
    for record in records:
        for link in record.reassignments:
            if link.active_on(on):
                held[(link.individual_enrollment_id, link.receiving_enrollment_id)] = (
                    record,
                    link,
                )
            elif link.since <= on:
                ended.add(
                    (
                        profile_of.get(link.individual_enrollment_id),
                        profile_of.get(link.receiving_enrollment_id),
                    )
                )
    by_profiles = {
        (profile_of.get(i), profile_of.get(r)): (i, r)
        for i, r in held
        if i in profile_of and r in profile_of
    }
    merged = []
    for row in rows:
        pair = (row.individual_profile_id, row.receiving_profile_id)
        if pair in by_profiles:
            individual, receiving = by_profiles.pop(pair)
            held.pop((individual, receiving), None)
            row = attrs.evolve(
                row, individual_enrollment_id=individual, receiving_enrollment_id=receiving
            )
        elif pair in ended:
            continue  # EN-10: the record (PECOS) shows it ended
        merged.append(row)
    for (individual, receiving), (record, link) in held.items():
        if (profile_of.get(individual), profile_of.get(receiving)) in terminated:
            continue
        due = record.due
        merged.append(
            ReassignmentRow(
                application_id=None,
                individual_profile_id=profile_of.get(individual),
                individual_name=record.name,
                receiving_profile_id=profile_of.get(receiving),
                ptan=record.ptans[0].ptan if record.ptans else None,
                effective_date=link.since,
                revalidation_due=due,
                revalidation_due_assigned=due is not None,
                individual_enrollment_id=individual,
                receiving_enrollment_id=receiving,
            )
        )
    return merged


# -- the enrollment record (EN-10) -------------------------------------------------------


def _from_application(record: EnrollmentRecord) -> str | None:
    """The id of the approved application the record's status came from, if any."""
    source = record.source_of(Fact.STATUS)
    prefix = "approved application "
    if source is None or not source.reference.startswith(prefix):
        return None
    return source.reference.removeprefix(prefix)


def record_medicare_ids(
    records: Iterable[EnrollmentRecord],
    rows: Iterable[MedicareIdRow] = (),
    *,
    profile_id: str,
    now: datetime,
) -> tuple[MedicareIdRow, ...]:
    """The Medicare ID report (EN-8) from the records (EN-10) and the *rows* made from
    applications: one row per PTAN of a record in force (not revoked or ended); an
    application's row whose record stems from it is replaced by the record's (no double
    listing), every other application row kept. Oldest approval first."""
    kept = {r.application_id: r for r in rows}
    out: list[MedicareIdRow] = []
    for record in records:
        status = record.status_on(now)
        if status not in (RecordStatus.APPROVED, RecordStatus.DEACTIVATED):
            continue
        origin = _from_application(record)
        app_row = kept.pop(origin, None) if origin is not None else None
        since = record.status_since or record.effective_date
        at = (
            app_row.approved_at
            if app_row
            else ensure_utc(
                datetime.combine(since or now.date(), datetime.min.time(), tzinfo=now.tzinfo)
            )
        )
        for ptan in record.ptans or (None,):
            out.append(
                MedicareIdRow(
                    application_id=app_row.application_id if app_row else None,
                    profile_id=profile_id,
                    form=app_row.form if app_row else None,
                    npi=record.npi.value,
                    legal_name=record.name,
                    ptan=ptan.ptan if ptan else None,
                    medicare_id=app_row.medicare_id if app_row else None,
                    effective_date=record.effective_date,
                    approved_at=at,
                    enrollment_id=record.enrollment_id,
                )
            )
    out.extend(kept.values())
    return tuple(
        sorted(out, key=lambda r: (r.approved_at, r.application_id or "", r.enrollment_id or ""))
    )


@attrs.frozen
class RevalidationRow:
    """One line of the revalidation list (EN-7, EN-10): when an enrollment revalidates."""

    profile_id: str
    npi: str
    name: str
    due: date | None  #: None: CMS says "TBD"
    days_left: int | None
    assigned: bool  #: CMS's date (a record or an approval), not an estimate
    status: RecordStatus | None  #: the record's status on read (EN-11); None: no record
    filed_on: date | None = None  #: a revalidation was filed on
    enrollment_id: str | None = None
    application_id: str | None = None  #: the anchoring application, without a record


def revalidation_list(
    records: Iterable[tuple[str, EnrollmentRecord]],
    applications: Mapping[str, Iterable[Application]],
    *,
    now: datetime,
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008
) -> tuple[RevalidationRow, ...]:
    """Every enrollment's revalidation due date (EN-7), soonest first, "TBD" last: the
    records (EN-10, each with its profile) with their status on read (EN-11), and, for a
    profile whose NPI has no record, the date its approved applications give (CMS's or
    the estimate)."""
    rows: list[RevalidationRow] = []
    with_records: set[str] = set()
    for profile_id, record in records:
        with_records.add(profile_id)
        due = record.due
        rows.append(
            RevalidationRow(
                profile_id=profile_id,
                npi=record.npi.value,
                name=record.name,
                due=due,
                days_left=days_left(due, now) if due else None,
                assigned=due is not None,
                status=record.status_on(now),
                filed_on=record.revalidation_filed_on,
                enrollment_id=record.enrollment_id,
            )
        )
    for profile_id, group in applications.items():
        if profile_id in with_records:
            continue
        apps = tuple(group)
        for form in sorted({a.form for a in apps if a.form.revalidates}, key=lambda f: f.value):
            found = revalidation_due(apps, form, policy=policy)
            if found is None:
                continue
            anchor = next(a for a in apps if a.id == found.anchor_application_id)
            content = anchor.filed_content
            rows.append(
                RevalidationRow(
                    profile_id=profile_id,
                    npi=content.npi.value if content.npi else "",
                    name=_name(anchor),
                    due=found.due,
                    days_left=days_left(found.due, now),
                    assigned=found.assigned,
                    status=None,
                    application_id=anchor.id,
                )
            )
    return tuple(
        sorted(rows, key=lambda r: (r.due is None, r.due or date.max, r.npi, r.enrollment_id or ""))
    )
