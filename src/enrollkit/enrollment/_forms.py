"""Forms and kinds of Medicare enrollment applications (Rule EN-1), and who reports how.

>>> Form.CMS_855B.default_category
<ProviderCategory.PRACTITIONER: 'practitioner'>
>>> Form.CMS_855A.default_category, Form.CMS_855S.default_category
(<ProviderCategory.INSTITUTIONAL: 'institutional'>, <ProviderCategory.DMEPOS: 'dmepos'>)
>>> sorted(k.value for k in FORM_KINDS[Form.CMS_588])
['change_of_information', 'initial']
>>> [t.value for t in PROVIDER_TYPES_BY_FORM[Form.CMS_855B]]
['practitioner_group', 'supplier']
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final

from enrollkit.errors import ValidationError

__all__ = [
    "FORM_KINDS",
    "PROVIDER_TYPES_BY_FORM",
    "Form",
    "Kind",
    "ProviderCategory",
    "ProviderType",
    "check_form_kind",
    "check_provider_type",
]


class ProviderCategory(Enum):
    """Who enrolls, as 42 CFR 424.516 sorts them for reporting changes (Rule EN-7)."""

    #: physicians, non-physician practitioners and their groups (855I, 855R, 855B groups)
    PRACTITIONER = "practitioner"
    #: other providers and suppliers (855A; 855B for suppliers that are not practitioner groups)
    INSTITUTIONAL = "institutional"
    #: DMEPOS suppliers (855S)
    DMEPOS = "dmepos"


class Form(Enum):
    """The CMS form an application is filed on (Rule EN-1)."""

    CMS_855I = "855I"  #: individual practitioner
    CMS_855B = "855B"  #: group practice / clinic, or another supplier
    CMS_855A = "855A"  #: institutional provider
    CMS_855S = "855S"  #: DMEPOS supplier
    CMS_855R = "855R"  #: reassignment of benefits
    CMS_855O = "855O"  #: ordering, referring and certifying only (no billing)
    CMS_20134 = "20134"  #: Medicare Diabetes Prevention Program (MDPP) supplier
    CMS_588 = "588"  #: electronic funds transfer (EFT) authorization, filed with an enrollment

    @property
    def title(self) -> str:
        """The form's name as CMS writes it: ``"CMS-855O"``."""
        return f"CMS-{self.value}"

    @property
    def is_dmepos(self) -> bool:
        """Whether the form enrolls a DMEPOS supplier (shorter deadlines, EN-7)."""
        return self is Form.CMS_855S

    @property
    def is_organizational(self) -> bool:
        """Whether only an organization (never an individual) files this form; a CMS-588 is
        filed by either (see :attr:`ProviderType.is_organization`)."""
        return self in (Form.CMS_855B, Form.CMS_855A, Form.CMS_855S, Form.CMS_20134)

    @property
    def revalidates(self) -> bool:
        """Whether the form's enrollment revalidates on its own (EN-7); a reassignment
        (855R) follows the individual's 855I enrollment, and an EFT authorization (588)
        the enrollment it was filed with."""
        return self not in (Form.CMS_855R, Form.CMS_588)

    @property
    def default_category(self) -> ProviderCategory:
        """Who enrolls with this form, for the reporting windows (EN-7). An 855B may be a
        practitioner group or another supplier: [default] a practitioner group; say
        otherwise when recording a change."""
        if self is Form.CMS_855S:
            return ProviderCategory.DMEPOS
        if self in (Form.CMS_855A, Form.CMS_20134):
            return ProviderCategory.INSTITUTIONAL
        return ProviderCategory.PRACTITIONER

    @property
    def default_provider_type(self) -> ProviderType | None:
        """The provider type an application on this form has unless told otherwise: the
        first of :data:`PROVIDER_TYPES_BY_FORM` ([default] a practitioner group for an
        855B); ``None`` for a CMS-588, filed by an individual or an organization alike."""
        if self is Form.CMS_588:
            return None
        return PROVIDER_TYPES_BY_FORM[self][0]


class Kind(Enum):
    """What the application asks for (Rule EN-1)."""

    INITIAL = "initial"  #: initial enrollment
    CHANGE_OF_INFORMATION = "change_of_information"
    REVALIDATION = "revalidation"
    REASSIGNMENT = "reassignment"
    VOLUNTARY_TERMINATION = "voluntary_termination"
    #: one party ends a reassignment; only that party signs (EN-12)
    REASSIGNMENT_TERMINATION = "reassignment_termination"
    #: EN-11: reinstates billing privileges after a deactivation (a missed revalidation or
    #: an unanswered development request, 42 CFR 424.540)
    REACTIVATION = "reactivation"


class ProviderType(Enum):
    """Who files the application (Rules EN-13, EN-15, SG-1): what the document checklist,
    the application fee and, on a CMS-588, the signer depend on beyond form and kind."""

    #: a physician or non-physician practitioner enrolling as an individual (Type 1 NPI)
    INDIVIDUAL_PRACTITIONER = "individual_practitioner"
    #: a physician or non-physician practitioner group or clinic (855B; no fee)
    PRACTITIONER_GROUP = "practitioner_group"
    #: an 855B supplier that is not a practitioner group (ambulance, IDTF...; pays the fee)
    SUPPLIER = "supplier"
    #: an institutional provider (855A: hospital, HHA, SNF...)
    INSTITUTIONAL_PROVIDER = "institutional_provider"
    #: a DMEPOS supplier (855S)
    DMEPOS_SUPPLIER = "dmepos_supplier"
    #: a Medicare Diabetes Prevention Program supplier (20134)
    MDPP_SUPPLIER = "mdpp_supplier"

    @property
    def is_organization(self) -> bool:
        """Whether an organization (Type 2 NPI, signed by an AO or DO) files (SG-1)."""
        return self is not _INDIVIDUAL_PRACTITIONER

    @property
    def label(self) -> str:
        """The type in words: ``"practitioner group"``."""
        return self.value.replace("_", " ")

    @property
    def category(self) -> ProviderCategory:
        """How 42 CFR 424.516 sorts this type for reporting changes (Rule EN-7)."""
        if self is ProviderType.DMEPOS_SUPPLIER:
            return ProviderCategory.DMEPOS
        if self in (ProviderType.INDIVIDUAL_PRACTITIONER, ProviderType.PRACTITIONER_GROUP):
            return ProviderCategory.PRACTITIONER
        return ProviderCategory.INSTITUTIONAL


#: Read on every send for signature, bound once (a member read through its class runs
#: Python code on 3.11).
_INDIVIDUAL_PRACTITIONER: Final = ProviderType.INDIVIDUAL_PRACTITIONER


_P = ProviderType

#: Rule EN-1: who files each form; the first is the form's default.
PROVIDER_TYPES_BY_FORM: Final[Mapping[Form, tuple[ProviderType, ...]]] = MappingProxyType(
    {
        Form.CMS_855I: (_P.INDIVIDUAL_PRACTITIONER,),
        Form.CMS_855B: (_P.PRACTITIONER_GROUP, _P.SUPPLIER),
        Form.CMS_855A: (_P.INSTITUTIONAL_PROVIDER,),
        Form.CMS_855S: (_P.DMEPOS_SUPPLIER,),
        Form.CMS_855R: (_P.INDIVIDUAL_PRACTITIONER,),
        Form.CMS_855O: (_P.INDIVIDUAL_PRACTITIONER,),
        Form.CMS_20134: (_P.MDPP_SUPPLIER,),
        Form.CMS_588: tuple(ProviderType),  # filed with any enrollment (EN-1)
    }
)

_K = Kind
_ORGANIZATION_KINDS: Final = frozenset(
    {
        _K.INITIAL,
        _K.CHANGE_OF_INFORMATION,
        _K.REVALIDATION,
        _K.VOLUNTARY_TERMINATION,
        _K.REACTIVATION,
    }
)

#: Rule EN-1: the kinds of application each form is filed for. An 855O enrollee bills
#: nothing, so never reassigns; EN-11 [default]: reactivation is filed on the enrolling
#: forms (an 855R reassignment follows its 855I, a 588 its enrollment); a CMS-588 is a new EFT authorization (initial) or a
#: change to one [default: the 588 asks "new" or "change"; nothing else].
FORM_KINDS: Final[Mapping[Form, frozenset[Kind]]] = MappingProxyType(
    {
        Form.CMS_855I: frozenset(Kind) - {_K.REASSIGNMENT_TERMINATION},
        Form.CMS_855R: frozenset(Kind) - {_K.REACTIVATION},
        Form.CMS_855B: _ORGANIZATION_KINDS,
        Form.CMS_855A: _ORGANIZATION_KINDS,
        Form.CMS_855S: _ORGANIZATION_KINDS,
        Form.CMS_855O: _ORGANIZATION_KINDS,
        Form.CMS_20134: _ORGANIZATION_KINDS,
        Form.CMS_588: frozenset({_K.INITIAL, _K.CHANGE_OF_INFORMATION}),
    }
)


def check_form_kind(form: Form, kind: Kind) -> None:
    """Refuse a kind the form is not filed for (Rule EN-1, :data:`FORM_KINDS`; EN-12).

    >>> check_form_kind(Form.CMS_855O, Kind.REASSIGNMENT)
    Traceback (most recent call last):
    ...
    enrollkit.errors.ValidationError: A reassignment is filed on CMS-855R (or 855I), not CMS-855O.
    """
    if kind in FORM_KINDS[form]:
        return
    if kind is Kind.REASSIGNMENT:
        message = f"A reassignment is filed on CMS-855R (or 855I), not {form.title}."
    elif kind is Kind.REASSIGNMENT_TERMINATION:
        message = f"A reassignment is terminated on CMS-855R, not {form.title} (EN-12)."
    else:
        kinds = ", ".join(sorted(k.value.replace("_", " ") for k in FORM_KINDS[form]))
        message = (
            f"{form.title} is not filed for a {kind.value.replace('_', ' ')}; it is filed "
            f"for: {kinds} (EN-1)."
        )
    raise ValidationError("application.form_kind", message, form=form.value, kind=kind.value)


def check_provider_type(form: Form, provider_type: ProviderType | None) -> ProviderType:
    """The provider type of an application on *form*: *provider_type* if the form is filed
    by that type, the form's default when ``None`` (EN-1); a CMS-588 must say.

    >>> check_provider_type(Form.CMS_855B, None).value
    'practitioner_group'
    >>> check_provider_type(Form.CMS_855I, ProviderType.SUPPLIER)
    Traceback (most recent call last):
    ...
    enrollkit.errors.ValidationError: CMS-855I is filed by: individual practitioner; not by a supplier (EN-1).
    """
    allowed = PROVIDER_TYPES_BY_FORM[form]
    if provider_type is None:
        default = form.default_provider_type
        if default is None:
            raise ValidationError(
                "application.provider_type",
                f"Say who files the {form.title}: an individual practitioner (who signs it) "
                "or an organization (an AO or DO signs it) (EN-1, SG-1).",
                form=form.value,
            )
        return default
    if provider_type not in allowed:
        raise ValidationError(
            "application.provider_type",
            f"{form.title} is filed by: {', '.join(t.label for t in allowed)}; not by a "
            f"{provider_type.label} (EN-1).",
            form=form.value,
            provider_type=provider_type.value,
        )
    return provider_type
