"""NPPES consistency: compare the application with the NPPES record (Rule EN-6).

The host supplies a :class:`NppesDirectory` (an NPPES API client, a nightly
extract). Legal business name and addresses are compared after
:func:`normalize` (case, punctuation, common abbreviations); every mismatch is
reported with both values, and sending for signature is blocked until the
preparer resolves or acknowledges them.

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
from enrollkit.npi import NPI, NPIType

__all__ = [
    "InMemoryNppesDirectory",
    "NppesDirectory",
    "NppesMismatch",
    "NppesRecord",
    "compare_with_nppes",
    "normalize",
    "normalize_address",
]


@attrs.frozen
class NppesRecord:
    """What NPPES says about an NPI: its name, mailing address and practice addresses,
    its type (Type 1 individual or Type 2 organization, NPI-3) and whether it is active
    (RO-9: a Type 1 profile is claimed only for an active Type 1 NPI)."""

    npi: NPI
    legal_business_name: str
    mailing_address: Address | None = None
    practice_addresses: tuple[Address, ...] = ()
    npi_type: NPIType | None = None
    active: bool = True


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
    """One difference between the application and NPPES, with both values (Rule EN-6)."""

    field: str  #: ``"legal_business_name"``, ``"mailing_address"``, ``"practice_locations[0]"``
    application_value: str
    nppes_value: str

    def describe(self) -> str:
        """A sentence naming the field and both values."""
        return (
            f"{self.field}: the application says {self.application_value!r}, "
            f"NPPES says {self.nppes_value!r}"
        )


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


def compare_with_nppes(
    content: ApplicationContent, record: NppesRecord | None
) -> tuple[NppesMismatch, ...]:
    """Every difference between *content* and the NPPES *record* (Rule EN-6).

    Compared: the legal business name (for an individual, the practitioner's
    name when no business name is given), the mailing address when both
    sides have one, and each practice location, which must match one of the
    NPPES practice addresses.
    """
    if record is None:
        npi = str(content.npi) if content.npi else "(none)"
        return (NppesMismatch("npi", npi, "(no NPPES record for this NPI)"),)
    mismatches: list[NppesMismatch] = []
    name = content.legal_business_name or (
        content.practitioner.full_name if content.practitioner else ""
    )
    if normalize(name) != normalize(record.legal_business_name):
        mismatches.append(NppesMismatch("legal_business_name", name, record.legal_business_name))
    if (
        content.mailing_address is not None
        and record.mailing_address is not None
        and normalize_address(content.mailing_address) != normalize_address(record.mailing_address)
    ):
        mismatches.append(
            NppesMismatch(
                "mailing_address",
                content.mailing_address.one_line(),
                record.mailing_address.one_line(),
            )
        )
    known = {normalize_address(address) for address in record.practice_addresses}
    listed = "; ".join(address.one_line() for address in record.practice_addresses) or "(none)"
    for position, location in enumerate(content.practice_locations):
        if normalize_address(location.address) not in known:
            mismatches.append(
                NppesMismatch(
                    f"practice_locations[{position}]", location.address.one_line(), listed
                )
            )
    return tuple(mismatches)
