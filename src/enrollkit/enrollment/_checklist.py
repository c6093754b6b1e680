"""What an application must carry before it is signed: supporting documents (Rule EN-13)
and, where one is due, the application fee's receipt or a hardship request (Rule EN-15).

Both are data: :data:`CMS_CHECKLIST` lists each requirement with the forms, kinds and
provider types it applies to, and :data:`CMS_APPLICATION_FEES` the fee per calendar
year. A host with newer figures passes its own :class:`Requirements` to the services.
A document's kind (:class:`DocumentKind`) is declared by whoever attaches it: its bytes
prove it is a PDF or TIFF (EN-5), not that it is an IRS letter.

>>> from enrollkit.enrollment import Form, Kind, ProviderType
>>> rules = Requirements()
>>> [r.name for r in rules.checklist_for(Form.CMS_588, Kind.INITIAL, ProviderType.SUPPLIER)]
['voided check or bank letter']
>>> fee = rules.fee_for(Form.CMS_855S, Kind.INITIAL, ProviderType.DMEPOS_SUPPLIER, year=2025)
>>> fee.amount, fee.year
(Decimal('730'), 2025)
>>> rules.fee_for(Form.CMS_855I, Kind.INITIAL, ProviderType.INDIVIDUAL_PRACTITIONER, year=2025)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Final

import attrs

from enrollkit.enrollment._content import DocumentKind, DocumentRef, PracticeLocation
from enrollkit.enrollment._forms import Form, Kind, ProviderType
from enrollkit.enrollment._nppes import normalize_address
from enrollkit.errors import ValidationError

__all__ = [
    "CMS_APPLICATION_FEES",
    "CMS_CHECKLIST",
    "FEE_DOCUMENTS",
    "FEE_FORMS",
    "FEE_KINDS",
    "ApplicationFee",
    "DocumentRequirement",
    "FeeSchedule",
    "Requirements",
    "RequirementsStatus",
    "adds_practice_location",
    "missing_requirements",
]


_ALL_TYPES: Final = frozenset(ProviderType)
_ORGANIZATIONS: Final = frozenset(t for t in ProviderType if t.is_organization)


@attrs.frozen
class DocumentRequirement:
    """One line of the checklist (EN-13): a document of one of the ``accepts`` kinds, for
    the forms, kinds and provider types listed; ``default`` marks a [default] where the
    sources are silent (RULES.md's convention)."""

    name: str
    accepts: frozenset[DocumentKind]
    forms: frozenset[Form]
    kinds: frozenset[Kind]
    provider_types: frozenset[ProviderType] = _ALL_TYPES
    default: bool = False
    source: str = ""

    def applies(self, form: Form, kind: Kind, provider_type: ProviderType) -> bool:
        """Whether an application on *form*, of *kind*, by *provider_type* needs it."""
        return form in self.forms and kind in self.kinds and provider_type in self.provider_types

    def met_by(self, documents: Iterable[DocumentRef]) -> bool:
        """Whether one of *documents* is of a kind this requirement accepts."""
        return any(d.kind in self.accepts for d in documents)


_F, _K, _D = Form, Kind, DocumentKind
_ORGANIZATION_FORMS: Final = frozenset({_F.CMS_855B, _F.CMS_855A, _F.CMS_855S, _F.CMS_20134})
#: EN-11 [default]: a reactivation needs the documents of a revalidation.
_ENROLLING: Final = frozenset({_K.INITIAL, _K.REVALIDATION, _K.REACTIVATION})

#: Rule EN-13: the supporting documents of each form, kind and provider type.
CMS_CHECKLIST: Final[tuple[DocumentRequirement, ...]] = (
    DocumentRequirement(
        "IRS letter confirming the EIN (CP-575 or 147C)",
        frozenset({_D.IRS_EIN_LETTER}),
        _ORGANIZATION_FORMS,
        frozenset({_K.INITIAL}),
        _ORGANIZATIONS,
        source="CMS-855B/A/S supporting documents; seed 000",
    ),
    DocumentRequirement(
        "state license",
        frozenset({_D.STATE_LICENSE}),
        frozenset({_F.CMS_855I, _F.CMS_855O}),
        _ENROLLING,
        source="CMS-855I/855O supporting documents; seed 000",
    ),
    DocumentRequirement(
        "state license or certification to operate",
        frozenset({_D.STATE_LICENSE, _D.CERTIFICATION}),
        frozenset({_F.CMS_855B, _F.CMS_855A, _F.CMS_855S}),
        _ENROLLING,
        default=True,  # the library cannot know which states license which supplier type
        source="CMS-855B/A/S supporting documents",
    ),
    DocumentRequirement(
        "accreditation",
        frozenset({_D.ACCREDITATION}),
        frozenset({_F.CMS_855S}),
        _ENROLLING,
        source="42 CFR 424.57(c)(22)",
    ),
    DocumentRequirement(
        "surety bond",
        frozenset({_D.SURETY_BOND}),
        frozenset({_F.CMS_855S}),
        _ENROLLING,
        source="42 CFR 424.57(c)(26), (d)",
    ),
    DocumentRequirement(
        "CDC Diabetes Prevention Recognition",
        frozenset({_D.CDC_RECOGNITION}),
        frozenset({_F.CMS_20134}),
        _ENROLLING,
        source="42 CFR 424.205(b)",
    ),
    DocumentRequirement(
        "voided check or bank letter",
        frozenset({_D.VOIDED_CHECK_OR_BANK_LETTER}),
        frozenset({_F.CMS_588}),
        frozenset({_K.INITIAL, _K.CHANGE_OF_INFORMATION}),
        source="CMS-588 instructions",
    ),
)

#: Rule EN-15: the forms whose filers pay the application fee (42 CFR 424.514), and which
#: of their provider types do: institutional providers and suppliers, never practitioners
#: or their groups (855I, 855O, 855R, an 855B practitioner group).
FEE_FORMS: Final[Mapping[Form, frozenset[ProviderType]]] = MappingProxyType(
    {
        _F.CMS_855A: frozenset({ProviderType.INSTITUTIONAL_PROVIDER}),
        _F.CMS_855S: frozenset({ProviderType.DMEPOS_SUPPLIER}),
        _F.CMS_20134: frozenset({ProviderType.MDPP_SUPPLIER}),
        _F.CMS_855B: frozenset({ProviderType.SUPPLIER}),
    }
)
#: Rule EN-15: the kinds that pay; a change of information pays only when it adds a
#: practice location. EN-11 [default]: a reactivation pays as a revalidation does.
FEE_KINDS: Final = frozenset({_K.INITIAL, _K.REVALIDATION, _K.REACTIVATION})

#: Rule EN-15: CMS's application fee per calendar year, in US dollars. [default] as
#: shipped: the amounts CMS announced (2021 $599, 2022 $631, 2023 $688, 2024 $709,
#: 2025 $730); a year not listed uses the latest earlier one (so 2026 is $730 until the
#: host adds CMS's figure).
CMS_APPLICATION_FEES: Final[Mapping[int, Decimal]] = MappingProxyType(
    {
        2021: Decimal("599"),
        2022: Decimal("631"),
        2023: Decimal("688"),
        2024: Decimal("709"),
        2025: Decimal("730"),
    }
)


@attrs.frozen
class ApplicationFee:
    """The fee an application owes (EN-15): the amount for ``year``; ``estimated`` when the
    schedule has no figure for that year and the latest earlier one stands in."""

    year: int
    amount: Decimal
    estimated: bool = False

    def describe(self) -> str:
        """``"$730 (2025)"``, ``"$730 (2026, [default] the 2025 amount)"``."""
        text = f"${self.amount:,}"
        return (
            f"{text} ({self.year}{', [default] the last known amount' if self.estimated else ''})"
        )


def _amounts(value: Mapping[int, Decimal]) -> Mapping[int, Decimal]:
    amounts = {int(y): Decimal(a) for y, a in dict(value).items()}
    if not amounts or any(a <= 0 for a in amounts.values()):
        raise ValidationError(
            "fee.schedule",
            "An application fee schedule lists at least one year, each with a positive amount.",
        )
    return MappingProxyType(dict(sorted(amounts.items())))


@attrs.frozen
class FeeSchedule:
    """The application fee per calendar year (EN-15): data the host updates each year."""

    amounts: Mapping[int, Decimal] = attrs.field(default=CMS_APPLICATION_FEES, converter=_amounts)

    def amount(self, year: int) -> ApplicationFee:
        """The fee of calendar *year*; a later year than any listed takes the latest amount,
        marked ``estimated`` ([default]); an earlier year than any listed is refused."""
        known = [y for y in self.amounts if y <= year]
        if not known:
            raise ValidationError(
                "fee.unknown_year",
                f"The fee schedule starts in {min(self.amounts)}; it has no amount for {year}.",
                year=year,
            )
        latest = max(known)
        return ApplicationFee(year=year, amount=self.amounts[latest], estimated=latest != year)


def _fee_due(form: Form, kind: Kind, provider_type: ProviderType, *, new_location: bool) -> bool:
    """Rule EN-15: whether the application pays the fee."""
    if provider_type not in FEE_FORMS.get(form, frozenset()):
        return False
    return kind in FEE_KINDS or (kind is Kind.CHANGE_OF_INFORMATION and new_location)


@attrs.frozen
class Requirements:
    """The checklist (EN-13) and the fee schedule (EN-15) the services check against; the
    defaults are CMS's as shipped."""

    checklist: tuple[DocumentRequirement, ...] = CMS_CHECKLIST
    fees: FeeSchedule = FeeSchedule()

    def checklist_for(
        self, form: Form, kind: Kind, provider_type: ProviderType
    ) -> tuple[DocumentRequirement, ...]:
        """The documents an application on *form*, of *kind*, by *provider_type* needs (EN-13)."""
        return tuple(r for r in self.checklist if r.applies(form, kind, provider_type))

    def fee_for(
        self,
        form: Form,
        kind: Kind,
        provider_type: ProviderType,
        *,
        year: int,
        new_location: bool = False,
    ) -> ApplicationFee | None:
        """The fee the application owes in calendar *year*, or ``None`` (EN-15): 855A, 855S,
        20134 and an 855B supplier that is not a practitioner group pay on an initial
        enrollment, a revalidation, or a change adding a practice location (*new_location*)."""
        if not _fee_due(form, kind, provider_type, new_location=new_location):
            return None
        return self.fees.amount(year)


#: EN-15: what pays for the fee, one of them.
FEE_DOCUMENTS: Final = frozenset(
    {DocumentKind.FEE_RECEIPT, DocumentKind.HARDSHIP_EXCEPTION_REQUEST}
)


def missing_requirements(
    requirements: Requirements,
    form: Form,
    kind: Kind,
    provider_type: ProviderType,
    documents: Iterable[DocumentRef],
    *,
    year: int,
    new_location: bool = False,
) -> tuple[tuple[str, ...], ApplicationFee | None]:
    """What *documents* lack (EN-13: the checklist's names, in order) and, when the fee is
    due and neither its receipt nor a hardship exception request is attached, the fee
    (EN-15); ``((), None)`` when nothing is missing."""
    attached = tuple(documents)
    missing = tuple(
        r.name
        for r in requirements.checklist_for(form, kind, provider_type)
        if not r.met_by(attached)
    )
    fee = requirements.fee_for(form, kind, provider_type, year=year, new_location=new_location)
    if fee is not None and any(d.kind in FEE_DOCUMENTS for d in attached):
        fee = None
    return missing, fee


@attrs.frozen
class RequirementsStatus:
    """What an application needs before it is sent for signature, and what it lacks:
    the checklist (EN-13) and the fee (EN-15)."""

    required: tuple[DocumentRequirement, ...]  #: the checklist lines that apply
    missing: tuple[str, ...]  #: the names of those not met yet
    fee: ApplicationFee | None  #: the fee due this calendar year, or None
    fee_covered: bool  #: a fee receipt or a hardship exception request is attached

    @property
    def complete(self) -> bool:
        """Whether nothing is missing."""
        return not self.missing and (self.fee is None or self.fee_covered)


def adds_practice_location(
    locations: Iterable[PracticeLocation], approved: Iterable[PracticeLocation] | None
) -> bool:
    """Whether *locations* name a practice location *approved* (the latest approved
    enrollment's) does not, compared as NPPES addresses are (EN-6 normalisation). With no
    approved enrollment known, ``False``: [default] a change is charged only when
    enrollkit knows the locations it changes."""
    if approved is None:
        return False
    known = {normalize_address(p.address) for p in approved}
    return any(normalize_address(p.address) not in known for p in locations)
