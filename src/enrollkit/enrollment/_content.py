"""The structured content of an application: what the rules need, and room for more.

Content is a tree of frozen attrs values, so it serializes canonically
(``enrollkit.serialization.canonical_json``) and its SHA-256 is the revision
digest (Rule EN-3).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import attrs

from enrollkit.clock import ensure_utc
from enrollkit.errors import ValidationError
from enrollkit.npi import NPI

__all__ = [
    "Address",
    "ApplicationContent",
    "DocumentKind",
    "DocumentRef",
    "MediaType",
    "Official",
    "OfficialRole",
    "PracticeLocation",
    "Practitioner",
    "Reassignment",
    "ReassignmentParty",
    "Section",
    "SectionField",
    "same_name",
]


def _email(_instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None:
        return
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or value != value.strip():
        raise ValidationError(
            "content.email",
            f"{attribute.name} must be an e-mail address like ana@example.org; got {value!r}.",
            field=attribute.name,
            value=value,
        )


def _text(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValidationError(
            "content.empty",
            f"{attribute.name} must not be empty.",
            field=attribute.name,
        )


@attrs.frozen
class Address:
    """A postal address as written on the application."""

    line1: str = attrs.field(validator=_text)
    city: str = attrs.field(validator=_text)
    state: str = attrs.field(validator=_text)
    zip_code: str = attrs.field(validator=_text)
    line2: str | None = None

    def one_line(self) -> str:
        """The address on one line: ``"12 Main St, Ste 4, Springfield, IL 62701"``."""
        parts = [self.line1, *([self.line2] if self.line2 else []), self.city]
        return f"{', '.join(parts)}, {self.state} {self.zip_code}"


@attrs.frozen
class PracticeLocation:
    """Where the provider practices (a practice location section)."""

    name: str = attrs.field(validator=_text)
    address: Address


class OfficialRole(Enum):
    """How an official is listed on the enrollment record (Rule RO-8)."""

    AUTHORIZED_OFFICIAL = "AO"
    DELEGATED_OFFICIAL = "DO"  #: I&A calls the role Access Manager (AM)


@attrs.frozen
class Official:
    """An official listed on the enrollment record (AO or DO), with an optional I&A account.

    ``account_id`` links the official to the I&A account that may sign for
    them (Rule RO-8); ``email`` is where signature requests go (Rule SG-2).
    """

    name: str = attrs.field(validator=_text)
    role: OfficialRole
    email: str | None = attrs.field(default=None, validator=_email)
    account_id: str | None = None


@attrs.frozen
class Practitioner:
    """The individual practitioner of an 855I or 855R (section 4A signer)."""

    first_name: str = attrs.field(validator=_text)
    last_name: str = attrs.field(validator=_text)
    email: str | None = attrs.field(default=None, validator=_email)

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"


class ReassignmentParty(Enum):
    """A party to a reassignment of benefits (Rule EN-12)."""

    INDIVIDUAL = "individual"  #: the practitioner who reassigns (section 4A)
    ORGANIZATION = "organization"  #: the organization receiving the benefits (section 4B)


@attrs.frozen
class Reassignment:
    """Benefits reassigned to another provider profile (the receiving organization).

    On a reassignment termination, ``terminated_by`` names the party ending it: either
    may terminate alone, and only that party signs (EN-12).
    """

    target_profile_id: str = attrs.field(validator=_text)
    effective_date: date | None = None
    terminated_by: ReassignmentParty | None = None


@attrs.frozen
class SectionField:
    """One labelled value of a further section."""

    key: str = attrs.field(validator=_text)
    value: str


@attrs.frozen
class Section:
    """A further section of the form, as labelled values (room for what rules do not need)."""

    name: str = attrs.field(validator=_text)
    fields: tuple[SectionField, ...] = ()


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def same_name(left: str, right: str) -> bool:
    """Whether two names are the same person's as written (case and spacing aside).

    >>> same_name("Carl  Chen", "carl chen")
    True
    """
    return _name_key(left) == _name_key(right)


@attrs.frozen
class ApplicationContent:
    """What the applicant declares; everything here is covered by the digest (EN-3)."""

    legal_business_name: str = ""
    npi: NPI | None = None
    practitioner: Practitioner | None = None
    mailing_address: Address | None = None
    practice_locations: tuple[PracticeLocation, ...] = ()
    officials: tuple[Official, ...] = ()
    reassignment: Reassignment | None = None
    effective_date: date | None = None
    sections: tuple[Section, ...] = ()

    def officials_named(self, name: str) -> tuple[Official, ...]:
        """The officials listed under *name* (case and spacing aside, SG-3 paper)."""
        wanted = _name_key(name)
        return tuple(o for o in self.officials if _name_key(o.name) == wanted)

    def official_for(self, account_id: str) -> Official | None:
        """The official on the record linked to *account_id*, if any (Rule RO-8)."""
        for official in self.officials:
            if official.account_id == account_id:
                return official
        return None


class DocumentKind(Enum):
    """What a supporting document is, as declared when it is attached (EN-13, EN-15)."""

    #: the IRS letter confirming the legal business name and EIN (CP-575 or 147C)
    IRS_EIN_LETTER = "irs_ein_letter"
    STATE_LICENSE = "state_license"  #: a state (or local) license to practice or operate
    CERTIFICATION = "certification"  #: a certification or registration required to operate
    ACCREDITATION = "accreditation"  #: by a CMS-approved accrediting organization (DMEPOS)
    SURETY_BOND = "surety_bond"  #: the DMEPOS supplier's surety bond
    CDC_RECOGNITION = "cdc_recognition"  #: CDC Diabetes Prevention Recognition (MDPP)
    VOIDED_CHECK_OR_BANK_LETTER = "voided_check_or_bank_letter"  #: for the CMS-588 (EFT)
    FEE_RECEIPT = "fee_receipt"  #: the receipt of the application fee paid (EN-15)
    HARDSHIP_EXCEPTION_REQUEST = "hardship_exception_request"  #: instead of the fee (EN-15)
    OTHER = "other"  #: anything else the applicant supports the application with


class MediaType(Enum):
    """The only document types accepted, recognised by content (Rule EN-5)."""

    PDF = "application/pdf"
    TIFF = "image/tiff"


def _utc(value: datetime) -> datetime:
    return ensure_utc(value, field="uploaded_at")


@attrs.frozen
class DocumentRef:
    """A supporting document as the library keeps it: metadata and SHA-256 (Rule EN-5).

    The bytes live behind a :class:`~enrollkit.enrollment.DocumentStore`;
    the digest of a revision covers ``filename``, ``media_type``, ``size``
    and ``sha256`` (Rule EN-3), not the id or upload time. ``kind`` is what the
    uploader declares it to be (:class:`~enrollkit.enrollment.DocumentKind`, the
    checklist's currency, EN-13); like the description it is not covered by the digest.
    """

    id: str
    filename: str
    media_type: MediaType
    size: int
    sha256: str
    uploaded_at: datetime = attrs.field(converter=_utc)
    uploaded_by: str
    description: str = ""
    kind: DocumentKind | None = None
