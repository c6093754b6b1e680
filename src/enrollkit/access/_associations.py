"""Employer associations: a user's role with an employer, and how it moves (RO-3..RO-6).

An :class:`Association` says "user U holds role R with employer E". The
employer is an organization, or an individual provider's own profile (the
IP's staff, RO-7). Its life is a state machine (:data:`ASSOCIATION_MACHINE`)
that the code, the docs diagram and the tests read. Each active association
records its :class:`Grant`: who granted the role, holding which role, or the
verifier's reference for an AO (RO-3, RO-4), so "no one holds a role that no
eligible approver granted" can be checked from the data.

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
>>> a = Association("asc-1", "u-1", Employer.organization("org-1"), Role.STAFF_END_USER,
...                 AssociationState.PENDING, requested_at=t)
>>> a = a.approve(now=t, grant=Grant(GrantBasis.ROLE, by="u-2", by_role=Role.ACCESS_MANAGER, at=t))
>>> a.state, a.is_active
(<AssociationState.ACTIVE: 'active'>, True)
>>> a.reject(now=t, actor="u-2")
Traceback (most recent call last):
...
enrollkit.errors.InvalidTransitionError: This association is active; it cannot be rejected (RO-6). ...
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Final

import attrs

from enrollkit._interning import shared, shared_or_none
from enrollkit.access._roles import EmployerKind, Role
from enrollkit.machine import IdentityEnum, StateMachine
from enrollkit.storage import Collection, Index, compose_key

__all__ = [
    "ASSOCIATIONS",
    "ASSOCIATION_MACHINE",
    "Association",
    "AssociationEvent",
    "AssociationState",
    "Employer",
    "Grant",
    "GrantBasis",
]


@attrs.frozen(weakref_slot=False)
class Employer:
    """Whom an association is with: an organization or an IP's own (Type 1) profile."""

    kind: EmployerKind
    id: str = attrs.field(converter=shared)

    @classmethod
    def organization(cls, organization_id: str) -> Employer:
        """The employer that is the organization *organization_id*."""
        return cls(EmployerKind.ORGANIZATION, organization_id)

    @classmethod
    def individual_provider(cls, profile_id: str) -> Employer:
        """The employer that is the individual provider owning Type 1 profile *profile_id*."""
        return cls(EmployerKind.INDIVIDUAL_PROVIDER, profile_id)

    @property
    def key(self) -> str:
        """The employer's index key."""
        return compose_key(self.kind.value, self.id)


class AssociationState(IdentityEnum):
    """Where an association stands (RO-6)."""

    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  #: by the user
    ENDED = "ended"  #: disassociated by an AO/AM (or the IP)

    @property
    def is_terminal(self) -> bool:
        """Whether nothing can happen to the association any more (nothing leaves it)."""
        return self in _TERMINAL


class AssociationEvent(Enum):
    """What can happen to an association."""

    APPROVE = "approve"
    REJECT = "reject"
    MODIFY_ROLE = "modify_role"
    CANCEL = "cancel"
    END = "end"


_S, _E = AssociationState, AssociationEvent

#: Rule RO-6: the association state machine, ``(state, event) -> new state``. A user's
#: request starts pending; an accepted invitation (RO-7) starts active.
ASSOCIATION_MACHINE: Final = StateMachine.from_table(
    AssociationState,
    AssociationEvent,
    """
    association (RO-6), starts pending or active
    pending  approve      -> active     : approved
    pending  reject       -> rejected   : rejected
    pending  cancel       -> cancelled  : cancelled
    active   modify_role  -> active     : given another role
    active   cancel       -> cancelled  : cancelled
    active   end          -> ended      : ended
    """,
    entry_labels={_S.PENDING: "request (RO-6)", _S.ACTIVE: "invitation accepted (RO-7)"},
    advice="Reload it to see its current state.",
)

# Read on every access decision, bound once (a member read through its class runs
# Python code on 3.11).
_TERMINAL: Final = ASSOCIATION_MACHINE.terminal
_ACTIVE: Final = AssociationState.ACTIVE


class GrantBasis(Enum):
    """How a role was granted (RO-3)."""

    ROLE = "role"  #: approved by a user holding an eligible role
    INVITATION = "invitation"  #: invited by a user holding an eligible role (RO-7)
    VERIFIER = "verifier"  #: the external AO verification (the help desk)


@attrs.frozen(weakref_slot=False)
class Grant:
    """Evidence of who granted an association its role (RO-3, RO-4)."""

    basis: GrantBasis
    #: the granting user's id; None for the verifier
    by: str | None = attrs.field(converter=shared_or_none)
    by_role: Role | None  #: the role the granter held with the employer (or IP)
    at: datetime
    reference: str | None = None  #: the verifier's reference or the invitation id


@attrs.frozen
class Association:
    """User *user_id* holds (or asks for) *role* with *employer* (RO-5, RO-6)."""

    id: str
    user_id: str = attrs.field(converter=shared)
    employer: Employer
    role: Role
    state: AssociationState
    requested_at: datetime
    grant: Grant | None = None
    decided_at: datetime | None = None
    decided_by: str | None = attrs.field(default=None, converter=shared_or_none)
    version: int = 0

    @property
    def is_active(self) -> bool:
        """Whether the association currently gives its role."""
        return self.state is _ACTIVE

    def _next(self, event: AssociationEvent) -> AssociationState:
        return ASSOCIATION_MACHINE.next(self.state, event, association_id=self.id)

    def approve(self, *, now: datetime, grant: Grant) -> Association:
        """Activate a pending association with the given grant evidence."""
        state = self._next(AssociationEvent.APPROVE)
        return attrs.evolve(self, state=state, grant=grant, decided_at=now, decided_by=grant.by)

    def reject(self, *, now: datetime, actor: str | None) -> Association:
        """Refuse a pending association."""
        state = self._next(AssociationEvent.REJECT)
        return attrs.evolve(self, state=state, decided_at=now, decided_by=actor)

    def modify_role(self, *, role: Role, grant: Grant) -> Association:
        """Give an active association another role, with the new grant evidence."""
        state = self._next(AssociationEvent.MODIFY_ROLE)
        return attrs.evolve(self, state=state, role=role, grant=grant)

    def cancel(self, *, now: datetime) -> Association:
        """The user withdraws a pending request or leaves an active association."""
        state = self._next(AssociationEvent.CANCEL)
        return attrs.evolve(self, state=state, decided_at=now, decided_by=self.user_id)

    def end(self, *, now: datetime, actor: str) -> Association:
        """An AO/AM (or the IP) ends (disassociates) an active association."""
        state = self._next(AssociationEvent.END)
        return attrs.evolve(self, state=state, decided_at=now, decided_by=actor)


def _live_keys(a: Association) -> list[str]:
    return [] if a.state.is_terminal else [compose_key(a.user_id, a.employer.key)]


def _active_role_keys(a: Association) -> list[str]:
    return [compose_key(a.employer.key, a.role.value)] if a.is_active else []


ASSOCIATIONS_BY_USER: Final = Index[Association]("user", lambda a: [a.user_id])
ASSOCIATIONS_BY_EMPLOYER: Final = Index[Association]("employer", lambda a: [a.employer.key])
#: One live (pending or active) association per user and employer.
ASSOCIATIONS_LIVE: Final = Index[Association]("live_user_employer", _live_keys, unique=True)
#: Active associations by employer and role: how RO-5 counts the AOs left.
ASSOCIATIONS_ACTIVE_ROLE: Final = Index[Association]("active_employer_role", _active_role_keys)

#: The associations collection.
ASSOCIATIONS: Final = Collection(
    "access_associations",
    Association,
    indexes=(
        ASSOCIATIONS_BY_USER,
        ASSOCIATIONS_BY_EMPLOYER,
        ASSOCIATIONS_LIVE,
        ASSOCIATIONS_ACTIVE_ROLE,
    ),
)
