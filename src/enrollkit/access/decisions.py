"""Explainable access decisions (Rules CO-7, CO-8, with RO-2..RO-4).

:func:`decide` is the one function every use case asks "may user U do
action A for provider profile P in system S". It answers with a
:class:`Decision`: either allowed, with the :class:`GrantPath` used (own
profile, employer association, or surrogate connection), or denied, with a
:class:`Denial` naming the missing fact, a stable code and who could supply
it (:class:`Fixer`).

Effective access (CO-7) is granted by exactly three paths:

1. U is P's individual provider (the owner of a Type 1 profile);
2. U holds an active association with P's employer (the organization of a
   Type 2 profile, or the IP of a Type 1 profile) in a role that permits A (RO-2);
3. U holds an active association with a surrogate organization that has an
   approved connection to P covering S; the effective role is Surrogate, which
   permits only acting on behalf (RO-2).

Every lookup goes through an index: the user's associations, then the
connections of each (surrogate organization, profile) pair. Nothing scans.

Sibling functions answer the organization-level questions with the same
kind of decision: :func:`decide_for_organization` (manage staff or
connections of an organization, e.g. a surrogate's AO/AM), :func:`decide_grant`
(may U grant or approve role R with an employer, RO-3/RO-4),
:func:`decide_manage` (may U modify or end an association, RO-6) and
:func:`decide_connection` (may U approve, reject, withdraw or remove a
connection, CO-4/CO-6).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Final

import attrs

from enrollkit.access.associations import (
    ASSOCIATIONS,
    ASSOCIATIONS_BY_USER,
    ASSOCIATIONS_LIVE,
    Association,
    Employer,
)
from enrollkit.access.connections import (
    CONNECTIONS,
    CONNECTIONS_BY_SURROGATE_PROFILE,
    Connection,
    ConnectionEvent,
    ConnectionState,
    Side,
    systems_label,
)
from enrollkit.access.organizations import ORGANIZATIONS, PROFILES, ProviderProfile
from enrollkit.access.roles import (
    GRANTABLE_ROLES,
    MANAGERS,
    VERIFIED_ROLES,
    Action,
    EmployerKind,
    Role,
    System,
    approvers_of,
    can_grant,
    can_manage,
    permits,
    require_grantable,
    roles_permitting,
)
from enrollkit.errors import NotPermittedError, ValidationError, a_or_an, excerpt
from enrollkit.npi import NPIType
from enrollkit.runtime import Transaction
from enrollkit.storage import compose_key, require

__all__ = [
    "Decision",
    "Denial",
    "Fixer",
    "GrantKind",
    "GrantPath",
    "decide",
    "decide_connection",
    "decide_for_organization",
    "decide_grant",
    "decide_manage",
    "decide_signing_authority",
    "employer_of",
    "roles_held",
]


class GrantKind(Enum):
    """The three ways access is granted (CO-7), plus the employer-level grants."""

    OWN_PROFILE = "own_profile"  #: the user is the profile's individual provider
    ASSOCIATION = "association"  #: an active association with the employer
    CONNECTION = "connection"  #: an association with a surrogate that has a connection


@attrs.frozen
class GrantPath:
    """How an allowed decision was reached (CO-8)."""

    kind: GrantKind
    role: Role  #: the effective role: IP, the association's role, or SUR
    explanation: str
    profile_id: str | None = None
    organization_id: str | None = None  #: the employer or the surrogate organization
    association_id: str | None = None
    connection_id: str | None = None
    rule: str = "CO-7"


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
class Decision:
    """The answer to "may U do A": allowed with a grant path, or denied with a denial."""

    allowed: bool
    grant: GrantPath | None
    denial: Denial | None

    def __attrs_post_init__(self) -> None:
        if self.allowed != (self.grant is not None) or self.allowed == (self.denial is not None):
            raise ValidationError(
                "decision.shape",
                "A decision is either allowed with a grant path or denied with a denial.",
            )

    @classmethod
    def allow(cls, grant: GrantPath) -> Decision:
        """An allowed decision."""
        return cls(True, grant, None)

    @classmethod
    def deny(cls, denial: Denial) -> Decision:
        """A denied decision."""
        return cls(False, None, denial)

    def require(self) -> GrantPath:
        """Return the grant path, or raise NotPermittedError carrying the denial (CO-8)."""
        if self.grant is not None:
            return self.grant
        assert self.denial is not None
        raise self.denial.to_error()

    def explain(self) -> str:
        """One sentence: how it was allowed, or why not and who can fix it."""
        if self.grant is not None:
            return self.grant.explanation
        assert self.denial is not None
        return self.denial.message

    def __bool__(self) -> bool:
        return self.allowed


# -- lookups (all indexed) -------------------------------------------------------------


def employer_of(profile: ProviderProfile) -> Employer:
    """Whose staff may act for *profile*: its organization (Type 2) or its IP (Type 1)."""
    if profile.npi_type is NPIType.ORGANIZATION and profile.organization_id is not None:
        return Employer.organization(profile.organization_id)
    return Employer.individual_provider(profile.id)


def _user_associations(tx: Transaction, user_id: str) -> Sequence[Association]:
    return tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_USER, user_id)


def _live_association(tx: Transaction, user_id: str, employer: Employer) -> Association | None:
    found = tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_LIVE, compose_key(user_id, employer.key))
    return found[0] if found else None


def roles_held(tx: Transaction, *, user_id: str, organization_id: str) -> frozenset[Role]:
    """The roles of the user's active associations with the organization (RO-3..RO-6)."""
    live = _live_association(tx, user_id, Employer.organization(organization_id))
    return frozenset({live.role}) if live is not None and live.is_active else frozenset()


class _Names:
    """Human names for messages, loaded by id (one get each, cached per decision)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._orgs: dict[str, str] = {}

    def organization(self, organization_id: str) -> str:
        name = self._orgs.get(organization_id)
        if name is None:
            org = self._tx.repo(ORGANIZATIONS).get(organization_id)
            name = org.legal_name if org is not None else organization_id
            self._orgs[organization_id] = name
        return name

    def employer(self, employer: Employer, profile: ProviderProfile | None = None) -> str:
        if employer.kind is EmployerKind.ORGANIZATION:
            return self.organization(employer.id)
        if profile is None or profile.id != employer.id:
            found = self._tx.repo(PROFILES).get(employer.id)
            return f"the individual provider {found.legal_name}" if found else employer.id
        return f"the individual provider {profile.legal_name}"


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
    names: _Names, employer: Employer, roles: Iterable[Role], *, doing: str
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
    names: _Names, side: Side, profile: ProviderProfile, surrogate_id: str, *, doing: str
) -> tuple[Fixer, ...]:
    """Who manages connections on *side* (CO-4): the IP or an AO/AM of the organization."""
    employer = (
        employer_of(profile) if side is Side.PROVIDER else Employer.organization(surrogate_id)
    )
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
) -> Decision:
    message = f"{missing[0].upper()}{missing[1:]}; {_sentence(fixers)} ({rule})."
    return Decision.deny(
        Denial(
            code,
            missing,
            message,
            tuple(fixers),
            rule,
            connection_id=connection_id,
            association_id=association_id,
        )
    )


def _cheapest_roles(employer: Employer, action: Action) -> list[Role]:
    """Roles an employer can grant that permit *action*, least powerful first."""
    order = [Role.STAFF_END_USER, Role.ACCESS_MANAGER, Role.AUTHORIZED_OFFICIAL]
    return [r for r in order if r in GRANTABLE_ROLES[employer.kind] and permits(r, action)]


def _needs_role(
    names: _Names,
    employer: Employer,
    action: Action,
    *,
    held: Association | None,
    profile: ProviderProfile | None,
    subject: str,
) -> Decision:
    """Deny: the user's role with *employer* (if any) does not permit *action* (RO-2)."""
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


def _pending_association(names: _Names, a: Association, *, why: str) -> Decision:
    where = names.employer(a.employer)
    if a.role in VERIFIED_ROLES:
        fixers: tuple[Fixer, ...] = (
            Fixer(
                None,
                "the CMS help desk verifies Authorized Officials",
                organization_id=a.employer.id,
                verifier=True,
            ),
        )
    else:
        fixers = _employer_fixers(
            names, a.employer, approvers_of(a.role), doing="approve the request"
        )
    missing = f"your {a.role.label} request with {where} is still pending{why}"
    return _deny("access.association_pending", missing, fixers, rule="RO-3", association_id=a.id)


def _unknown_account(user_id: str) -> Decision:
    missing = f"no active account has the id {excerpt(user_id)}"
    return Decision.deny(
        Denial(
            "access.unknown_account",
            missing,
            f"{missing[0].upper()}{missing[1:]}; only a registered, enabled account is "
            "granted anything (AC-8).",
            (),
            "AC-8",
        )
    )


# -- decide: profile-level ------------------------------------------------------------

_CONNECTION_PRIORITY: Final = {
    ConnectionState.APPROVED: 0,  # approved but not covering the system
    ConnectionState.PENDING: 1,
    ConnectionState.EXPIRED: 3,
    ConnectionState.REJECTED: 4,
    ConnectionState.WITHDRAWN: 5,
    ConnectionState.REMOVED: 6,
}


def decide(
    tx: Transaction,
    *,
    user_id: str,
    action: Action,
    profile_id: str,
    system: System = System.PECOS,
) -> Decision:
    """May *user_id* do *action* for provider profile *profile_id* in *system* (CO-7, CO-8)?

    Raises NotFoundError for an unknown profile; every other answer is a Decision. An
    account that does not exist (or is disabled) matches nothing and is denied (AC-8).
    """
    profile = require(tx.repo(PROFILES), profile_id, what="provider profile")
    if not tx.account_is_known(user_id):
        return _unknown_account(user_id)
    now = tx.now
    # Path 1: the user is the profile's individual provider.
    if profile.owner_id == user_id and permits(Role.INDIVIDUAL_PROVIDER, action):
        return Decision.allow(
            GrantPath(
                GrantKind.OWN_PROFILE,
                Role.INDIVIDUAL_PROVIDER,
                f"{user_id} is the individual provider of {profile.label} (CO-7).",
                profile_id=profile.id,
            )
        )
    employer = employer_of(profile)
    associations = _user_associations(tx, user_id)
    own: Association | None = None
    for a in associations:
        if a.employer == employer and not a.state.is_terminal:
            own = a
    # Path 2: an active association with the profile's employer whose role permits it.
    if own is not None and own.is_active and permits(own.role, action):
        names = _Names(tx)
        return Decision.allow(
            GrantPath(
                GrantKind.ASSOCIATION,
                own.role,
                f"{user_id} is {own.role.label} of {names.employer(employer, profile)} "
                f"(association {own.id}), which permits {action.label} (RO-2, CO-7).",
                profile_id=profile.id,
                organization_id=employer.id if employer.kind is EmployerKind.ORGANIZATION else None,
                association_id=own.id,
            )
        )
    # Path 3: a surrogate organization of the user with an approved connection covering it.
    evidence: list[tuple[int, Association, Connection]] = []
    if permits(Role.SURROGATE, action):
        repo = tx.repo(CONNECTIONS)
        for a in associations:
            if a.employer.kind is not EmployerKind.ORGANIZATION or a.state.is_terminal:
                continue
            key = compose_key(a.employer.id, profile.id)
            for c in repo.find(CONNECTIONS_BY_SURROGATE_PROFILE, key):
                if a.is_active and c.covers(system, now):
                    names = _Names(tx)
                    return Decision.allow(
                        GrantPath(
                            GrantKind.CONNECTION,
                            Role.SURROGATE,
                            f"{user_id} is {a.role.label} of {names.organization(a.employer.id)}"
                            f" (association {a.id}), which connection {c.id} lets act on "
                            f"behalf of {profile.label} in {system.value} (CO-7).",
                            profile_id=profile.id,
                            organization_id=a.employer.id,
                            association_id=a.id,
                            connection_id=c.id,
                        )
                    )
                rank = _CONNECTION_PRIORITY[c.effective_state(now)]
                if not a.is_active and c.covers(system, now):
                    rank = 2  # the connection is fine; the user's association is pending
                evidence.append((rank, a, c))
    return _explain_denial(tx, user_id, action, profile, system, own, associations, evidence)


def _explain_denial(
    tx: Transaction,
    user_id: str,
    action: Action,
    profile: ProviderProfile,
    system: System,
    own: Association | None,
    associations: Sequence[Association],
    evidence: list[tuple[int, Association, Connection]],
) -> Decision:
    """Pick the most specific missing fact (CO-8)."""
    names = _Names(tx)
    now = tx.now
    employer = employer_of(profile)
    subject = profile.label
    if own is not None and own.is_active:
        return _needs_role(names, employer, action, held=own, profile=profile, subject=subject)
    if evidence:
        # The most relevant connection: one that asked for this system, then the state
        # closest to access, then the newest request.
        rank, a, c = min(
            evidence,
            key=lambda e: (
                system not in e[2].requested_systems,
                e[0],
                -e[2].requested_at.timestamp(),
                e[2].id,
            ),
        )
        return _explain_connection(names, rank, a, c, profile, system, now)
    if own is not None:
        return _pending_association(names, own, why="")
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
                profile,
                surrogates[0].employer.id,
                doing=f"request {a_or_an(system.value)} connection",
            )
        )
        fixers += _side_fixers(
            names, Side.PROVIDER, profile, "", doing=f"add the surrogate for {system.value}"
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
    return _needs_role(names, employer, action, held=None, profile=profile, subject=subject)


def _explain_connection(
    names: _Names,
    rank: int,
    a: Association,
    c: Connection,
    profile: ProviderProfile,
    system: System,
    now: datetime,
) -> Decision:
    surrogate = names.organization(c.surrogate_id)
    if rank == 2:
        return _pending_association(
            names, a, why=f" (its connection {c.id} to {profile.label} is approved)"
        )
    state = c.effective_state(now)
    approver = _side_fixers(names, c.approver_side, profile, c.surrogate_id, doing="approve it")
    requester = _side_fixers(
        names, Side.SURROGATE, profile, c.surrogate_id, doing=f"request {system.value}"
    )
    provider = _side_fixers(
        names, Side.PROVIDER, profile, c.surrogate_id, doing=f"approve {system.value}"
    )
    if state is ConnectionState.APPROVED:
        missing = (
            f"connection {c.id} from {surrogate} to {profile.label} covers "
            f"{systems_label(c.approved_systems)} only, not {system.value}"
        )
        return _deny(
            "access.system_not_covered",
            missing,
            (*provider, *requester),
            rule="CO-2",
            connection_id=c.id,
        )
    if state is ConnectionState.PENDING:
        missing = (
            f"connection {c.id} from {surrogate} to {profile.label} is pending approval "
            f"until {c.deadline.date().isoformat()}"
        )
        return _deny(
            "access.connection_pending", missing, approver, rule="CO-4", connection_id=c.id
        )
    if state is ConnectionState.EXPIRED:
        missing = (
            f"connection {c.id} from {surrogate} to {profile.label} was rejected "
            f"automatically on {c.deadline.date().isoformat()}: nobody answered it in 30 days"
        )
        return _deny(
            "access.connection_expired",
            missing,
            (*requester, *provider),
            rule="CO-5",
            connection_id=c.id,
        )
    missing = f"connection {c.id} from {surrogate} to {profile.label} was {state.value}"
    return _deny(
        f"access.connection_{state.value}",
        missing,
        (*requester, *provider),
        rule="CO-6",
        connection_id=c.id,
    )


# -- organization-level decisions -------------------------------------------------------


def decide_for_organization(
    tx: Transaction, *, user_id: str, action: Action, organization_id: str
) -> Decision:
    """May *user_id* do *action* for the organization itself (RO-2)? For instance manage
    its staff, or manage its connections as a surrogate (CO-3, CO-4)."""
    require(tx.repo(ORGANIZATIONS), organization_id, what="organization")
    employer = Employer.organization(organization_id)
    return _decide_employer(tx, user_id, action, employer, profile=None)


def _decide_employer(
    tx: Transaction,
    user_id: str,
    action: Action,
    employer: Employer,
    *,
    profile: ProviderProfile | None,
) -> Decision:
    names = _Names(tx)
    if employer.kind is EmployerKind.INDIVIDUAL_PROVIDER:
        profile = profile or require(tx.repo(PROFILES), employer.id, what="provider profile")
        return decide(tx, user_id=user_id, action=action, profile_id=profile.id)
    if not tx.account_is_known(user_id):
        return _unknown_account(user_id)
    live = _live_association(tx, user_id, employer)
    where = names.employer(employer)
    if live is not None and live.is_active and permits(live.role, action):
        return Decision.allow(
            GrantPath(
                GrantKind.ASSOCIATION,
                live.role,
                f"{user_id} is {live.role.label} of {where} (association {live.id}), which "
                f"permits {action.label} (RO-2).",
                organization_id=employer.id,
                association_id=live.id,
                rule="RO-2",
            )
        )
    if live is not None and not live.is_active:
        return _pending_association(names, live, why="")
    return _needs_role(
        names,
        employer,
        action,
        held=live,
        profile=None,
        subject=where,
    )


def decide_grant(tx: Transaction, *, user_id: str, employer: Employer, role: Role) -> Decision:
    """May *user_id* grant or approve *role* with *employer* (RO-3, RO-4)?

    The user must be allowed to manage the employer's staff (RO-2) in a role
    that may approve *role* (an AM cannot grant AM); the AO role is granted
    only by the verifier. Raises ValidationError for a role the employer
    cannot grant at all (an IP's staff are SEUs).
    """
    require_grantable(employer.kind, role)
    names = _Names(tx)
    where = names.employer(employer)
    if role in VERIFIED_ROLES:
        missing = (
            f"the {role.label} role with {where} is granted only by the external "
            "verification, never by another user"
        )
        fixer = Fixer(
            None,
            "the CMS help desk verifies Authorized Officials (request the role to start it)",
            organization_id=employer.id,
            verifier=True,
        )
        return _deny("access.role_needs_verification", missing, (fixer,), rule="RO-3")
    base = _decide_employer(tx, user_id, Action.MANAGE_STAFF, employer, profile=None)
    if base.grant is None:
        return base
    if can_grant(base.grant.role, role):
        return Decision.allow(
            attrs.evolve(
                base.grant,
                explanation=f"{user_id} is {base.grant.role.label} of {where}, who may grant "
                f"the {role.label} role (RO-3, RO-4).",
                rule="RO-4",
            )
        )
    approvers = approvers_of(role)
    missing = (
        f"{a_or_an(base.grant.role.label)} cannot grant the {role.label} role; only "
        f"{_roles_phrase(approvers)} can"
    )
    fixers = _employer_fixers(names, employer, approvers, doing=f"grant the {role.label} role")
    return _deny(
        "access.cannot_grant_role",
        missing,
        fixers,
        rule="RO-4",
        association_id=base.grant.association_id,
    )


def decide_manage(tx: Transaction, *, user_id: str, association: Association) -> Decision:
    """May *user_id* modify or end *association* (RO-6, RO-4)? Its own user never may
    (they cancel instead); the manager's role must outrank the association's (MANAGERS)."""
    names = _Names(tx)
    employer = association.employer
    base = _decide_employer(tx, user_id, Action.MANAGE_STAFF, employer, profile=None)
    if base.grant is None:
        return base
    if association.user_id != user_id and can_manage(base.grant.role, association.role):
        return base
    managers = MANAGERS.get(association.role, frozenset())
    if association.user_id == user_id:
        missing = "you cannot change or end your own association; cancel it instead"
    else:
        missing = (
            f"{a_or_an(base.grant.role.label)} cannot change or end "
            f"{a_or_an(association.role.label)}; "
            f"only {_roles_phrase(managers)} can"
        )
    fixers = _employer_fixers(names, employer, managers, doing="change or end it")
    return _deny(
        "access.cannot_manage_association",
        missing,
        fixers,
        rule="RO-4",
        association_id=association.id,
    )


def decide_connection(
    tx: Transaction, *, user_id: str, connection: Connection, event: ConnectionEvent
) -> Decision:
    """May *user_id* approve, reject, withdraw or remove *connection* (CO-3, CO-4, CO-6)?

    Approve and reject belong to the side that did not initiate, withdraw to the
    side that did, remove to either; on each side: the IP (own profile) or an
    AO/AM of the organization. SEUs and Surrogates never do any of these.
    """
    if event is ConnectionEvent.EXPIRE:
        raise ValidationError(
            "connection.expire_by_user",
            "Connections expire by themselves on day 30 (CO-5); nobody expires one.",
        )
    if event in (ConnectionEvent.APPROVE, ConnectionEvent.REJECT):
        sides: tuple[Side, ...] = (connection.approver_side,)
    elif event is ConnectionEvent.WITHDRAW:
        sides = (connection.initiator,)
    else:
        sides = (Side.PROVIDER, Side.SURROGATE)
    first: Decision | None = None
    for side in sides:
        decision = _decide_side(tx, user_id, connection, side)
        if decision.allowed:
            return decision
        first = first or decision
    assert first is not None
    return first


def _decide_side(tx: Transaction, user_id: str, connection: Connection, side: Side) -> Decision:
    if side is Side.PROVIDER:
        return decide(
            tx, user_id=user_id, action=Action.MANAGE_CONNECTIONS, profile_id=connection.profile_id
        )
    return decide_for_organization(
        tx,
        user_id=user_id,
        action=Action.MANAGE_CONNECTIONS,
        organization_id=connection.surrogate_id,
    )


_SIGNING_ROLES: Final = frozenset({Role.AUTHORIZED_OFFICIAL})


def decide_signing_authority(
    tx: Transaction,
    *,
    user_id: str,
    organization_id: str,
    listed_officials: Iterable[str],
    roles: Iterable[Role] = _SIGNING_ROLES,
) -> Decision:
    """May *user_id* sign a PECOS application for the organization as an official (RO-8)?

    Allowed only when the user holds, in I&A, an active association with the
    organization in one of *roles* (AO by default; pass AO and AM where the
    form accepts an AM/DO, SG-1) **and** is among *listed_officials*, the
    user ids listed as AO/DO on the enrollment record. Holding the role in
    I&A alone is not enough.
    """
    accepted = frozenset(roles)
    names = _Names(tx)
    require(tx.repo(ORGANIZATIONS), organization_id, what="organization")
    employer = Employer.organization(organization_id)
    where = names.organization(organization_id)
    if not tx.account_is_known(user_id):
        return _unknown_account(user_id)
    live = _live_association(tx, user_id, employer)
    if live is None or not live.is_active or live.role not in accepted:
        missing = f"you do not hold the {_roles_phrase(accepted)} role with {where} in I&A" + (
            f" (you are {live.role.label}, {live.state.value})" if live else ""
        )
        if Role.AUTHORIZED_OFFICIAL in accepted:
            fixers: tuple[Fixer, ...] = (
                Fixer(
                    None,
                    "the CMS help desk verifies Authorized Officials",
                    organization_id=organization_id,
                    verifier=True,
                ),
                *_employer_fixers(
                    names,
                    employer,
                    frozenset().union(*(approvers_of(r) for r in accepted)),
                    doing="grant you an official role",
                ),
            )
        else:
            fixers = _employer_fixers(
                names,
                employer,
                frozenset().union(*(approvers_of(r) for r in accepted)),
                doing="grant you the role",
            )
        return _deny(
            "access.not_an_official",
            missing,
            fixers,
            rule="RO-8",
            association_id=live.id if live else None,
        )
    if user_id not in set(listed_officials):
        missing = (
            f"you are {live.role.label} of {where} in I&A but not listed as AO/DO on the "
            "enrollment record"
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
    return Decision.allow(
        GrantPath(
            GrantKind.ASSOCIATION,
            live.role,
            f"{user_id} is {live.role.label} of {where} in I&A and listed as an official on the "
            "enrollment record (RO-8).",
            organization_id=organization_id,
            association_id=live.id,
            rule="RO-8",
        )
    )
