"""Who must sign (Rule SG-1) and who may sign a slot (Rules RO-8, SG-1).

:func:`signer_slots` is a pure function of form, kind and reassignment;
:func:`eligibility` decides from facts (the I&A roles a user holds with the
slot's organization, whether the user owns the individual profile, how the
user is listed on the record) whether the user may sign a slot.

>>> from enrollkit.enrollment import Form, Kind
>>> [s.name for s in signer_slots(Form.CMS_855R, Kind.REASSIGNMENT, reassignment=True)]
['individual', 'receiving_organization']
>>> [s.name for s in signer_slots(Form.CMS_855B, Kind.INITIAL, reassignment=False)]
['authorized_official']
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Final

import attrs

from enrollkit.access import Decision, Role
from enrollkit.enrollment import (
    Application,
    ApplicationContent,
    Form,
    Kind,
    Official,
    OfficialRole,
    ProviderType,
    ReassignmentParty,
    check_form_kind,
    check_provider_type,
)
from enrollkit.errors import NotPermittedError, ValidationError

__all__ = [
    "Eligibility",
    "SignerFacts",
    "SignerSlot",
    "SlotParty",
    "eligibility",
    "listed_for",
    "paper_signers",
    "render_forms_table",
    "signer_slots",
    "slots_of",
]


class SlotParty(Enum):
    """Whose signature a slot holds."""

    PRACTITIONER = "practitioner"  #: the individual of the application's Type 1 profile
    APPLICANT = "applicant"  #: the enrolling organization (855B/A/S)
    RECEIVING_ORGANIZATION = "receiving_organization"  #: the reassignment target


@attrs.frozen
class SignerSlot:
    """A required signature (Rule SG-1): who may fill it, by I&A role and record listing."""

    name: str
    party: SlotParty
    section: str  #: the form section the signature certifies
    roles: frozenset[Role]  #: I&A roles that may sign
    record_roles: frozenset[OfficialRole]  #: how the signer must be listed on the record (RO-8)

    def describe(self) -> str:
        """Who signs, in words: ``"an AO or AM/DO of the receiving organization"``."""
        if self.party is SlotParty.PRACTITIONER:
            return "the individual practitioner"
        who = "an AO" if self.roles == frozenset({Role.AUTHORIZED_OFFICIAL}) else "an AO or AM/DO"
        whose = (
            "the receiving organization"
            if self.party is SlotParty.RECEIVING_ORGANIZATION
            else "the organization"
        )
        return f"{who} of {whose}"


_AO, _AM = Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER
_REC_AO, _REC_DO = OfficialRole.AUTHORIZED_OFFICIAL, OfficialRole.DELEGATED_OFFICIAL
#: An AO or AM may sign, listed on the record as an AO or DO (RO-8).
_AO_OR_AM, _LISTED_AO_OR_DO = frozenset({_AO, _AM}), frozenset({_REC_AO, _REC_DO})

INDIVIDUAL: Final = SignerSlot(
    "individual",
    SlotParty.PRACTITIONER,
    "15 / 4A",
    frozenset({Role.INDIVIDUAL_PROVIDER}),
    frozenset(),
)
RECEIVING_ORGANIZATION: Final = SignerSlot(
    "receiving_organization", SlotParty.RECEIVING_ORGANIZATION, "4B", _AO_OR_AM, _LISTED_AO_OR_DO
)
AUTHORIZED_OFFICIAL: Final = SignerSlot(
    "authorized_official", SlotParty.APPLICANT, "15", frozenset({_AO}), frozenset({_REC_AO})
)
AUTHORIZED_OR_DELEGATED: Final = SignerSlot(
    "authorized_or_delegated_official", SlotParty.APPLICANT, "15 / 16", _AO_OR_AM, _LISTED_AO_OR_DO
)


#: Rule SG-1 as data: each form's slots for an initial enrollment and for every other kind
#: (changes, revalidations, terminations). Forms an individual files (855I, 855O, and a
#: 588 for an individual) take the practitioner; reassignments are decided in code
#: (855R, an 855I naming one: both parties; a termination: only the terminating one).
_ORGANIZATION_SLOTS: Final[dict[Form, tuple[SignerSlot, SignerSlot]]] = {
    Form.CMS_855B: (AUTHORIZED_OFFICIAL, AUTHORIZED_OR_DELEGATED),
    Form.CMS_855A: (AUTHORIZED_OFFICIAL, AUTHORIZED_OR_DELEGATED),
    Form.CMS_855S: (AUTHORIZED_OFFICIAL, AUTHORIZED_OR_DELEGATED),
    Form.CMS_20134: (AUTHORIZED_OFFICIAL, AUTHORIZED_OR_DELEGATED),
    # CMS-588: "signed by an authorized or delegated official", whatever the kind
    Form.CMS_588: (AUTHORIZED_OR_DELEGATED, AUTHORIZED_OR_DELEGATED),
}


def signer_slots(
    form: Form,
    kind: Kind,
    *,
    reassignment: bool,
    terminated_by: ReassignmentParty | None = None,
    provider_type: ProviderType | None = None,
) -> tuple[SignerSlot, ...]:
    """The required signer slots of an application (Rule SG-1).

    * 855I: the individual practitioner; with a reassignment (and always on
      855R) also an AO or AM/DO of the receiving organization (section 4B).
    * A reassignment termination (855R): only the party ending it, the
      individual or the receiving organization (EN-12).
    * 855O: the practitioner, whatever the kind.
    * 855B, 855A, 855S, 20134: an AO for an initial enrollment; an AO or AM/DO
      for changes, revalidations and terminations.
    * 588: the practitioner for an individual; an AO or AM/DO for an organization
      (*provider_type* says which; EN-1).

    >>> from enrollkit.enrollment import ReassignmentParty as Party
    >>> (slot,) = signer_slots(
    ...     Form.CMS_855R, Kind.REASSIGNMENT_TERMINATION, reassignment=True,
    ...     terminated_by=Party.ORGANIZATION)
    >>> slot.name
    'receiving_organization'
    >>> (eft,) = signer_slots(Form.CMS_588, Kind.INITIAL, reassignment=False,
    ...                       provider_type=ProviderType.PRACTITIONER_GROUP)
    >>> eft.name
    'authorized_or_delegated_official'
    """
    check_form_kind(form, kind)  # EN-1
    if kind is Kind.REASSIGNMENT_TERMINATION:
        if terminated_by is None:
            raise ValidationError(
                "application.incomplete",
                "Say which party terminates the reassignment (the individual or the "
                "receiving organization): only that party signs (EN-12).",
                missing=["reassignment.terminated_by"],
            )
        if terminated_by is ReassignmentParty.INDIVIDUAL:
            return (INDIVIDUAL,)
        return (RECEIVING_ORGANIZATION,)
    if form in (Form.CMS_855I, Form.CMS_855R):
        if form is Form.CMS_855R or reassignment or kind is Kind.REASSIGNMENT:
            return (INDIVIDUAL, RECEIVING_ORGANIZATION)
        return (INDIVIDUAL,)
    filer = check_provider_type(form, provider_type)
    if not filer.is_organization:  # 855O; a 588 for an individual
        return (INDIVIDUAL,)
    initial, other = _ORGANIZATION_SLOTS[form]
    return (initial,) if kind is Kind.INITIAL else (other,)


def slots_of(app: Application) -> tuple[SignerSlot, ...]:
    """The required signer slots of *app* (SG-1, EN-12)."""
    return signer_slots(
        app.form,
        app.kind,
        reassignment=app.reassigns,
        terminated_by=app.terminating_party,
        provider_type=app.provider_type,
    )


def paper_signers(slot: SignerSlot, content: ApplicationContent) -> tuple[str, ...]:
    """Who may sign *slot* on paper (SG-3 amended): the names listed on the record in the
    slot's capacity, the practitioner or an AO or DO, with or without an I&A account."""
    if slot.party is SlotParty.PRACTITIONER:
        return (content.practitioner.full_name,) if content.practitioner else ()
    return tuple(o.name for o in content.officials if o.role in slot.record_roles)


@attrs.frozen
class SignerFacts:
    """What is known about a would-be signer of one slot.

    ``owns_profile``: the user is the individual provider of the application's
    profile (the practitioner slot). ``authority``: access's RO-8 decision
    (:func:`enrollkit.access.decide_signing_authority`) for the slot's
    organization, asked with the slot's roles and the officials listed on the
    record in a listing the slot accepts. ``official``: how the user is listed.
    """

    user_id: str
    owns_profile: bool = False
    authority: Decision | None = None
    official: Official | None = None


@attrs.frozen
class Eligibility:
    """Whether a user may sign a slot, the role they sign in, or why not."""

    eligible: bool
    role: Role | None
    code: str
    reason: str

    def require(self) -> Role:
        """The role signed in, or NotPermittedError with the reason."""
        if self.eligible and self.role is not None:
            return self.role
        raise NotPermittedError(self.code, self.reason)


def listed_for(slot: SignerSlot, officials: Iterable[Official]) -> tuple[str, ...]:
    """Account ids of the officials listed on the record in a way *slot* accepts (SG-1)."""
    return tuple(
        o.account_id for o in officials if o.account_id is not None and o.role in slot.record_roles
    )


def eligibility(slot: SignerSlot, facts: SignerFacts) -> Eligibility:
    """Whether *facts* allow signing *slot* (Rule SG-1; RO-8 is access's decision).

    SEUs, Surrogates and credentialers never sign, whatever their access: the
    practitioner slot takes only the profile's individual provider, and an
    organization slot only the roles it lists (AO, or AO and AM), which access
    checks together with the listing on the record (RO-8).
    """
    if slot.party is SlotParty.PRACTITIONER:
        if facts.owns_profile:
            return Eligibility(True, Role.INDIVIDUAL_PROVIDER, "signature.eligible", "own profile")
        return Eligibility(
            False,
            None,
            "signature.not_the_practitioner",
            f"Only the individual practitioner signs the {slot.name} slot (SG-1); "
            "staff, surrogates and credentialers never sign for them.",
        )
    authority = facts.authority
    if authority is None:
        return Eligibility(
            False,
            None,
            "signature.no_organization",
            f"The {slot.name} slot is signed for an organization the application does not "
            "name; complete the application first (SG-1).",
        )
    if authority.grant is None or authority.grant.role not in slot.roles:
        message = authority.denial.message if authority.denial else "that role does not sign it"
        code = authority.denial.code if authority.denial else "signature.role"
        return Eligibility(
            False,
            None,
            code,
            f"The {slot.name} slot is signed by {slot.describe()} listed on the record "
            f"(SG-1, RO-8): {message}",
        )
    role = authority.grant.role
    return Eligibility(True, role, "signature.eligible", authority.grant.explanation)


def render_forms_table() -> str:
    """The forms table of the docs (EN-1, SG-1, EN-13, EN-15), rendered from the data: each
    form and filer, the kinds it is filed for, who signs, the documents and the fee.

    >>> "| 855O | individual practitioner |" in render_forms_table()
    True
    """
    from enrollkit.enrollment import (
        FEE_FORMS,
        FEE_KINDS,
        FORM_KINDS,
        PROVIDER_TYPES_BY_FORM,
        Requirements,
    )

    rules = Requirements()
    rows = [
        "| form | filed by | kinds | signers | required documents | application fee |",
        "|---|---|---|---|---|---|",
    ]
    for form in Form:
        kinds = sorted(FORM_KINDS[form], key=lambda k: list(Kind).index(k))
        for provider_type in PROVIDER_TYPES_BY_FORM[form]:
            signers: list[str] = []
            documents: list[str] = []
            for kind in kinds:
                party = (
                    ReassignmentParty.INDIVIDUAL if kind is Kind.REASSIGNMENT_TERMINATION else None
                )
                slots = signer_slots(
                    form, kind, reassignment=False, terminated_by=party, provider_type=provider_type
                )
                who = " and ".join(s.describe() for s in slots)
                if kind is Kind.REASSIGNMENT_TERMINATION:
                    who = "only the terminating party (EN-12)"
                signers.append(f"{kind.value.replace('_', ' ')}: {who}")
                for line in rules.checklist_for(form, kind, provider_type):
                    text = f"{line.name}{' [default]' if line.default else ''}"
                    entry = f"{text} ({kind.value.replace('_', ' ')})"
                    documents.append(entry)
            pays = provider_type in FEE_FORMS.get(form, frozenset())
            fee = (
                "yes: "
                + ", ".join(k.value for k in sorted(FEE_KINDS, key=lambda k: k.value))
                + ", new practice location"
                if pays
                else "none"
            )
            rows.append(
                f"| {form.value} | {provider_type.label} | "
                f"{', '.join(k.value.replace('_', ' ') for k in kinds)} | "
                f"{'<br>'.join(signers)} | {'<br>'.join(documents) or 'none'} | {fee} |"
            )
    return "\n".join(rows) + "\n"
