"""How access decisions explain themselves (Rule CO-8): denials, fixers, grant sentences.

:mod:`enrollkit.access._decisions` decides; this module only finds words. A
denial names the missing fact, a stable code and who could supply it
(:class:`Fixer`); choosing the most specific missing fact among several
(:func:`profile_denial`) is explaining too, so it lives here. A grant's
sentence is composed only when someone reads it: the deciding code hands
:class:`~enrollkit.access._decisions.GrantPath` one of the ``*_sentence``
functions with its facts, never a finished string, so a granted decision costs
no string building (the fast path every use case asks).

Nothing here decides: every function is called with the facts a decision
already found, and reads storage only for people's and organizations' names.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Final

import attrs

from enrollkit.access._associations import Association, Employer
from enrollkit.access._connections import Connection, ConnectionState, Side, systems_label
from enrollkit.access._organizations import ORGANIZATIONS, PROFILES, Organization, ProviderProfile
from enrollkit.access._roles import (
    GRANTABLE_ROLES,
    MANAGERS,
    VERIFIED_ROLES,
    Action,
    EmployerKind,
    Role,
    System,
    approvers_of,
    permits,
    roles_permitting,
)
from enrollkit.errors import NotPermittedError, a_or_an, excerpt
from enrollkit.runtime import Reads

__all__ = [
    "Denial",
    "Fixer",
    "Names",
    "Shortfall",
    "SurrogateLink",
    "association_sentence",
    "cannot_grant",
    "cannot_manage",
    "connection_sentence",
    "may_grant_sentence",
    "needs_role",
    "needs_verification",
    "not_an_official",
    "not_listed_on_record",
    "official_sentence",
    "organization_name",
    "own_profile_sentence",
    "pending_association",
    "profile_denial",
    "role_change_sentence",
    "unknown_account",
    "verified_role_change_sentence",
]


# -- the shapes of an explanation -----------------------------------------------------


@attrs.frozen
class Fixer:
    """Who could supply a missing fact: a role with an organization or a profile's IP,
    or (``verifier=True``) the external AO verification (RO-3)."""

    role: Role | None
    description: str  #: "an AO or AM of Acme Clinic PLLC"
    organization_id: str | None = None
    profile_id: str | None = None
    verifier: bool = False


@attrs.frozen
class Denial:
    """Why a decision said no (CO-8): a stable code, the missing fact, who can fix it."""

    code: str
    missing: str  #: the missing fact, as a phrase
    message: str  #: a sentence a person can act on (missing fact + who can fix it)
    fixers: tuple[Fixer, ...]
    rule: str
    connection_id: str | None = None
    association_id: str | None = None

    def to_error(self) -> NotPermittedError:
        """The refusal as the error a use case raises."""
        return NotPermittedError(
            self.code,
            self.message,
            missing=self.missing,
            rule=self.rule,
            fixers=[
                {
                    "role": f.role.value if f.role else None,
                    "organization_id": f.organization_id,
                    "profile_id": f.profile_id,
                    "verifier": f.verifier,
                    "description": f.description,
                }
                for f in self.fixers
            ],
            connection_id=self.connection_id,
            association_id=self.association_id,
        )


@attrs.frozen
class SurrogateLink:
    """A connection of one of the user's surrogate organizations to the profile, found
    while deciding, that did not grant access (CO-7): the evidence a denial explains."""

    association: Association  #: the user's (pending or active) association with the surrogate
    connection: Connection


class Shortfall(Enum):
    """What kept a :class:`SurrogateLink` from granting access, declared closest to
    access first: a denial names the closest one (CO-8)."""

    SYSTEM_NOT_COVERED = "system_not_covered"  #: approved, for other systems (CO-2)
    CONNECTION_PENDING = "connection_pending"  #: awaiting the other side (CO-4)
    ASSOCIATION_PENDING = "association_pending"  #: it covers the system; the user's role is pending
    CONNECTION_EXPIRED = "connection_expired"  #: nobody answered in 30 days (CO-5)
    CONNECTION_REJECTED = "connection_rejected"  #: ended (CO-6)
    CONNECTION_WITHDRAWN = "connection_withdrawn"
    CONNECTION_REMOVED = "connection_removed"

    @property
    def closeness(self) -> int:
        """0 for the shortfall closest to access, then in declaration order."""
        return _CLOSENESS[self]


_CLOSENESS: Final = {shortfall: n for n, shortfall in enumerate(Shortfall)}
_SHORTFALL_OF_STATE: Final = {
    ConnectionState.APPROVED: Shortfall.SYSTEM_NOT_COVERED,
    ConnectionState.PENDING: Shortfall.CONNECTION_PENDING,
    ConnectionState.EXPIRED: Shortfall.CONNECTION_EXPIRED,
    ConnectionState.REJECTED: Shortfall.CONNECTION_REJECTED,
    ConnectionState.WITHDRAWN: Shortfall.CONNECTION_WITHDRAWN,
    ConnectionState.REMOVED: Shortfall.CONNECTION_REMOVED,
}


@attrs.frozen(order=True)
class _Relevance:
    """How much a link's story matters to the question; the smallest is told (CO-8)."""

    asked_for_other_systems: bool  #: False first: a request that asked for this system
    closeness: int  #: then the shortfall closest to access
    newest_first: float  #: then the newest request
    connection_id: str  #: then a stable order


@attrs.frozen
class _Lead:
    """A link and its shortfall, ready to be compared and told."""

    link: SurrogateLink
    shortfall: Shortfall

    @classmethod
    def of(cls, link: SurrogateLink, system: System, now: datetime) -> _Lead:
        connection = link.connection
        if not link.association.is_active and connection.covers(system, now):
            return cls(link, Shortfall.ASSOCIATION_PENDING)
        return cls(link, _SHORTFALL_OF_STATE[connection.effective_state(now)])

    def relevance(self, system: System) -> _Relevance:
        connection = self.link.connection
        return _Relevance(
            system not in connection.requested_systems,
            self.shortfall.closeness,
            -connection.requested_at.timestamp(),
            connection.id,
        )


# -- names ---------------------------------------------------------------------------


def organization_name(tx: Reads, organization_id: str) -> str:
    """The organization's legal name (its id when it is gone)."""
    org = tx.repo(ORGANIZATIONS).get(organization_id)
    return org.legal_name if org is not None else organization_id


class Names:
    """Human names for messages, loaded by id (one get each, cached per decision)."""

    __slots__ = ("_orgs", "_tx")

    def __init__(self, tx: Reads, *known: Organization) -> None:
        self._tx = tx
        self._orgs: dict[str, str] = {org.id: org.legal_name for org in known}

    def organization(self, organization_id: str) -> str:
        """The organization's legal name."""
        name = self._orgs.get(organization_id)
        if name is None:
            name = self._orgs[organization_id] = organization_name(self._tx, organization_id)
        return name

    def employer(self, employer: Employer, profile: ProviderProfile | None = None) -> str:
        """An organization's legal name, or "the individual provider <name>"."""
        if employer.kind is EmployerKind.ORGANIZATION:
            return self.organization(employer.id)
        if profile is None or profile.id != employer.id:
            found = self._tx.repo(PROFILES).get(employer.id)
            return f"the individual provider {found.legal_name}" if found else employer.id
        return f"the individual provider {profile.legal_name}"


# -- grant sentences (composed only when read) ----------------------------------------


def _is_role_of(user_id: str, role: Role, where: str) -> str:
    """Who the user is to whom, the start of most grant sentences."""
    return f"{user_id} is {role.label} of {where}"


def _may_change(user_id: str, held: Role, where: str, association: Association) -> str:
    """RO-6: the user's role lets them change *association*."""
    return f"{_is_role_of(user_id, held, where)}, who may change association {association.id}"


def own_profile_sentence(user_id: str, profile: ProviderProfile) -> str:
    """Path 1 of CO-7."""
    return f"{user_id} is the individual provider of {profile.label} (CO-7)."


def association_sentence(
    user_id: str, association: Association, where: str, action: Action, rules: str
) -> str:
    """Path 2 of CO-7, or an organization-level grant (RO-2)."""
    return (
        f"{_is_role_of(user_id, association.role, where)} (association {association.id}), "
        f"which permits {action.label} ({rules})."
    )


def connection_sentence(
    user_id: str,
    association: Association,
    surrogate: str,
    connection: Connection,
    profile: ProviderProfile,
    system: System,
) -> str:
    """Path 3 of CO-7."""
    return (
        f"{_is_role_of(user_id, association.role, surrogate)} (association {association.id}),"
        f" which connection {connection.id} lets act on behalf of {profile.label} in "
        f"{system.value} (CO-7)."
    )


def may_grant_sentence(user_id: str, held: Role, where: str, role: Role) -> str:
    """RO-3, RO-4: the user may grant or approve *role*."""
    holder = _is_role_of(user_id, held, where)
    return f"{holder}, who may grant the {role.label} role (RO-3, RO-4)."


def role_change_sentence(
    user_id: str, held: Role, where: str, association: Association, role: Role
) -> str:
    """RO-6 with RO-4: the user may give the association another role."""
    may_change = _may_change(user_id, held, where, association)
    return f"{may_change} from {association.role.label} to {role.label} (RO-4, RO-6)."


def verified_role_change_sentence(
    user_id: str,
    held: Role,
    where: str,
    association: Association,
    role: Role,
    reference: str | None,
) -> str:
    """RO-6 with RO-3: the verifier verified the association's user in *role*."""
    ticket = f" (reference {reference})" if reference else ""
    return (
        f"{_may_change(user_id, held, where, association)}, and the verifier verified "
        f"{association.user_id} as {role.label}{ticket} (RO-3, RO-6)."
    )


def official_sentence(user_id: str, held: Role, where: str) -> str:
    """RO-8: the user holds an official role in I&A and is listed on the record."""
    return (
        f"{_is_role_of(user_id, held, where)} in I&A and listed as an official on the "
        "enrollment record (RO-8)."
    )


# -- phrases and fixers -----------------------------------------------------------------


def _roles_phrase(roles: Iterable[Role]) -> str:
    return _phrase(frozenset(roles))


@functools.cache
def _phrase(roles: frozenset[Role]) -> str:
    names = [r.value for r in Role if r in roles]
    if not names:
        return "no role"
    return names[0] if len(names) == 1 else " or ".join([", ".join(names[:-1]), names[-1]])


@functools.cache
def _holdable(kind: EmployerKind, roles: frozenset[Role]) -> tuple[Role, ...]:
    """Of *roles*, those a user can hold with an employer of *kind*, in RO-1 order
    (with an IP as employer, the IP and the staff roles of their profile; with an
    organization, its grantable roles)."""
    held = GRANTABLE_ROLES[kind] | (
        {Role.INDIVIDUAL_PROVIDER} if kind is EmployerKind.INDIVIDUAL_PROVIDER else set()
    )
    return tuple(r for r in Role if r in roles and r in held)


def _employer_fixers(
    names: Names, employer: Employer, roles: Iterable[Role], *, doing: str
) -> tuple[Fixer, ...]:
    """Holders of *roles* with *employer* (AO/AM of an organization, or the IP and the
    IP's Access Managers, RO-5)."""
    holders = _holdable(employer.kind, frozenset(roles))
    if employer.kind is EmployerKind.INDIVIDUAL_PROVIDER:
        who = names.employer(employer)
        staff = [r.value for r in holders if r is not Role.INDIVIDUAL_PROVIDER]
        if Role.INDIVIDUAL_PROVIDER in holders and staff:
            who += f" or {a_or_an(' or '.join(staff))} of theirs"
        elif staff:
            who = f"{a_or_an(' or '.join(staff))} of {who}"
        return tuple(Fixer(role, f"{who} can {doing}", profile_id=employer.id) for role in holders)
    where = names.organization(employer.id)
    description = f"an {_phrase(frozenset(holders))} of {where} can {doing}"
    return tuple(Fixer(role, description, organization_id=employer.id) for role in holders)


#: Rule RO-2's column "approve/manage connections" (CO-4: SEUs and Surrogates never).
_CONNECTION_MANAGERS: Final = roles_permitting(Action.MANAGE_CONNECTIONS)


def _side_fixers(
    names: Names, side: Side, provider: Employer, surrogate_id: str, *, doing: str
) -> tuple[Fixer, ...]:
    """Who manages connections on *side* (CO-4): the IP or an AO/AM of the organization
    (*provider* is the profile's employer)."""
    employer = provider if side is Side.PROVIDER else Employer.organization(surrogate_id)
    return _employer_fixers(names, employer, _CONNECTION_MANAGERS, doing=doing)


def _sentence(fixers: Sequence[Fixer]) -> str:
    seen: list[str] = []
    for fixer in fixers:
        if fixer.description not in seen:
            seen.append(fixer.description)
    return "; ".join(seen)


def _deny(
    code: str,
    missing: str,
    fixers: Sequence[Fixer],
    *,
    rule: str,
    connection_id: str | None = None,
    association_id: str | None = None,
) -> Denial:
    message = f"{missing[0].upper()}{missing[1:]}; {_sentence(fixers)} ({rule})."
    return Denial(
        code,
        missing,
        message,
        tuple(fixers),
        rule,
        connection_id=connection_id,
        association_id=association_id,
    )


def _verifier_fixer(organization_id: str, description: str) -> Fixer:
    return Fixer(None, description, organization_id=organization_id, verifier=True)


# -- denials ------------------------------------------------------------------------------


def unknown_account(user_id: str) -> Denial:
    """AC-8: the id is no account, or a disabled one."""
    missing = f"no active account has the id {excerpt(user_id)}"
    return Denial(
        "access.unknown_account",
        missing,
        f"{missing[0].upper()}{missing[1:]}; only a registered, enabled account is "
        "granted anything (AC-8).",
        (),
        "AC-8",
    )


def _cheapest_roles(employer: Employer, action: Action) -> list[Role]:
    """Roles an employer can grant that permit *action*, least powerful first."""
    order = [Role.STAFF_END_USER, Role.ACCESS_MANAGER, Role.AUTHORIZED_OFFICIAL]
    return [r for r in order if r in GRANTABLE_ROLES[employer.kind] and permits(r, action)]


def needs_role(
    names: Names,
    employer: Employer,
    action: Action,
    *,
    held: Association | None,
    profile: ProviderProfile | None,
    subject: str,
) -> Denial:
    """The user's role with *employer* (if any) does not permit *action* (RO-2)."""
    candidates = _cheapest_roles(employer, action)
    where = names.employer(employer, profile)
    if not candidates:
        # Nobody can be granted this at an IP: only the IP does it (e.g. an IP's staff).
        missing = f"only {where} may {action.label} for {subject}"
        if held is not None:
            missing += f" (you are {held.role.label} staff)"
        fixers = _employer_fixers(
            names, employer, {Role.INDIVIDUAL_PROVIDER}, doing=f"{action.label} themselves"
        )
        code = "access.role_not_permitted" if held is not None else "access.not_associated"
        return _deny(code, missing, fixers, rule="RO-2", association_id=held.id if held else None)
    needed = candidates[0]
    approvers = approvers_of(needed)
    if held is not None:
        missing = (
            f"the {held.role.label} role with {where} does not permit {action.label}; "
            f"that needs {_roles_phrase(candidates)}"
        )
        code = "access.role_not_permitted"
    else:
        missing = (
            f"you have no active association with {where} in a role that permits "
            f"{action.label} ({_roles_phrase(candidates)})"
        )
        code = "access.not_associated"
    granters = _employer_fixers(names, employer, approvers, doing=f"grant the {needed.label} role")
    doers = _employer_fixers(
        names, employer, (*candidates, Role.INDIVIDUAL_PROVIDER), doing=f"{action.label} for you"
    )  # the IP, for their own profile, besides whoever holds a role that permits it
    return _deny(
        code, missing, (*granters, *doers), rule="RO-2", association_id=held.id if held else None
    )


def pending_association(names: Names, association: Association, *, why: str = "") -> Denial:
    """RO-3: the user's own role request is not approved yet."""
    where = names.employer(association.employer)
    if association.role in VERIFIED_ROLES:
        fixers: tuple[Fixer, ...] = (
            _verifier_fixer(
                association.employer.id, "the CMS help desk verifies Authorized Officials"
            ),
        )
    else:
        fixers = _employer_fixers(
            names, association.employer, approvers_of(association.role), doing="approve the request"
        )
    missing = f"your {association.role.label} request with {where} is still pending{why}"
    return _deny(
        "access.association_pending", missing, fixers, rule="RO-3", association_id=association.id
    )


def profile_denial(
    names: Names,
    *,
    action: Action,
    profile: ProviderProfile,
    employer: Employer,
    system: System,
    own: Association | None,
    associations: Sequence[Association],
    links: Sequence[SurrogateLink],
    now: datetime,
) -> Denial:
    """Why none of CO-7's three paths grants *action* on *profile*: the most specific
    missing fact (CO-8). *own* is the user's live association with the profile's
    *employer*, *links* the connections of their surrogates that were tried."""
    subject = profile.label
    if own is not None and own.is_active:
        return needs_role(names, employer, action, held=own, profile=profile, subject=subject)
    if links:
        leads = [_Lead.of(link, system, now) for link in links]
        closest = min(leads, key=lambda lead: lead.relevance(system))
        return _connection_denial(names, closest, profile, employer, system, now)
    if own is not None:
        return pending_association(names, own)
    surrogates = [
        a
        for a in associations
        if a.employer.kind is EmployerKind.ORGANIZATION and not a.state.is_terminal
    ]
    if permits(Role.SURROGATE, action) and surrogates:
        orgs = sorted({names.organization(a.employer.id) for a in surrogates})
        missing = f"no connection from {' or '.join(orgs)} to {subject} covers {system.value}"
        fixers = list(
            _side_fixers(
                names,
                Side.SURROGATE,
                employer,
                surrogates[0].employer.id,
                doing=f"request {a_or_an(system.value)} connection",
            )
        )
        fixers += _side_fixers(
            names, Side.PROVIDER, employer, "", doing=f"add the surrogate for {system.value}"
        )
        return _deny("access.no_connection", missing, fixers, rule="CO-7")
    if permits(Role.SURROGATE, action):
        where = names.employer(employer, profile)
        missing = (
            f"you have no active association with {where}, nor with a surrogate "
            f"organization connected to {subject}"
        )
        staff = _employer_fixers(
            names, employer, approvers_of(Role.STAFF_END_USER), doing="approve you as staff"
        )
        return _deny("access.not_associated", missing, staff, rule="CO-7")
    return needs_role(names, employer, action, held=None, profile=profile, subject=subject)


def _connection_denial(
    names: Names,
    lead: _Lead,
    profile: ProviderProfile,
    employer: Employer,
    system: System,
    now: datetime,
) -> Denial:
    association, c = lead.link.association, lead.link.connection
    if lead.shortfall is Shortfall.ASSOCIATION_PENDING:
        return pending_association(
            names, association, why=f" (its connection {c.id} to {profile.label} is approved)"
        )
    surrogate = names.organization(c.surrogate_id)
    between = f"connection {c.id} from {surrogate} to {profile.label}"
    approver = _side_fixers(names, c.approver_side, employer, c.surrogate_id, doing="approve it")
    requester = _side_fixers(
        names, Side.SURROGATE, employer, c.surrogate_id, doing=f"request {system.value}"
    )
    provider = _side_fixers(
        names, Side.PROVIDER, employer, c.surrogate_id, doing=f"approve {system.value}"
    )
    ask_again = (*requester, *provider)  # request again, then the provider approves
    if lead.shortfall is Shortfall.SYSTEM_NOT_COVERED:
        missing = f"{between} covers {systems_label(c.approved_systems)} only, not {system.value}"
        fixers = (*provider, *requester)  # the provider approves the system first
        return _deny("access.system_not_covered", missing, fixers, rule="CO-2", connection_id=c.id)
    if lead.shortfall is Shortfall.CONNECTION_PENDING:
        missing = f"{between} is pending approval until {c.deadline.date().isoformat()}"
        return _deny(
            "access.connection_pending", missing, approver, rule="CO-4", connection_id=c.id
        )
    if lead.shortfall is Shortfall.CONNECTION_EXPIRED:
        missing = (
            f"{between} was rejected automatically on {c.deadline.date().isoformat()}: "
            "nobody answered it in 30 days"
        )
        return _deny(
            "access.connection_expired", missing, ask_again, rule="CO-5", connection_id=c.id
        )
    state = c.effective_state(now)
    return _deny(
        f"access.connection_{state.value}",
        f"{between} was {state.value}",
        ask_again,
        rule="CO-6",
        connection_id=c.id,
    )


def needs_verification(names: Names, employer: Employer, role: Role) -> Denial:
    """RO-3: the AO role comes only from the external verification."""
    missing = (
        f"the {role.label} role with {names.employer(employer)} is granted only by the "
        "external verification, never by another user"
    )
    fixer = _verifier_fixer(
        employer.id,
        "the CMS help desk verifies Authorized Officials (request the role to start it)",
    )
    return _deny("access.role_needs_verification", missing, (fixer,), rule="RO-3")


def cannot_grant(
    names: Names, employer: Employer, *, held: Role, association_id: str | None, role: Role
) -> Denial:
    """RO-4: the user's role (*held*) may not grant *role*."""
    approvers = approvers_of(role)
    missing = (
        f"{a_or_an(held.label)} cannot grant the {role.label} role; only "
        f"{_roles_phrase(approvers)} can"
    )
    fixers = _employer_fixers(names, employer, approvers, doing=f"grant the {role.label} role")
    return _deny(
        "access.cannot_grant_role", missing, fixers, rule="RO-4", association_id=association_id
    )


def cannot_manage(names: Names, association: Association, *, held: Role, own: bool) -> Denial:
    """RO-6, RO-4: the user may not change or end *association* (their own, or one whose
    role outranks *held*)."""
    managers = MANAGERS.get(association.role, frozenset())
    if own:
        missing = "you cannot change or end your own association; cancel it instead"
    else:
        missing = (
            f"{a_or_an(held.label)} cannot change or end {a_or_an(association.role.label)}; "
            f"only {_roles_phrase(managers)} can"
        )
    fixers = _employer_fixers(names, association.employer, managers, doing="change or end it")
    return _deny(
        "access.cannot_manage_association",
        missing,
        fixers,
        rule="RO-4",
        association_id=association.id,
    )


def not_an_official(
    names: Names, employer: Employer, *, accepted: frozenset[Role], live: Association | None
) -> Denial:
    """RO-8: the user does not hold an accepted official role with the organization."""
    where = names.organization(employer.id)
    missing = f"you do not hold the {_roles_phrase(accepted)} role with {where} in I&A" + (
        f" (you are {live.role.label}, {live.state.value})" if live else ""
    )
    approvers = frozenset[Role]().union(*(approvers_of(r) for r in accepted))
    fixers: tuple[Fixer, ...]
    if Role.AUTHORIZED_OFFICIAL in accepted:
        fixers = (
            _verifier_fixer(employer.id, "the CMS help desk verifies Authorized Officials"),
            *_employer_fixers(names, employer, approvers, doing="grant you an official role"),
        )
    else:
        fixers = _employer_fixers(names, employer, approvers, doing="grant you the role")
    return _deny(
        "access.not_an_official",
        missing,
        fixers,
        rule="RO-8",
        association_id=live.id if live else None,
    )


def not_listed_on_record(names: Names, employer: Employer, live: Association) -> Denial:
    """RO-8: an official in I&A who is not listed as AO/DO on the enrollment record."""
    missing = (
        f"you are {live.role.label} of {names.organization(employer.id)} in I&A but not "
        "listed as AO/DO on the enrollment record"
    )
    fixers = _employer_fixers(
        names,
        employer,
        {Role.AUTHORIZED_OFFICIAL},
        doing="add you to the record with a change of information",
    )
    return _deny(
        "access.not_listed_on_record", missing, fixers, rule="RO-8", association_id=live.id
    )
