"""Surrogacy connections and their state machine (Rules CO-1..CO-6).

A :class:`Connection` links a surrogate organization (with or without an
NPI) to one provider profile (CO-1) for a non-empty subset of systems
(CO-2). Either side may initiate (CO-3); the other side approves all or a
subset of the systems, or rejects (CO-4). A pending request is expired as
of day 30 after it was requested, whether or not a sweep ran (CO-5):
:meth:`Connection.effective_state` computes it on read. Terminal states never
change (CO-6).

The state machine is :data:`CONNECTION_MACHINE`; the docs diagram is its
:meth:`~enrollkit.machine.StateMachine.mermaid`.

>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> c = Connection("conn-1", surrogate_id="org-s", profile_id="prof-1",
...                requested_systems=systems_of([System.PECOS]), approved_systems=frozenset(),
...                initiator=Side.SURROGATE, requested_by="u-1", requested_at=t0,
...                state=ConnectionState.PENDING)
>>> c.effective_state(t0 + timedelta(days=29, hours=23)).value
'pending'
>>> c.effective_state(t0 + timedelta(days=30)).value
'expired'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from itertools import combinations
from typing import Final

import attrs

from enrollkit._interning import shared, shared_or_none
from enrollkit.access._roles import System
from enrollkit.errors import ExpiredError, InvalidTransitionError, ValidationError
from enrollkit.machine import IdentityEnum, StateMachine
from enrollkit.storage import Collection, Index, ReadRepository, compose_key, time_key
from enrollkit.values import replace

__all__ = [
    "CONNECTIONS",
    "CONNECTIONS_PENDING_DEADLINE",
    "CONNECTION_MACHINE",
    "PENDING_LIFETIME",
    "Connection",
    "ConnectionEvent",
    "ConnectionState",
    "Side",
]

#: Rule CO-5: a pending request is expired as of this long after it was requested.
PENDING_LIFETIME: Final = timedelta(days=30)


class Side(Enum):
    """The two sides of a connection (CO-3)."""

    SURROGATE = "surrogate"
    PROVIDER = "provider"

    @property
    def other(self) -> Side:
        """The opposite side."""
        return Side.PROVIDER if self is Side.SURROGATE else Side.SURROGATE


class ConnectionState(IdentityEnum):
    """Where a connection stands (CO-6)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: rejected automatically on day 30 (CO-5); users read "rejected (no answer in 30
    #: days)" (:attr:`label`, CO-9)
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"

    @property
    def is_terminal(self) -> bool:
        """Whether the state can never change again (CO-6): nothing leaves it."""
        return self in CONNECTION_MACHINE.terminal

    @property
    def label(self) -> str:
        """The state in users' words (CO-9): an expired request reads as
        ``"rejected (no answer in 30 days)"``, whatever the stored state is called."""
        if self is ConnectionState.EXPIRED:
            return "rejected (no answer in 30 days)"
        return str(self.value)


class ConnectionEvent(Enum):
    """What can happen to a connection, and who does it."""

    APPROVE = "approve"  #: the side that did not initiate (CO-4)
    REJECT = "reject"  #: the side that did not initiate (CO-4)
    EXPIRE = "expire"  #: the clock, on day 30 (CO-5)
    WITHDRAW = "withdraw"  #: the side that initiated
    REMOVE = "remove"  #: either side

    @property
    def past(self) -> str:
        """The event in the past tense: ``"approved"``."""
        return CONNECTION_MACHINE.past[self]


_S, _E = ConnectionState, ConnectionEvent

#: Rule CO-6: the connection state machine, ``(state, event) -> new state``. Refusals
#: name the state by its :attr:`~ConnectionState.label` (CO-9).
# Members read on every access decision, bound once (a member read through its class
# runs Python code on 3.11).
_PENDING: Final = ConnectionState.PENDING
_APPROVED: Final = ConnectionState.APPROVED
_EXPIRED: Final = ConnectionState.EXPIRED

CONNECTION_MACHINE: Final = StateMachine.from_table(
    ConnectionState,
    ConnectionEvent,
    """
    connection (CO-6), starts pending
    pending   approve   -> approved   : approved
    pending   reject    -> rejected   : rejected
    pending   expire    -> expired    : expired
    pending   withdraw  -> withdrawn  : withdrawn
    approved  remove    -> removed    : removed
    """,
    entry_labels={_S.PENDING: "request (either side, CO-3)"},
)

# The 8 possible system sets, shared: a connection holds a pointer, not a new frozenset.
_SYSTEM_SETS: Final[dict[frozenset[System], frozenset[System]]] = {
    s: s
    for n in range(len(System) + 1)
    for s in (frozenset(c) for c in combinations(list(System), n))
}


def systems_of(systems: Iterable[System]) -> frozenset[System]:
    """Return the canonical (shared) frozenset of *systems*; refuse non-systems (CO-2)."""
    try:
        values = frozenset(systems)
        return _SYSTEM_SETS[values]
    except (KeyError, TypeError) as exc:
        raise ValidationError(
            "connection.systems",
            f"Systems are among {[s.value for s in System]}; got {systems!r}.",
        ) from exc


def systems_label(systems: Iterable[System]) -> str:
    """``"PECOS and NPPES"``: systems in the enum's order, for messages."""
    names = [s.value for s in System if s in set(systems)]
    if not names:
        return "no system"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _non_empty(_instance: object, _attribute: object, value: frozenset[System]) -> None:
    if not value:
        raise ValidationError(
            "connection.no_systems",
            "A connection covers at least one system: PECOS, NPPES or EHR (CO-2).",
        )


@attrs.frozen
class Connection:
    """Surrogate organization *surrogate_id* may act for profile *profile_id* (CO-1, CO-2)."""

    id: str
    surrogate_id: str = attrs.field(kw_only=True, converter=shared)
    profile_id: str = attrs.field(kw_only=True, converter=shared)
    requested_systems: frozenset[System] = attrs.field(
        kw_only=True, converter=systems_of, validator=_non_empty
    )
    approved_systems: frozenset[System] = attrs.field(kw_only=True, converter=systems_of)
    initiator: Side = attrs.field(kw_only=True)
    requested_by: str = attrs.field(kw_only=True, converter=shared)
    requested_at: datetime = attrs.field(kw_only=True)
    state: ConnectionState = attrs.field(kw_only=True)
    decided_at: datetime | None = attrs.field(default=None, kw_only=True)
    decided_by: str | None = attrs.field(default=None, kw_only=True, converter=shared_or_none)
    version: int = attrs.field(default=0, kw_only=True)

    @property
    def deadline(self) -> datetime:
        """When a pending request expires (CO-5): 30 days after the request."""
        return self.requested_at + PENDING_LIFETIME

    @property
    def approver_side(self) -> Side:
        """The side that approves or rejects: the one that did not initiate (CO-3)."""
        return self.initiator.other

    def effective_state(self, now: datetime) -> ConnectionState:
        """The state as of *now*: pending on or after its deadline reads as expired (CO-5)."""
        if self.state is _PENDING and now >= self.deadline:
            return _EXPIRED
        return self.state

    def covers(self, system: System, now: datetime) -> bool:
        """Whether the connection is approved as of *now* and covers *system* (CO-7)."""
        return self.effective_state(now) is _APPROVED and system in self.approved_systems

    def _next(self, event: ConnectionEvent, now: datetime) -> ConnectionState:
        current = self.effective_state(now)
        if (
            current is ConnectionState.EXPIRED
            and self.state is ConnectionState.PENDING
            and not CONNECTION_MACHINE.allows(current, event)
        ):
            raise ExpiredError(
                "connection.expired",
                "This connection request was rejected automatically on "
                f"{self.deadline.date().isoformat()}: nobody answered it in 30 days (CO-5, "
                f"CO-9); it can no longer be {event.past}. Request a new connection.",
                connection_id=self.id,
                deadline=self.deadline.isoformat(),
            )
        return CONNECTION_MACHINE.next(current, event, connection_id=self.id)

    def approve(
        self, *, now: datetime, actor: str, systems: Iterable[System] | None = None
    ) -> Connection:
        """Approve all requested systems, or a non-empty subset of them (CO-4)."""
        state = self._next(ConnectionEvent.APPROVE, now)
        chosen = self.requested_systems if systems is None else systems_of(systems)
        if not chosen or not chosen <= self.requested_systems:
            raise ValidationError(
                "connection.approve_subset",
                f"Approve a non-empty subset of the requested systems "
                f"({systems_label(self.requested_systems)}); got {systems_label(chosen)} (CO-4).",
                requested=sorted(s.value for s in self.requested_systems),
                given=sorted(s.value for s in chosen),
            )
        return replace(self, state=state, approved_systems=chosen, decided_at=now, decided_by=actor)

    def reject(self, *, now: datetime, actor: str) -> Connection:
        """Refuse a pending request (CO-4)."""
        return self._decide(ConnectionEvent.REJECT, now, actor)

    def withdraw(self, *, now: datetime, actor: str) -> Connection:
        """The initiating side withdraws its pending request (CO-6)."""
        return self._decide(ConnectionEvent.WITHDRAW, now, actor)

    def remove(self, *, now: datetime, actor: str) -> Connection:
        """Either side ends an approved connection (CO-6)."""
        return self._decide(ConnectionEvent.REMOVE, now, actor)

    def expire(self, *, now: datetime) -> Connection:
        """Record the day-30 expiry of a pending request (the sweep, CO-5)."""
        if self.state is not ConnectionState.PENDING or now < self.deadline:
            raise InvalidTransitionError(
                "connection.not_due",
                f"Connection {self.id} is {self.effective_state(now).value} and not past its "
                "30-day deadline; only overdue pending requests expire (CO-5).",
                connection_id=self.id,
            )
        state = CONNECTION_MACHINE.next(self.state, ConnectionEvent.EXPIRE, connection_id=self.id)
        return replace(self, state=state, decided_at=self.deadline)

    def _decide(self, event: ConnectionEvent, now: datetime, actor: str) -> Connection:
        state = self._next(event, now)
        return replace(self, state=state, decided_at=now, decided_by=actor)


def _pending_deadline_keys(c: Connection) -> list[str]:
    return [time_key(c.deadline)] if c.state is ConnectionState.PENDING else []


def _pending_pair_keys(c: Connection) -> list[str]:
    if c.state is not ConnectionState.PENDING:
        return []
    return [compose_key(c.surrogate_id, c.profile_id, c.initiator.value)]


CONNECTIONS_BY_PROFILE: Final = Index[Connection]("profile", lambda c: [c.profile_id])
CONNECTIONS_BY_SURROGATE: Final = Index[Connection]("surrogate", lambda c: [c.surrogate_id])
#: Stored-pending connections by deadline: the sweep reads only what is due (CO-5).
CONNECTIONS_PENDING_DEADLINE: Final = Index[Connection](
    "pending_deadline", _pending_deadline_keys, ordered=True
)
#: Rule CO-10: one stored-pending request per surrogate, profile and direction (the side
#: that opened it), held by storage at commit (a new request first records the day-30
#: expiry of a stale one, freeing the key). Named for its key: a store built before the
#: direction was part of it rebuilds the entries (index evolution).
CONNECTIONS_PENDING_PAIR: Final = Index[Connection](
    "pending_surrogate_profile_side", _pending_pair_keys, unique=True
)

#: The connections collection.
CONNECTIONS: Final = Collection(
    "access_connections",
    Connection,
    indexes=(
        CONNECTIONS_BY_PROFILE,
        CONNECTIONS_BY_SURROGATE,
        CONNECTIONS_PENDING_DEADLINE,
        CONNECTIONS_PENDING_PAIR,
    ),
)


def connections_between(
    repo: ReadRepository[Connection], surrogate_id: str, profile_id: str
) -> list[Connection]:
    """Every connection between surrogate *surrogate_id* and profile *profile_id*, by id:
    the profile's (a profile has a few) of that surrogate."""
    return [
        c for c in repo.find(CONNECTIONS_BY_PROFILE, profile_id) if c.surrogate_id == surrogate_id
    ]
