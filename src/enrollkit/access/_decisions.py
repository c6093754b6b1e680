"""Explainable access decisions (Rules CO-7, CO-8, with RO-2..RO-4, RO-6, RO-8).

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
:func:`decide_manage` (may U modify or end an association, RO-6),
:func:`decide_role_change` (may U give an association another role, RO-6 with
RO-3/RO-4), :func:`decide_connection` (may U approve, reject, withdraw or remove
a connection, CO-4/CO-6) and :func:`decide_signing_authority` (RO-8).

This module only decides. The words (CO-8) come from a private module: a
denial is composed there once the answer is no, and a grant carries the
facts of its sentence, composed only when someone reads
:attr:`GrantPath.explanation`, so an allowed decision builds no text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from enrollkit.access import _explain
from enrollkit.access._associations import (
    ASSOCIATIONS,
    ASSOCIATIONS_BY_USER,
    ASSOCIATIONS_LIVE,
    Association,
    Employer,
)
from enrollkit.access._connections import (
    CONNECTIONS,
    CONNECTIONS_BY_PROFILE,
    Connection,
    ConnectionEvent,
    Side,
)
from enrollkit.access._explain import Denial, Fixer, Names, SurrogateLink
from enrollkit.access._organizations import ORGANIZATIONS, PROFILES, Organization, ProviderProfile
from enrollkit.access._roles import (
    VERIFIED_ROLES,
    Action,
    EmployerKind,
    Role,
    System,
    can_grant,
    can_manage,
    permits,
    require_grantable,
)
from enrollkit.access._verification import AuthorizedOfficialVerifier, VerificationStatus
from enrollkit.errors import ValidationError
from enrollkit.npi import NPIType
from enrollkit.runtime import Reads, ReadView
from enrollkit.storage import compose_key, not_found_error, require

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
    "decide_remembered",
    "decide_role_change",
    "decide_signing_authority",
    "employer_of",
    "roles_held",
]


class GrantKind(Enum):
    """The three ways access is granted (CO-7), plus the employer-level grants."""

    OWN_PROFILE = "own_profile"  #: the user is the profile's individual provider
    ASSOCIATION = "association"  #: an active association with the employer
    CONNECTION = "connection"  #: an association with a surrogate that has a connection
    #: the external verification gave the role (RO-3), to a change the user may make
    VERIFICATION = "verification"


_COMPOSE: Final = "_compose_explanation"


class _WrittenWhenRead:
    """A frozen attrs class (``slots=False``) whose field named ``_LATER`` may be left
    unwritten, with the function that writes it stored under ``_COMPOSE``: the field is
    written when it is first read, and copies and pickles carry it written."""

    _LATER: ClassVar[str]

    if not TYPE_CHECKING:  # the type checker keeps its view of the fields

        def __getattr__(self, name: str) -> object:
            # Called only for an attribute not found: a field left unwritten.
            compose = self.__dict__.get(_COMPOSE) if name == self._LATER else None
            if compose is None:
                raise AttributeError(name)
            self.__dict__[name] = value = compose()
            return value

    def __getstate__(self) -> dict[str, object]:
        """Copied or pickled with the field written (the facts it reads stay behind)."""
        getattr(self, self._LATER)
        return {k: v for k, v in self.__dict__.items() if k != _COMPOSE}


@attrs.frozen(slots=False)
class GrantPath(_WrittenWhenRead):
    """How an allowed decision was reached (CO-8).

    A plain value: ``explanation`` is one sentence. The decision functions leave
    it unwritten and compose it when it is first read (by ``explanation``,
    :meth:`Decision.explain`, equality, ``repr`` or ``to_data``), so a grant
    nobody reads costs no text; it reads, compares and serializes (ST-4) as if
    it had been written from the start.
    """

    kind: GrantKind
    role: Role  #: the effective role: IP, the association's role, or SUR
    explanation: str  #: who the user is to whom, and which rule lets them
    profile_id: str | None = None
    organization_id: str | None = None  #: the employer or the surrogate organization
    association_id: str | None = None
    connection_id: str | None = None
    rule: str = "CO-7"
    reference: str | None = None  #: the verifier's reference, for a VERIFICATION grant

    _LATER = "explanation"  #: composed when first read


_GRANT_DEFAULTS: Final = {
    a.name: a.default for a in attrs.fields(GrantPath) if a.default is not attrs.NOTHING
}
_DEFAULT_RULE: Final = str(_GRANT_DEFAULTS["rule"])


def _grant(
    kind: GrantKind,
    role: Role,
    compose: Callable[[], str],
    profile_id: str | None = None,
    organization_id: str | None = None,
    association_id: str | None = None,
    connection_id: str | None = None,
    rule: str = _DEFAULT_RULE,
    reference: str | None = None,
) -> GrantPath:
    """A grant path whose explanation *compose* writes when first read (CO-8): every
    field but the explanation, set at once (a literal: a merged dictionary costs more)."""
    path = _new(GrantPath)
    _set(
        path,
        "__dict__",
        {
            "kind": kind,
            "role": role,
            "profile_id": profile_id,
            "organization_id": organization_id,
            "association_id": association_id,
            "connection_id": connection_id,
            "rule": rule,
            "reference": reference,
            _COMPOSE: compose,
        },
    )
    return path


def _allowed(
    kind: GrantKind,
    role: Role,
    compose: Callable[[], str],
    profile_id: str,
    organization_id: str | None = None,
    association_id: str | None = None,
    connection_id: str | None = None,
) -> Decision:
    """``Decision.allow(_grant(...))`` for the profile-level grants (every access
    decision that is allowed ends here)."""
    return _allow(
        _grant(kind, role, compose, profile_id, organization_id, association_id, connection_id)
    )


_new: Final = object.__new__
#: Gives a new instance its whole ``__dict__`` (the frozen classes refuse attributes).
_set: Final = object.__setattr__


def _regrant(
    base: GrantPath,
    compose: Callable[[], str],
    *,
    kind: GrantKind | None = None,
    **facts: str | None,
) -> GrantPath:
    """*base*'s facts with another sentence (and *facts*), without composing *base*'s."""
    kept = {
        a.name: getattr(base, a.name)
        for a in attrs.fields(GrantPath)
        if a.name not in ("kind", "role", "explanation")
    }
    return _grant(kind or base.kind, base.role, compose, **{**kept, **facts})


@attrs.frozen(slots=False)
class Decision(_WrittenWhenRead):
    """The answer to "may U do A": allowed with a grant path, or denied with a denial.

    A decision read through a :class:`~enrollkit.runtime.ReadView` leaves its denial
    unwritten until it is first read (``denial``, :meth:`require`, :meth:`explain`,
    equality, ``repr``): an answer nobody explains costs no words (CO-8), and reads
    as if it had been written from the start.
    """

    allowed: bool
    grant: GrantPath | None
    denial: Denial | None

    _LATER = "denial"  #: composed when first read (through a read view)

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


def _allow(grant: GrantPath) -> Decision:
    """:meth:`Decision.allow` for a grant built here (the shape needs no check)."""
    decision = _new(Decision)
    _set(decision, "__dict__", {"allowed": True, "grant": grant, "denial": None})
    return decision


def _deny(tx: Reads, compose: Callable[[], Denial]) -> Decision:
    """A denial *compose* writes: when first read if *tx* can be read later, else now."""
    if not tx.explains_later:
        return Decision.deny(compose())
    decision = _new(Decision)
    _set(decision, "__dict__", {"allowed": False, "grant": None, _COMPOSE: compose})
    return decision


# -- lookups (all indexed) -------------------------------------------------------------


def employer_of(profile: ProviderProfile) -> Employer:
    """Whose staff may act for *profile*: its organization (Type 2) or its IP (Type 1)."""
    return Employer(*_employer_ref(profile))


def _employer_ref(profile: ProviderProfile) -> tuple[EmployerKind, str]:
    """:func:`employer_of` as (kind, id), without building the Employer."""
    if profile.npi_type is _TYPE_2 and profile.organization_id is not None:
        return _ORGANIZATION, profile.organization_id
    return _INDIVIDUAL_PROVIDER, profile.id


def _user_associations(tx: Reads, user_id: str) -> Sequence[Association]:
    return tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_USER, user_id)


def _live_association(tx: Reads, user_id: str, employer: Employer) -> Association | None:
    found = tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_LIVE, compose_key(user_id, employer.key))
    return found[0] if found else None


def roles_held(tx: Reads, *, user_id: str, organization_id: str) -> frozenset[Role]:
    """The roles of the user's active associations with the organization (RO-3..RO-6)."""
    live = _live_association(tx, user_id, Employer.organization(organization_id))
    return frozenset({live.role}) if live is not None and live.is_active else frozenset()


# -- decide: profile-level ------------------------------------------------------------


def decide(
    tx: Reads,
    *,
    user_id: str,
    action: Action,
    profile_id: str,
    system: System = System.PECOS,
) -> Decision:
    """May *user_id* do *action* for provider profile *profile_id* in *system* (CO-7, CO-8)?

    Raises NotFoundError for an unknown profile; every other answer is a Decision. An
    account that does not exist (or is disabled) matches nothing and is denied (AC-8).

    The facts come in one read (one statement on SQL): the profile, the user's
    associations and the profile's connections; the answer is a pure function of
    them. Read through a :class:`~enrollkit.runtime.ReadView`, a denial's words are
    composed when first read.
    """
    return _decide(tx, user_id, action, profile_id, system, None)


def decide_remembered(
    view: ReadView,
    *,
    user_id: str,
    action: Action,
    profile_id: str,
    system: System = System.PECOS,
) -> Decision:
    """:func:`decide` on committed state, remembered for the version the view reads.

    The answer is a pure function of the stored facts: time only expires pending
    connection requests (CO-5), which never grant, so an allowed answer stays allowed and
    a denied one denied until a commit changes the facts; then the storage's version
    moves and nothing remembered before is used. What is remembered is the answer, never
    the account check (AC-8): it runs on every call, as :func:`decide` runs it. A
    denial's words are composed from the remembered facts at the view's time.
    """
    memo = view.memo
    if memo is None:
        return _decide(view, user_id, action, profile_id, system, None)
    key = (_DECIDE, user_id, action, profile_id, system)
    known = memo.get(key)
    if known is None:
        return _decide(view, user_id, action, profile_id, system, (memo, key))
    if not view.account_is_known(user_id):
        return _deny(view, partial(_explain.unknown_account, user_id))
    if known.__class__ is Decision:
        return known
    return _denied(view, action, system, *known)


_DECIDE: Final = "decide"


def _denied(
    tx: Reads,
    action: Action,
    system: System,
    profile: ProviderProfile,
    own: Association | None,
    associations: Sequence[Association],
    links: Sequence[tuple[Association, Connection]],
) -> Decision:
    """The denial of a profile-level decision, its words composed at *tx*'s time."""
    now = tx.now
    return _deny(
        tx,
        partial(_profile_denial, tx, action, profile, system, own, associations, links, now),
    )


def _decide(
    tx: Reads,
    user_id: str,
    action: Action,
    profile_id: str,
    system: System,
    remember: tuple[dict[Any, Any], tuple[object, ...]] | None,
) -> Decision:
    """:func:`decide`; with *remember* (a memo and a key), the answer is stored there
    (the decision if allowed, the facts of its denial if denied)."""
    found, associations, connections = tx.fetch(
        (
            (PROFILES, None, profile_id),
            (ASSOCIATIONS, ASSOCIATIONS_BY_USER, user_id),
            (CONNECTIONS, CONNECTIONS_BY_PROFILE, profile_id),
        )
    )
    if not found:
        raise not_found_error(profile_id, what="provider profile")
    profile: ProviderProfile = found[0]
    if not tx.account_is_known(user_id):
        return _deny(tx, partial(_explain.unknown_account, user_id))
    # Path 1: the user is the profile's individual provider.
    if profile.owner_id == user_id and permits(_IP, action):
        decision = _allowed(
            _OWN_PROFILE, _IP, partial(_explain.own_profile_sentence, user_id, profile), profile.id
        )
        if remember is not None:
            remember[0][remember[1]] = decision
        return decision
    kind, employer_id = _employer_ref(profile)
    own = _own_association(associations, kind, employer_id)
    # Path 2: an active association with the profile's employer whose role permits it.
    if own is not None and own.is_active and permits(own.role, action):
        organization = kind is _ORGANIZATION
        where = (
            _name_for_later(tx, employer_id)
            if organization
            else f"the individual provider {profile.legal_name}"
        )
        decision = _allowed(
            _BY_ASSOCIATION,
            own.role,
            partial(_association_sentence, tx, user_id, own, where, action, "RO-2, CO-7"),
            profile.id,
            employer_id if organization else None,
            own.id,
        )
        if remember is not None:
            remember[0][remember[1]] = decision
        return decision
    # Path 3: a surrogate organization of the user with an approved connection covering it.
    now = tx.now
    links = _surrogate_links(associations, connections) if permits(_SURROGATE, action) else []
    for a, c in links:
        if a.is_active and c.covers(system, now):
            surrogate = _name_for_later(tx, c.surrogate_id)
            decision = _allowed(
                _BY_CONNECTION,
                _SURROGATE,
                partial(_connection_sentence, tx, user_id, a, surrogate, c, profile, system),
                profile.id,
                c.surrogate_id,
                a.id,
                c.id,
            )
            if remember is not None:
                remember[0][remember[1]] = decision
            return decision
    if remember is not None:
        remember[0][remember[1]] = (profile, own, associations, links)
    return _denied(tx, action, system, profile, own, associations, links)


def _own_association(
    associations: Sequence[Association], kind: EmployerKind, employer_id: str
) -> Association | None:
    """The user's live (not terminal) association with the employer, if any (RO-6 keeps
    one per user and employer)."""
    own: Association | None = None
    for a in associations:
        if a.employer.id == employer_id and a.employer.kind is kind and not a.state.is_terminal:
            own = a
    return own


def _surrogate_links(
    associations: Sequence[Association], connections: Sequence[Connection]
) -> list[tuple[Association, Connection]]:
    """Each live organization association of the user with each connection of the
    profile to that organization, in id order (path 3 of CO-7)."""
    return [
        (a, c)
        for a in associations
        if a.employer.kind is _ORGANIZATION and not a.state.is_terminal
        for c in connections
        if c.surrogate_id == a.employer.id
    ]


def _profile_denial(
    tx: Reads,
    action: Action,
    profile: ProviderProfile,
    system: System,
    own: Association | None,
    associations: Sequence[Association],
    links: Sequence[tuple[Association, Connection]],
    now: datetime,
) -> Denial:
    tried = [SurrogateLink(a, c) for a, c in links]
    return _explain.profile_denial(
        Names(tx),
        action=action,
        profile=profile,
        employer=employer_of(profile),
        system=system,
        own=own,
        associations=associations,
        links=tried,
        now=now,
    )


def _name_for_later(tx: Reads, organization_id: str) -> str | None:
    """An organization's name for a sentence composed later: ``None`` when *tx* can
    still be read then (the name is read when the sentence is), else read now (a unit
    of work closes)."""
    return None if tx.explains_later else _explain.organization_name(tx, organization_id)


def _association_sentence(
    tx: Reads,
    user_id: str,
    association: Association,
    where: str | None,
    action: Action,
    rules: str,
) -> str:
    if where is None:
        where = _explain.organization_name(tx, association.employer.id)
    return _explain.association_sentence(user_id, association, where, action, rules)


def _connection_sentence(
    tx: Reads,
    user_id: str,
    association: Association,
    surrogate: str | None,
    connection: Connection,
    profile: ProviderProfile,
    system: System,
) -> str:
    if surrogate is None:
        surrogate = _explain.organization_name(tx, connection.surrogate_id)
    return _explain.connection_sentence(
        user_id, association, surrogate, connection, profile, system
    )


# Members read on every decision, bound once (a member read through its class runs
# Python code on 3.11).
_IP: Final = Role.INDIVIDUAL_PROVIDER
_SURROGATE: Final = Role.SURROGATE
_ORGANIZATION: Final = EmployerKind.ORGANIZATION
_INDIVIDUAL_PROVIDER: Final = EmployerKind.INDIVIDUAL_PROVIDER
_TYPE_2: Final = NPIType.ORGANIZATION
_OWN_PROFILE: Final = GrantKind.OWN_PROFILE
_BY_ASSOCIATION: Final = GrantKind.ASSOCIATION
_BY_CONNECTION: Final = GrantKind.CONNECTION


# -- organization-level decisions -------------------------------------------------------


def decide_for_organization(
    tx: Reads, *, user_id: str, action: Action, organization_id: str
) -> Decision:
    """May *user_id* do *action* for the organization itself (RO-2)? For instance manage
    its staff, or manage its connections as a surrogate (CO-3, CO-4)."""
    organization = require(tx.repo(ORGANIZATIONS), organization_id, what="organization")
    employer = Employer.organization(organization_id)
    return _decide_employer(tx, user_id, action, employer, Names(tx, organization))


def _decide_employer(
    tx: Reads, user_id: str, action: Action, employer: Employer, names: Names
) -> Decision:
    """May *user_id* do *action* as staff of *employer* (RO-2)? An IP's staff are asked
    about the IP's profile (CO-7)."""
    if employer.kind is EmployerKind.INDIVIDUAL_PROVIDER:
        return decide(tx, user_id=user_id, action=action, profile_id=employer.id)
    if not tx.account_is_known(user_id):
        return Decision.deny(_explain.unknown_account(user_id))
    live = _live_association(tx, user_id, employer)
    if live is not None and live.is_active and permits(live.role, action):
        where = names.organization(employer.id)
        return Decision.allow(
            _grant(
                GrantKind.ASSOCIATION,
                live.role,
                partial(_explain.association_sentence, user_id, live, where, action, "RO-2"),
                organization_id=employer.id,
                association_id=live.id,
                rule="RO-2",
            )
        )
    if live is not None and not live.is_active:
        return Decision.deny(_explain.pending_association(names, live))
    return Decision.deny(
        _explain.needs_role(
            names, employer, action, held=live, profile=None, subject=names.employer(employer)
        )
    )


def decide_grant(tx: Reads, *, user_id: str, employer: Employer, role: Role) -> Decision:
    """May *user_id* grant or approve *role* with *employer* (RO-3, RO-4)?

    The user must be allowed to manage the employer's staff (RO-2) in a role
    that may approve *role* (an AM cannot grant AM); the AO role is granted
    only by the verifier. Raises ValidationError for a role the employer
    cannot grant at all (an IP's staff are SEUs).
    """
    require_grantable(employer.kind, role)
    names = Names(tx)
    if role in VERIFIED_ROLES:
        return Decision.deny(_explain.needs_verification(names, employer, role))
    base = _decide_employer(tx, user_id, Action.MANAGE_STAFF, employer, names)
    if base.grant is None:
        return base
    held = base.grant.role
    if can_grant(held, role):
        where = names.employer(employer)
        return Decision.allow(
            _regrant(
                base.grant,
                partial(_explain.may_grant_sentence, user_id, held, where, role),
                rule="RO-4",
            )
        )
    return Decision.deny(
        _explain.cannot_grant(
            names, employer, held=held, association_id=base.grant.association_id, role=role
        )
    )


def decide_manage(tx: Reads, *, user_id: str, association: Association) -> Decision:
    """May *user_id* modify or end *association* (RO-6, RO-4)? Its own user never may
    (they cancel instead); the manager's role must outrank the association's (MANAGERS)."""
    names = Names(tx)
    base = _decide_employer(tx, user_id, Action.MANAGE_STAFF, association.employer, names)
    if base.grant is None:
        return base
    own = association.user_id == user_id
    if not own and can_manage(base.grant.role, association.role):
        return base
    return Decision.deny(_explain.cannot_manage(names, association, held=base.grant.role, own=own))


def decide_role_change(
    tx: Reads,
    *,
    user_id: str,
    association: Association,
    role: Role,
    verifier: AuthorizedOfficialVerifier | None = None,
) -> Decision:
    """May *user_id* give *association* the role *role* (RO-6, with RO-3 and RO-4)?

    The user must be able to manage the association as it is (:func:`decide_manage`:
    never their own, never a role that outranks theirs) and to grant the new role
    (:func:`decide_grant`: an AM cannot make anyone AM). The AO role is never granted
    by a user (RO-3): the change is allowed only when *verifier* verifies the
    association's user as AO of the organization, and the grant path says so
    (:attr:`GrantKind.VERIFICATION`, with the verifier's reference). Without a
    verifier, or while it has not verified them, the AO role is denied. Raises
    ValidationError for a role the employer cannot grant at all.
    """
    managing = decide_manage(tx, user_id=user_id, association=association)
    if managing.grant is None:
        return managing
    employer = association.employer
    require_grantable(employer.kind, role)
    if role not in VERIFIED_ROLES:
        granting = decide_grant(tx, user_id=user_id, employer=employer, role=role)
        if granting.grant is None:
            return granting
        held = granting.grant.role
        where = Names(tx).employer(employer)
        return Decision.allow(
            _regrant(
                granting.grant,
                partial(_explain.role_change_sentence, user_id, held, where, association, role),
                rule="RO-6",
            )
        )
    organization = require(tx.repo(ORGANIZATIONS), employer.id, what="organization")
    outcome = verifier.verify(organization, association.user_id) if verifier else None
    if outcome is None or outcome.status is not VerificationStatus.VERIFIED:
        return Decision.deny(_explain.needs_verification(Names(tx, organization), employer, role))
    held = managing.grant.role
    return Decision.allow(
        _regrant(
            managing.grant,
            partial(
                _explain.verified_role_change_sentence,
                user_id,
                held,
                organization.legal_name,
                association,
                role,
                outcome.reference,
            ),
            kind=GrantKind.VERIFICATION,
            rule="RO-3",
            reference=outcome.reference,
        )
    )


def decide_connection(
    tx: Reads, *, user_id: str, connection: Connection, event: ConnectionEvent
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


def _decide_side(tx: Reads, user_id: str, connection: Connection, side: Side) -> Decision:
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
    tx: Reads,
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
    organization: Organization = require(
        tx.repo(ORGANIZATIONS), organization_id, what="organization"
    )
    employer = Employer.organization(organization_id)
    if not tx.account_is_known(user_id):
        return Decision.deny(_explain.unknown_account(user_id))
    live = _live_association(tx, user_id, employer)
    if live is None or not live.is_active or live.role not in accepted:
        return Decision.deny(
            _explain.not_an_official(
                Names(tx, organization), employer, accepted=accepted, live=live
            )
        )
    if user_id not in set(listed_officials):
        return Decision.deny(_explain.not_listed_on_record(Names(tx, organization), employer, live))
    return Decision.allow(
        _grant(
            GrantKind.ASSOCIATION,
            live.role,
            partial(_explain.official_sentence, user_id, live.role, organization.legal_name),
            organization_id=organization_id,
            association_id=live.id,
            rule="RO-8",
        )
    )
