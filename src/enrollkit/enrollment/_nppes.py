"""NPPES consistency: compare the application with the NPPES record (Rule EN-6 amended).

The host supplies a :class:`NppesDirectory` (an NPPES API client, a nightly
extract). What NPPES holds and PECOS must agree with **blocks** sending for
signature until the preparer resolves or acknowledges it:

* the legal name: an organization's legal business name, an individual's first
  and last name (NPPES keeps them in their own fields);
* the NPI's type: Type 1 for an individual's form (855I, 855R), Type 2 for an
  organization's (855B, 855A); an 855S may be either (a sole-proprietor supplier);
* its status: a deactivated NPI cannot be enrolled;
* the primary practice location: the application's first location against the
  one NPPES lists as primary (the first of its practice addresses) [default].

What NPPES does not hold one-for-one is **information**, never a blocker:
other PECOS practice locations missing from NPPES (NPPES lists one primary
location and optional others) and a different mailing address.

Names and addresses are compared after :func:`normalize` (case, punctuation,
common abbreviations); every difference is reported with both values.

>>> normalize("Acme Family Medicine, Professional Limited Liability Company")
'ACME FAMILY MEDICINE PLLC'
>>> normalize("12 North Main Street, Suite 4") == normalize("12 N. Main St Ste 4")
True
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Final, Protocol, runtime_checkable

import attrs

from enrollkit.enrollment._content import Address, ApplicationContent
from enrollkit.enrollment._forms import Form, ProviderType
from enrollkit.npi import NPI, NPIType

__all__ = [
    "NPI_TYPES_BY_FORM",
    "InMemoryNppesDirectory",
    "NppesDirectory",
    "NppesMismatch",
    "NppesRecord",
    "compare_with_nppes",
    "expected_npi_types",
    "normalize",
    "normalize_address",
]


@attrs.frozen
class NppesRecord:
    """What NPPES says about an NPI: its name, mailing address and practice addresses
    (the primary first), its type (Type 1 individual or Type 2 organization, NPI-3) and
    whether it is active (RO-9: a Type 1 profile is claimed only for an active Type 1 NPI).

    ``legal_business_name`` is a Type 2 NPI's organization name; a Type 1 NPI's name is
    ``first_name`` and ``last_name`` (EN-6 compares those when given, else the
    ``legal_business_name`` as the individual's full name).
    """

    npi: NPI
    legal_business_name: str = ""
    mailing_address: Address | None = None
    practice_addresses: tuple[Address, ...] = ()
    npi_type: NPIType | None = None
    active: bool = True
    first_name: str | None = None
    last_name: str | None = None

    @property
    def name(self) -> str:
        """The name NPPES shows: the organization's, or the individual's first and last."""
        if self.first_name or self.last_name:
            return " ".join(part for part in (self.first_name, self.last_name) if part)
        return self.legal_business_name

    @property
    def primary_practice_address(self) -> Address | None:
        """The primary practice location NPPES lists (its first practice address)."""
        return self.practice_addresses[0] if self.practice_addresses else None


@runtime_checkable
class NppesDirectory(Protocol):
    """Looks NPIs up in NPPES (the host's client of the NPPES registry)."""

    def lookup(self, npi: NPI) -> NppesRecord | None:
        """Return the NPPES record of *npi*, or ``None`` when NPPES has none."""
        ...


class InMemoryNppesDirectory:
    """An :class:`NppesDirectory` over a dict: for tests and demos."""

    def __init__(self, records: Mapping[NPI, NppesRecord] | None = None) -> None:
        self._records: dict[NPI, NppesRecord] = dict(records or {})
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InMemoryNppesDirectory(records={len(self._records)})"

    def put(self, record: NppesRecord) -> None:
        """Add or replace the record of ``record.npi``."""
        with self._lock:
            self._records[record.npi] = record

    def lookup(self, npi: NPI) -> NppesRecord | None:
        """Return the record of *npi*, or ``None``."""
        with self._lock:
            return self._records.get(npi)


@attrs.frozen
class NppesMismatch:
    """One difference between the application and NPPES, with both values (Rule EN-6).

    ``blocking`` differences stop sending for signature until resolved or acknowledged;
    the others are information (EN-6 amended).
    """

    #: ``"npi"``, ``"npi_type"``, ``"npi_status"``, ``"legal_name"``,
    #: ``"primary_practice_location"``, ``"practice_locations[1]"``, ``"mailing_address"``
    field: str
    application_value: str
    nppes_value: str
    blocking: bool = True

    def describe(self) -> str:
        """A sentence naming the field and both values."""
        return (
            f"{self.field}: the application says {self.application_value!r}, "
            f"NPPES says {self.nppes_value!r}"
        )

    def as_dict(self) -> dict[str, object]:
        """The difference as a JSON-ready mapping (events, error details)."""
        return {
            "field": self.field,
            "application": self.application_value,
            "nppes": self.nppes_value,
            "blocking": self.blocking,
        }


#: Whole words replaced by their USPS / legal abbreviation before comparing (EN-6).
ABBREVIATIONS: Final[Mapping[str, str]] = {
    "STREET": "ST",
    "SUITE": "STE",
    "AVENUE": "AVE",
    "BOULEVARD": "BLVD",
    "ROAD": "RD",
    "DRIVE": "DR",
    "LANE": "LN",
    "COURT": "CT",
    "PLACE": "PL",
    "PARKWAY": "PKWY",
    "HIGHWAY": "HWY",
    "CIRCLE": "CIR",
    "SQUARE": "SQ",
    "TERRACE": "TER",
    "BUILDING": "BLDG",
    "FLOOR": "FL",
    "APARTMENT": "APT",
    "ROOM": "RM",
    "UNIT": "UNIT",
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
    "INCORPORATED": "INC",
    "CORPORATION": "CORP",
    "COMPANY": "CO",
    "LIMITED": "LTD",
    "ASSOCIATES": "ASSOC",
    "SAINT": "ST",
    "MOUNT": "MT",
    "AND": "&",
}

#: Multi-word phrases replaced first (longest first), e.g. entity types.
PHRASES: Final[tuple[tuple[str, str], ...]] = (
    ("PROFESSIONAL LIMITED LIABILITY COMPANY", "PLLC"),
    ("PROFESSIONAL LIMITED LIABILITY CO", "PLLC"),
    ("LIMITED LIABILITY PARTNERSHIP", "LLP"),
    ("LIMITED LIABILITY COMPANY", "LLC"),
    ("LIMITED LIABILITY CO", "LLC"),
    ("PROFESSIONAL CORPORATION", "PC"),
    ("PROFESSIONAL ASSOCIATION", "PA"),
    ("P L L C", "PLLC"),
    ("L L C", "LLC"),
    ("P C", "PC"),
    ("P A", "PA"),
)

_PUNCTUATION = re.compile(r"[^\w\s&#]")
_SPACES = re.compile(r"\s+")
_PHRASE_PATTERNS: Final = tuple(
    (re.compile(rf"\b{re.escape(phrase)}\b"), short) for phrase, short in PHRASES
)


def normalize(text: str) -> str:
    """Upper-case, drop punctuation, collapse spaces, abbreviate common words (Rule EN-6)."""
    value = _PUNCTUATION.sub(" ", text.upper().replace("#", " # "))
    value = _SPACES.sub(" ", value).strip()
    for pattern, short in _PHRASE_PATTERNS:
        value = pattern.sub(short, value)
    words = [ABBREVIATIONS.get(word, word) for word in value.split(" ") if word]
    words = ["STE" if word == "#" else word for word in words]
    return " ".join(words)


def _zip5(zip_code: str) -> str:
    digits = "".join(ch for ch in zip_code if ch.isdigit())
    return digits[:5]


def normalize_address(address: Address) -> str:
    """An address normalised for comparison: lines, city, state and the 5-digit ZIP."""
    lines = " ".join(part for part in (address.line1, address.line2) if part)
    return " | ".join(
        (
            normalize(lines),
            normalize(address.city),
            normalize(address.state),
            _zip5(address.zip_code),
        )
    )


#: EN-6 amended: the NPI type each form enrolls; [default] an 855S may be a sole
#: proprietor's Type 1 NPI or an organization's Type 2. An 855O enrolls a practitioner
#: (Type 1), an MDPP supplier (20134) an organization (Type 2); a CMS-588 is filed by
#: either, and its provider type decides (:func:`expected_npi_types`).
NPI_TYPES_BY_FORM: Final[Mapping[Form, frozenset[NPIType]]] = {
    Form.CMS_855I: frozenset({NPIType.INDIVIDUAL}),
    Form.CMS_855R: frozenset({NPIType.INDIVIDUAL}),
    Form.CMS_855B: frozenset({NPIType.ORGANIZATION}),
    Form.CMS_855A: frozenset({NPIType.ORGANIZATION}),
    Form.CMS_855S: frozenset(NPIType),
    Form.CMS_855O: frozenset({NPIType.INDIVIDUAL}),
    Form.CMS_20134: frozenset({NPIType.ORGANIZATION}),
    Form.CMS_588: frozenset(NPIType),
}


def expected_npi_types(form: Form, provider_type: ProviderType | None = None) -> frozenset[NPIType]:
    """The NPI types an application on *form* by *provider_type* enrolls (EN-6, NPI-3).

    >>> sorted(t.value for t in expected_npi_types(Form.CMS_588, ProviderType.SUPPLIER))
    [2]
    """
    expected = NPI_TYPES_BY_FORM[form]
    if provider_type is not None and form is Form.CMS_588:
        wanted = NPIType.ORGANIZATION if provider_type.is_organization else NPIType.INDIVIDUAL
        return expected & {wanted}
    return expected


def _names_match(content: ApplicationContent, record: NppesRecord) -> tuple[str, str] | None:
    """``None`` when the legal names agree, else (application's, NPPES's)."""
    practitioner = content.practitioner
    if not content.legal_business_name and practitioner is not None:
        mine = practitioner.full_name
        if record.first_name or record.last_name:
            same = normalize(practitioner.first_name) == normalize(
                record.first_name or ""
            ) and normalize(practitioner.last_name) == normalize(record.last_name or "")
            return None if same else (mine, record.name)
        theirs = record.legal_business_name
    else:
        mine = content.legal_business_name
        theirs = record.legal_business_name or record.name
    return None if normalize(mine) == normalize(theirs) else (mine, theirs)


def compare_with_nppes(
    content: ApplicationContent,
    record: NppesRecord | None,
    *,
    form: Form | None = None,
    provider_type: ProviderType | None = None,
) -> tuple[NppesMismatch, ...]:
    """Every difference between *content* (filed on *form* by *provider_type*) and the
    NPPES *record* (Rule EN-6 amended): blocking ones first, information after."""
    if record is None:
        npi = str(content.npi) if content.npi else "(none)"
        return (NppesMismatch("npi", npi, "(no NPPES record for this NPI)"),)
    found: list[NppesMismatch] = []
    if not record.active:
        found.append(NppesMismatch("npi_status", "active", "deactivated"))
    expected = expected_npi_types(form, provider_type) if form is not None else None
    if expected is not None and record.npi_type is not None and record.npi_type not in expected:
        wanted = " or ".join(sorted(t.label for t in expected))
        found.append(
            NppesMismatch(
                "npi_type", f"{form.title if form else 'CMS-?'}: {wanted}", record.npi_type.label
            )
        )
    names = _names_match(content, record)
    if names is not None:
        found.append(NppesMismatch("legal_name", *names))
    primary = record.primary_practice_address
    if content.practice_locations:
        mine = content.practice_locations[0].address
        if primary is None or normalize_address(mine) != normalize_address(primary):
            found.append(
                NppesMismatch(
                    "primary_practice_location",
                    mine.one_line(),
                    primary.one_line() if primary else "(none)",
                )
            )
    known = {normalize_address(address) for address in record.practice_addresses}
    listed = "; ".join(address.one_line() for address in record.practice_addresses) or "(none)"
    for position, location in enumerate(content.practice_locations[1:], start=1):
        if normalize_address(location.address) not in known:
            found.append(
                NppesMismatch(
                    f"practice_locations[{position}]",
                    location.address.one_line(),
                    listed,
                    blocking=False,
                )
            )
    if (
        content.mailing_address is not None
        and record.mailing_address is not None
        and normalize_address(content.mailing_address) != normalize_address(record.mailing_address)
    ):
        found.append(
            NppesMismatch(
                "mailing_address",
                content.mailing_address.one_line(),
                record.mailing_address.one_line(),
                blocking=False,
            )
        )
    return tuple(found)
