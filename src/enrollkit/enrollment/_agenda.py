"""One agenda of everything due, for a user or a provider profile (Rule EN-9).

An agenda is the sorted union of :class:`AgendaItem` values produced by
*agenda sources*: small functions ``(tx, query) -> items`` reading through
indexes. Each package contributes its own sources (signatures adds the
signatures awaited; identity can add password expiry through
:func:`password_expiry_source`), so the agenda grows without this module
knowing every package. Every date comes from one injected clock; days left
are whole UTC calendar days (0 on the day).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Final, Protocol

import attrs
from dateutil.relativedelta import relativedelta

from enrollkit.access import (
    ASSOCIATIONS,
    CONNECTIONS,
    INVITATIONS,
    PROFILES,
    Connection,
    ConnectionState,
    Employer,
    InvitationState,
    Role,
    System,
    employer_of,
    scope_of,
)
from enrollkit.boundary import Limit, boundary
from enrollkit.clock import ensure_utc
from enrollkit.enrollment._application import APPLICATIONS, Application
from enrollkit.enrollment._changes import REPORTABLE_CHANGES
from enrollkit.enrollment._deadlines import DeadlinePolicy, days_left
from enrollkit.enrollment._forms import Form, Kind
from enrollkit.enrollment._lifecycle import ApplicationStatus
from enrollkit.enrollment._nppes import NppesDirectory
from enrollkit.enrollment._record import (
    ENROLLMENT_RECORDS,
    EnrollmentRecord,
    RecordStatus,
    records_of_npi,
)
from enrollkit.enrollment._revalidation import revalidation_due
from enrollkit.runtime import Runtime, Transaction

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "MAC_NOTICE_MONTHS",
    "Agenda",
    "AgendaItem",
    "AgendaQuery",
    "AgendaSource",
    "build_agenda",
    "change_report_source",
    "connection_source",
    "development_source",
    "enrollment_agenda_sources",
    "invitation_source",
    "mac_notice_window",
    "password_expiry_source",
    "profiles_in_scope",
    "record_items",
    "record_source",
    "records_in_scope",
    "revalidation_source",
]


#: An account or profile id (ER-1).
Id = Annotated[str, Limit(chars=500)]

#: EN-9 (amended) [default]: how far ahead the agenda looks: 7 months (215 days), so a
#: revalidation CMS posts up to 7 months ahead (EN-7) is on it as soon as it is known.
DEFAULT_HORIZON_DAYS: Final = 215
#: The agenda's horizon in days, as a boundary annotation (ER-1).
HorizonDays = Annotated[int, Limit(low=0, high=3660)]


@attrs.frozen
class AgendaQuery:
    """Whose agenda (a user's or a profile's), as of when, and how far ahead."""

    now: datetime = attrs.field(converter=ensure_utc)
    user_id: str | None = None
    profile_id: str | None = None
    horizon_days: int = DEFAULT_HORIZON_DAYS


@attrs.frozen
class AgendaItem:
    """Something due: what (a stable ``kind``), when, days left, about which object."""

    kind: str  #: e.g. ``"development.response"``, ``"signature.awaited"``
    due: datetime = attrs.field(converter=ensure_utc)
    days_left: int
    title: str  #: a sentence a person can act on
    subject: str  #: the id of the object it is about
    profile_id: str | None = None
    rule: str = "EN-9"


class AgendaSource(Protocol):
    """Contributes items to an agenda, reading only through indexes."""

    def __call__(self, tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
        """The items this source knows for *query*."""
        ...


def _item(
    kind: str,
    due: datetime,
    query: AgendaQuery,
    title: str,
    subject: str,
    profile: str | None,
    rule: str,
) -> AgendaItem:
    return AgendaItem(kind, due, days_left(due, query.now), title, subject, profile, rule)


def _midnight(day: object) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)  # type: ignore[arg-type]


def build_agenda(
    tx: Transaction, query: AgendaQuery, sources: Sequence[AgendaSource]
) -> tuple[AgendaItem, ...]:
    """Every item of every source due within the horizon, sorted by due date (EN-9)."""
    horizon = query.now + timedelta(days=query.horizon_days)
    items: dict[tuple[str, str, datetime], AgendaItem] = {}
    for source in sources:
        for item in source(tx, query):
            # The first source to name an item wins (a signer's "Sign ..." over "Awaiting ...").
            if item.due <= horizon:
                items.setdefault((item.kind, item.subject, item.due), item)
    return tuple(sorted(items.values(), key=lambda i: (i.due, i.kind, i.subject)))


# -- scope -------------------------------------------------------------------------------


def profiles_in_scope(tx: Transaction, query: AgendaQuery) -> tuple[str, ...]:
    """The profiles an agenda covers: the one asked for, or every profile the user acts for
    (own Type 1 profile, profiles of the organizations or individual providers the user is
    associated with, :func:`~enrollkit.access.scope_of`, and profiles the user's surrogate
    organizations are connected to for PECOS, CO-7)."""
    if query.profile_id is not None:
        return (query.profile_id,)
    if query.user_id is None:
        return ()
    scope = scope_of(tx, query.user_id)
    found: dict[str, None] = dict.fromkeys(scope.profile_ids)
    for organization in scope.organization_ids:
        for connection in tx.repo(CONNECTIONS).find(CONNECTIONS.index("surrogate"), organization):
            if connection.covers(System.PECOS, query.now):
                found[connection.profile_id] = None
    for app in tx.repo(APPLICATIONS).find(APPLICATIONS.index("preparer"), query.user_id):
        found[app.profile_id] = None
    return tuple(found)


def _applications(tx: Transaction, profile_id: str) -> tuple[Application, ...]:
    return tuple(tx.repo(APPLICATIONS).find(APPLICATIONS.index("profile"), profile_id))


# -- enrollment sources ------------------------------------------------------------------


def development_source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
    """Open development responses, due 30 days after the request (EN-4); dropped when
    submitted or when the deadline passed (the application then reads rejected)."""
    for profile_id in profiles_in_scope(tx, query):
        for app in _applications(tx, profile_id):
            due = app.development_due()
            if due is None or app.status_at(query.now) is ApplicationStatus.REJECTED:
                continue
            yield _item(
                "development.response",
                due,
                query,
                f"Respond to the MAC's development request on CMS-{app.form.value} "
                f"application {app.id} by {due.date().isoformat()}.",
                app.id,
                profile_id,
                "EN-4",
            )


_POLICY: Final = DeadlinePolicy()


def revalidation_source(policy: DeadlinePolicy = _POLICY) -> AgendaSource:
    """Revalidations (EN-7 amended): the date CMS assigned with the latest initial or
    revalidation approval, else its estimate; none after a voluntary termination; dropped
    once a revalidation of the same form is submitted after that approval."""

    def source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
        for profile_id in profiles_in_scope(tx, query):
            if any(r.due is not None for r in _profile_records(tx, profile_id)):
                continue  # EN-10: CMS's date on the record wins (record_source); no estimate
            apps = _applications(tx, profile_id)
            for form in sorted({a.form for a in apps if a.form.revalidates}, key=_form_order):
                due = revalidation_due(apps, form, policy=policy)
                if due is None:
                    continue
                anchor = next(a for a in apps if a.id == due.anchor_application_id)
                assert anchor.decision is not None
                if any(
                    a.form is form
                    and a.kind is Kind.REVALIDATION
                    and a.submitted_at is not None
                    and a.submitted_at > anchor.decision.decided_at
                    and a.stands_filed(query.now)
                    for a in apps
                ):
                    continue
                at = _midnight(due.due)
                how = "" if due.assigned else " (estimated; CMS has not posted a date)"
                yield _item(
                    "revalidation.due",
                    at,
                    query,
                    f"Revalidate the CMS-{form.value} enrollment by {due.due.isoformat()}{how}.",
                    anchor.id,
                    profile_id,
                    "EN-7",
                )

    return source


def _form_order(form: Form) -> str:
    return form.value


# -- the enrollment record (EN-10, EN-11) ------------------------------------------------

#: EN-7 [default]: a MAC sends the revalidation notice 3 to 4 months before the due date;
#: the agenda shows "your MAC should send the notice" from 4 months before to 3 months
#: before, both days included.
MAC_NOTICE_MONTHS: Final = (4, 3)


def mac_notice_window(due: date) -> tuple[date, date]:
    """The first and last day the MAC's revalidation notice is expected for *due* (EN-7):
    4 to 3 months before it, calendar months (python-dateutil).

    >>> mac_notice_window(date(2027, 1, 31))
    (datetime.date(2026, 9, 30), datetime.date(2026, 10, 31))
    """
    first, last = MAC_NOTICE_MONTHS
    return due - relativedelta(months=first), due - relativedelta(months=last)


def _profile_records(tx: Transaction, profile_id: str) -> tuple[EnrollmentRecord, ...]:
    profile = tx.repo(PROFILES).get(profile_id)
    if profile is None:
        return ()
    return records_of_npi(tx.repo(ENROLLMENT_RECORDS), profile.npi.value)


def records_in_scope(
    tx: Transaction, query: AgendaQuery
) -> tuple[tuple[str, EnrollmentRecord], ...]:
    """The enrollment records an agenda covers (EN-10), each with its profile: the records
    whose NPI is the NPI of a profile in scope (:func:`profiles_in_scope`: the access
    decision), each once."""
    seen: set[str] = set()
    found: list[tuple[str, EnrollmentRecord]] = []
    for profile_id in profiles_in_scope(tx, query):
        for record in _profile_records(tx, profile_id):
            if record.enrollment_id not in seen:
                seen.add(record.enrollment_id)
                found.append((profile_id, record))
    return tuple(found)


def _record_label(record: EnrollmentRecord) -> str:
    name = f" of {record.name}" if record.name else ""
    return f"enrollment {record.enrollment_id}{name} (NPI {record.npi.value})"


def record_items(
    record: EnrollmentRecord, query: AgendaQuery, profile_id: str | None = None
) -> Iterator[AgendaItem]:
    """What one enrollment record puts on the agenda at ``query.now`` (EN-7, EN-9, EN-11):

    * deactivated (on read: a missed revalidation or an unanswered development request,
      or as imported): a ``record.reactivate`` item pointing to a reactivation application
      (``Kind.REACTIVATION``), due the day billing stopped;
    * else its revalidation due date, unless a revalidation was filed
      (``revalidation.due``), and in the window 4 to 3 months before it the MAC's notice
      (``revalidation.mac_notice``);
    * an open development request: answer it or the enrollment is deactivated
      (``record.development``).
    """
    today = query.now.date()
    status = record.status_on(query.now)
    label = _record_label(record)
    if status is RecordStatus.DEACTIVATED:
        reason = record.deactivation_reason(query.now)
        since = _deactivated_on(record, today)
        why = f": {reason}" if reason else ""
        yield _item(
            "record.reactivate",
            _midnight(since),
            query,
            f"Billing privileges of {label} are deactivated{why}; file a "
            f"{Kind.REACTIVATION.value} application to reinstate them (EN-11).",
            record.enrollment_id,
            profile_id,
            "EN-11",
        )
        return
    if status is not RecordStatus.APPROVED:
        return
    due = record.due
    if due is not None and record.revalidation_filed_on is None:
        yield _item(
            "revalidation.due",
            _midnight(due),
            query,
            f"Revalidate {label} by {due.isoformat()} (CMS's date); without it billing is "
            "deactivated (EN-7, EN-11).",
            record.enrollment_id,
            profile_id,
            "EN-7",
        )
        first, last = mac_notice_window(due)
        if first <= today <= last:
            yield _item(
                "revalidation.mac_notice",
                _midnight(last),
                query,
                f"Your MAC should send the revalidation notice for {label} by "
                f"{last.isoformat()} (3 to 4 months before the due date {due.isoformat()}); "
                "you may revalidate without waiting for it (EN-7).",
                record.enrollment_id,
                profile_id,
                "EN-7",
            )
    if record.development_due_on is not None:
        yield _item(
            "record.development",
            _midnight(record.development_due_on),
            query,
            f"Answer the MAC's development request on {label} by "
            f"{record.development_due_on.isoformat()}, or billing is deactivated (EN-11).",
            record.enrollment_id,
            profile_id,
            "EN-11",
        )


def _deactivated_on(record: EnrollmentRecord, today: date) -> date:
    """The first day billing stopped (EN-11), as far as the record knows."""
    stops = [
        d + timedelta(days=1)
        for d in (
            None if record.revalidation_filed_on else record.due,
            record.development_due_on,
        )
        if d is not None and d < today
    ]
    if stops:
        return min(stops)
    return record.status_since or today


def record_source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
    """The enrollment records in scope (EN-10): revalidation due dates (imported or
    CMS-assigned), the MAC's notice window and deactivation risk (:func:`record_items`)."""
    for profile_id, record in records_in_scope(tx, query):
        yield from record_items(record, query, profile_id)


def change_report_source(
    policy: DeadlinePolicy = _POLICY, *, nppes: NppesDirectory | None = None
) -> AgendaSource:
    """Changes to report (EN-7, EN-14), each by its system's and category's window;
    dropped once reported, or (PECOS) once a change of information is submitted, or
    (NPPES, when *nppes* is given) once the NPPES record shows the new value."""

    def source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
        for profile_id in profiles_in_scope(tx, query):
            changes = tx.repo(REPORTABLE_CHANGES).find(
                REPORTABLE_CHANGES.index("open_profile"), profile_id
            )
            if not changes:
                continue
            apps = _applications(tx, profile_id)
            record = None
            if nppes is not None and any(c.system is System.NPPES for c in changes):
                profile = tx.repo(PROFILES).get(profile_id)
                record = nppes.lookup(profile.npi) if profile is not None else None
            for change in changes:
                if change.met_by(apps, record, now=query.now):
                    continue
                due = change.due(policy)
                yield _item(
                    "change.report",
                    _midnight(due),
                    query,
                    f"Report the {change.change.label} change of "
                    f"{change.occurred_on.isoformat()} ({change.description}) to "
                    f"{change.system_label} by {due.isoformat()}.",
                    change.id,
                    profile_id,
                    "EN-14" if change.system is System.NPPES else "EN-7",
                )

    return source


# -- access sources ----------------------------------------------------------------------


def _pending(connection: Connection, now: datetime) -> bool:
    return connection.effective_state(now) is ConnectionState.PENDING


def connection_source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
    """Pending connections about to be rejected automatically on day 30 (CO-5)."""
    seen: set[str] = set()
    connections: list[Connection] = []
    for profile_id in profiles_in_scope(tx, query):
        connections.extend(tx.repo(CONNECTIONS).find(CONNECTIONS.index("profile"), profile_id))
    if query.user_id is not None:
        for association in tx.repo(ASSOCIATIONS).find(ASSOCIATIONS.index("user"), query.user_id):
            if association.is_active and association.employer.kind.value == "organization":
                connections.extend(
                    tx.repo(CONNECTIONS).find(
                        CONNECTIONS.index("surrogate"), association.employer.id
                    )
                )
    for connection in connections:
        if connection.id in seen or not _pending(connection, query.now):
            continue
        seen.add(connection.id)
        yield _item(
            "connection.auto_reject",
            connection.deadline,
            query,
            f"Connection request {connection.id} is rejected automatically on "
            f"{connection.deadline.date().isoformat()} unless the "
            f"{connection.approver_side.value} side acts on it (CO-5).",
            connection.id,
            connection.profile_id,
            "CO-5",
        )


_INVITERS: Final = frozenset(
    {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, Role.INDIVIDUAL_PROVIDER}
)


def invitation_source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
    """Staff invitations whose PIN expires 72 hours after sending (RO-7)."""
    employers: dict[str, Employer] = {}
    for profile_id in profiles_in_scope(tx, query):
        profile = tx.repo(PROFILES).get(profile_id)
        if profile is not None:
            employer = employer_of(profile)
            employers[employer.key] = employer
    for employer in employers.values():
        for invitation in tx.repo(INVITATIONS).find(INVITATIONS.index("employer"), employer.key):
            if invitation.effective_state(query.now) is not InvitationState.SENT:
                continue
            yield _item(
                "invitation.pin",
                invitation.expires_at,
                query,
                f"The invitation of {invitation.name} as {invitation.role.label} expires "
                f"{invitation.expires_at.isoformat()}; the PIN is useless after that (RO-7).",
                invitation.id,
                None,
                "RO-7",
            )


def password_expiry_source(
    expiry_of: Callable[[Transaction, str], datetime | None],
) -> AgendaSource:
    """Password expiry of the querying user (PW-12), from a lookup the identity package
    (:func:`enrollkit.identity.password_expiry_lookup`) or the host supplies:
    ``expiry_of(tx, user_id)`` gives when the password expires, read in the agenda's
    transaction."""

    def source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
        if query.user_id is None:
            return
        expires = expiry_of(tx, query.user_id)
        if expires is None or ensure_utc(expires) <= query.now:
            return
        yield _item(
            "password.expiry",
            expires,
            query,
            f"Your password expires {ensure_utc(expires).date().isoformat()}; change it before then (PW-12).",
            query.user_id,
            None,
            "PW-12",
        )

    return source


def enrollment_agenda_sources(
    policy: DeadlinePolicy = _POLICY, *, nppes: NppesDirectory | None = None
) -> tuple[AgendaSource, ...]:
    """The sources this package and access provide: development responses, revalidations,
    change reports (met in NPPES once *nppes* shows them), connections about to
    auto-reject, invitation PINs."""
    return (
        development_source,
        revalidation_source(policy),
        record_source,
        change_report_source(policy, nppes=nppes),
        connection_source,
        invitation_source,
    )


class Agenda:
    """The agenda use case (Rule EN-9): ``for_user`` and ``for_profile``, one transaction each.

    *sources* is explicit: :func:`enrollkit.signatures.agenda_sources` gives the complete
    default list (this package's, access's and the signatures awaited); add
    :func:`password_expiry_source` once identity is wired.
    """

    def __init__(self, runtime: Runtime, *, sources: Sequence[AgendaSource]) -> None:
        self.runtime = runtime
        self.sources = tuple(sources)

    @boundary
    def for_user(
        self, user_id: Id, *, horizon_days: HorizonDays = DEFAULT_HORIZON_DAYS
    ) -> tuple[AgendaItem, ...]:
        """What is due for *user_id*: their signatures, and everything of the profiles they
        act for, with days left, sorted."""
        return self._run(
            AgendaQuery(self.runtime.clock.now(), user_id=user_id, horizon_days=horizon_days)
        )

    @boundary
    def for_profile(
        self, profile_id: Id, *, horizon_days: HorizonDays = DEFAULT_HORIZON_DAYS
    ) -> tuple[AgendaItem, ...]:
        """What is due for provider profile *profile_id*, with days left, sorted."""
        return self._run(
            AgendaQuery(self.runtime.clock.now(), profile_id=profile_id, horizon_days=horizon_days)
        )

    def _run(self, query: AgendaQuery) -> tuple[AgendaItem, ...]:
        with self.runtime.transaction() as tx:
            return build_agenda(tx, attrs.evolve(query, now=tx.now), self.sources)
