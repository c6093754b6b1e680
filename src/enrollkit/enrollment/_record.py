"""The enrollment record: what PECOS holds about one enrollment, apart from applications
(Rules EN-10, EN-11).

A credentialing company starts with providers already enrolled: each enrollment has an
enrollment ID (``I20031110000070``: a letter, then 14 digits), an NPI, a provider type,
a state, a PTAN per practice location, a status, an effective date, reassignments and a
revalidation due date CMS assigns ("TBD" until it does). The host imports these facts
(CMS's public revalidation due-date list among them, :mod:`._import`); an approved
application updates them; every fact remembers where it came from (:class:`FactSource`).

>>> from datetime import date
>>> from enrollkit.npi import NPI
>>> record = EnrollmentRecord(
...     id="I20031110000070", enrollment_id="I20031110000070", npi=NPI("1234567893"), state="MD",
...     provider_type="Practitioner - Internal Medicine", revalidation_due=date(2026, 10, 31))
>>> record.enrollment_id, record.due
('I20031110000070', datetime.date(2026, 10, 31))

EN-11: a revalidation due date that passed with no revalidation filed deactivates
the billing privileges on read (no sweep), like CO-5's effective state:

>>> from datetime import datetime, UTC
>>> record.status_on(datetime(2026, 10, 31, 12, tzinfo=UTC)).value
'approved'
>>> record.status_on(datetime(2026, 11, 1, tzinfo=UTC)).value
'deactivated'
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from typing import Final

import attrs

from enrollkit._interning import shared
from enrollkit.clock import ensure_utc
from enrollkit.enrollment._deadlines import month_end
from enrollkit.errors import ValidationError, excerpt
from enrollkit.npi import NPI
from enrollkit.storage import Collection, Index, ReadRepository

__all__ = [
    "ENROLLMENT_RECORDS",
    "EnrollmentRecord",
    "Fact",
    "FactSource",
    "LocationPtan",
    "RecordReassignment",
    "RecordSource",
    "RecordStatus",
    "check_enrollment_id",
    "record_id",
    "records_of_npi",
]


#: EN-10: a PECOS enrollment ID: one upper-case letter (I individual, O organization),
#: then 14 digits (the date it was created, YYYYMMDD, and a 6-digit sequence).
_ENROLLMENT_ID: Final = re.compile(r"[A-Z][0-9]{14}")


def check_enrollment_id(value: object) -> str:
    """*value* if it is a PECOS enrollment ID (EN-10), else ``record.enrollment_id``.

    >>> check_enrollment_id("O20080205000209")
    'O20080205000209'
    """
    if isinstance(value, str) and _ENROLLMENT_ID.fullmatch(value):
        return value
    raise ValidationError(
        "record.enrollment_id",
        f"A PECOS enrollment ID is a capital letter and 14 digits, like I20031110000070; "
        f"got {excerpt(value)} (EN-10).",
        value=excerpt(value),
    )


def _enrollment_id(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    check_enrollment_id(value)


class RecordStatus(Enum):
    """An enrollment's status in PECOS (EN-10)."""

    APPROVED = "approved"  #: may bill Medicare
    DEACTIVATED = "deactivated"  #: billing stopped (EN-11: missed revalidation, ...)
    REVOKED = "revoked"  #: CMS revoked the enrollment
    OPTED_OUT = "opted_out"  #: the practitioner opted out of Medicare
    VOLUNTARILY_TERMINATED = "voluntarily_terminated"

    @property
    def label(self) -> str:
        """Lower-case words: ``"opted out"``."""
        return self.value.replace("_", " ")


class RecordSource(Enum):
    """Where a fact of the record came from (EN-10)."""

    CMS_LIST = "cms_list"  #: CMS's public revalidation due-date list
    PECOS_IMPORT = "pecos_import"  #: what PECOS holds, imported by the host
    APPLICATION = "application"  #: an application approved in enrollkit


class Fact(Enum):
    """The facts of a record whose source is kept (EN-10)."""

    IDENTITY = "identity"  #: NPI, names, state, provider type and specialty
    STATUS = "status"
    EFFECTIVE_DATE = "effective_date"
    PTANS = "ptans"
    REASSIGNMENTS = "reassignments"
    REVALIDATION_DUE = "revalidation_due"


@attrs.frozen
class FactSource:
    """Where one fact came from: the source, a reference (the imported file's name and
    digest, or the application id) and when it was recorded."""

    fact: Fact
    source: RecordSource
    reference: str = attrs.field(converter=shared)
    recorded_at: datetime = attrs.field(converter=ensure_utc)


@attrs.frozen
class LocationPtan:
    """The PTAN Medicare issued for one practice location (EN-10)."""

    ptan: str
    location: str  #: the practice location (an address on one line, or the host's id)


@attrs.frozen
class RecordReassignment:
    """Who bills for whom, from when (EN-10): the individual enrollment reassigns its
    benefits to the receiving (group) enrollment."""

    individual_enrollment_id: str = attrs.field(validator=_enrollment_id)
    receiving_enrollment_id: str = attrs.field(validator=_enrollment_id)
    since: date
    until: date | None = None

    def active_on(self, day: date) -> bool:
        """Whether the reassignment holds on *day*."""
        return self.since <= day and (self.until is None or day < self.until)


def _due_at_month_end(
    _instance: object, attribute: attrs.Attribute[date | None], value: object
) -> None:
    if isinstance(value, date) and value != month_end(value):
        raise ValidationError(
            "record.due_not_month_end",
            f"CMS sets revalidation due dates at month ends; {value.isoformat()} is not "
            "the last day of its month (EN-7).",
            field=attribute.name,
            value=value.isoformat(),
        )


@attrs.frozen(kw_only=True)
class EnrollmentRecord:
    """One enrollment as PECOS holds it (EN-10). Records enrollkit creates take the
    enrollment ID as their id too (:func:`record_id`); the ``enrollment_id`` index keeps
    it unique whatever the id.

    ``revalidation_due`` is the date CMS posted, ``None`` while it is "TBD";
    ``adjusted_due`` a later date CMS set instead (the list's "Adjusted Due Date"), which
    :attr:`due` prefers. ``listed`` says the enrollment is on the last imported CMS list.
    """

    id: str
    enrollment_id: str = attrs.field(validator=_enrollment_id)
    npi: NPI = attrs.field(validator=attrs.validators.instance_of(NPI))
    state: str = attrs.field(default="", converter=shared)
    enrollment_type: str = attrs.field(default="", converter=shared)
    provider_type: str = attrs.field(default="", converter=shared)
    specialty: str = attrs.field(default="", converter=shared)
    first_name: str = ""
    last_name: str = ""
    organization_name: str = ""
    status: RecordStatus = RecordStatus.APPROVED
    status_since: date | None = None
    effective_date: date | None = None
    ptans: tuple[LocationPtan, ...] = ()
    reassignments: tuple[RecordReassignment, ...] = ()
    employer_associations: int | None = None  #: the list's "Individual Total Employer Associations"
    group_reassignments: int | None = None  #: the list's "Group Member Total Reassignments"
    revalidation_due: date | None = attrs.field(default=None, validator=_due_at_month_end)
    adjusted_due: date | None = attrs.field(default=None, validator=_due_at_month_end)
    #: EN-11: when a revalidation application was filed for the current due date
    revalidation_filed_on: date | None = None
    #: EN-11: the response due date of a development request left unanswered, if any
    development_due_on: date | None = None
    listed: bool = False  #: on the last imported CMS revalidation list
    sources: tuple[FactSource, ...] = ()
    version: int = 0

    @property
    def name(self) -> str:
        """The organization's name, else the practitioner's."""
        if self.organization_name:
            return self.organization_name
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def due(self) -> date | None:
        """The revalidation due date in force (EN-7): the adjusted one, else the posted
        one; ``None`` while CMS says "TBD" or once the enrollment ended."""
        if self.status in _ENDED:
            return None
        return self.adjusted_due or self.revalidation_due

    def source_of(self, fact: Fact) -> FactSource | None:
        """Where *fact* came from, if recorded."""
        return next((s for s in self.sources if s.fact is fact), None)

    def status_on(self, now: datetime) -> RecordStatus:
        """The status in force at *now* (EN-11, computed on read like CO-5): an approved
        enrollment whose revalidation due date passed with no revalidation filed, or whose
        development request went unanswered past its due date, is deactivated (42 CFR
        424.540)."""
        if self.status is not RecordStatus.APPROVED:
            return self.status
        today = ensure_utc(now).date()
        due = self.due
        if due is not None and today > due and self.revalidation_filed_on is None:
            return RecordStatus.DEACTIVATED
        if self.development_due_on is not None and today > self.development_due_on:
            return RecordStatus.DEACTIVATED
        return RecordStatus.APPROVED

    def deactivation_reason(self, now: datetime) -> str | None:
        """Why :meth:`status_on` deactivates the record at *now* (EN-11), or None."""
        if self.status is not RecordStatus.APPROVED:
            return None
        today = ensure_utc(now).date()
        due = self.due
        if due is not None and today > due and self.revalidation_filed_on is None:
            return f"no revalidation was filed by its due date {due.isoformat()}"
        if self.development_due_on is not None and today > self.development_due_on:
            return (
                f"the development request was not answered by {self.development_due_on.isoformat()}"
            )
        return None


_ENDED: Final = frozenset(
    {RecordStatus.REVOKED, RecordStatus.OPTED_OUT, RecordStatus.VOLUNTARILY_TERMINATED}
)

#: The ``listed`` index's one key: records on the last imported CMS list.
LISTED_KEY: Final = "cms"


def record_id(enrollment_id: str) -> str:
    """The id enrollkit gives the record of *enrollment_id* (EN-10): the ID itself."""
    return check_enrollment_id(enrollment_id)


def _due_keys(record: EnrollmentRecord) -> list[str]:
    due = record.due
    return [] if due is None else [due.isoformat()]


#: EN-10: enrollment records, by enrollment ID (unique), by NPI, by
#: revalidation due date (ordered: the agenda's range) and by membership of the CMS list.
def _receiving_keys(record: EnrollmentRecord) -> list[str]:
    """EN-10: the enrollments *record* reassigns its benefits to (the ``receiving`` index:
    who bills for an organization's members)."""
    links = record.reassignments
    return sorted({r.receiving_enrollment_id for r in links}) if links else []


ENROLLMENT_RECORDS: Final = Collection(
    "enrollment_records",
    EnrollmentRecord,
    indexes=(
        Index[EnrollmentRecord]("enrollment_id", lambda r: [r.enrollment_id], unique=True),
        Index[EnrollmentRecord]("npi", lambda r: [r.npi.value]),
        Index[EnrollmentRecord]("due", _due_keys, ordered=True),
        Index[EnrollmentRecord]("listed", lambda r: [LISTED_KEY] if r.listed else []),
        Index[EnrollmentRecord]("receiving", _receiving_keys),
    ),
)


def records_of_npi(
    repo: ReadRepository[EnrollmentRecord], npi: str
) -> tuple[EnrollmentRecord, ...]:
    """Every enrollment record of *npi* (EN-10), by enrollment ID."""
    found = repo.find(ENROLLMENT_RECORDS.index("npi"), npi)
    return tuple(sorted(found, key=lambda r: r.enrollment_id))
