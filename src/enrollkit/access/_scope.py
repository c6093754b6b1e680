"""Whom a user acts for, and My Pending Connections (Rules CO-7, CO-9).

:func:`scope_of` gathers, through indexes, the provider profiles and
organizations a user is tied to: profiles they own, profiles of the
organizations (or individual providers, RO-5) they hold an active association
with, and those organizations. Whether the user may *do* anything there is
still for :mod:`enrollkit.access._decisions` to say.

:func:`pending_connections_for` is the "My Pending Connections" screen of the
credentialer's guide (CO-9): every pending request, across all of the user's
profiles and organizations, that :func:`~enrollkit.access.decide_connection`
lets the user approve, with the days left before it is rejected
automatically (CO-5).
"""

from __future__ import annotations

from datetime import datetime

import attrs

from enrollkit.access._associations import ASSOCIATIONS, ASSOCIATIONS_BY_USER
from enrollkit.access._connections import (
    CONNECTIONS,
    CONNECTIONS_BY_PROFILE,
    CONNECTIONS_BY_SURROGATE,
    Connection,
    ConnectionEvent,
    ConnectionState,
    Side,
)
from enrollkit.access._decisions import decide_connection
from enrollkit.access._organizations import (
    ORGANIZATIONS,
    PROFILES,
    PROFILES_BY_ORGANIZATION,
    PROFILES_BY_OWNER,
)
from enrollkit.access._roles import EmployerKind
from enrollkit.clock import days_left, ensure_utc
from enrollkit.npi import NPI
from enrollkit.runtime import Transaction

__all__ = ["PendingConnection", "Scope", "pending_connections_for", "scope_of"]


@attrs.frozen
class Scope:
    """The profiles and organizations a user is tied to (CO-7), in a stable order."""

    profile_ids: tuple[str, ...]  #: owned, or of an employer with an active association
    organization_ids: tuple[str, ...]  #: organizations with an active association


def scope_of(tx: Transaction, user_id: str) -> Scope:
    """The user's own profiles, their employers' profiles and their organizations."""
    profiles: dict[str, None] = {
        p.id: None for p in tx.repo(PROFILES).find(PROFILES_BY_OWNER, user_id)
    }
    organizations: dict[str, None] = {}
    for association in tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_USER, user_id):
        if not association.is_active:
            continue
        employer = association.employer
        if employer.kind is EmployerKind.INDIVIDUAL_PROVIDER:
            profiles[employer.id] = None
            continue
        organizations[employer.id] = None
        for profile in tx.repo(PROFILES).find(PROFILES_BY_ORGANIZATION, employer.id):
            profiles[profile.id] = None
    return Scope(tuple(profiles), tuple(organizations))


def _utc(value: datetime) -> datetime:
    return ensure_utc(value)


@attrs.frozen
class PendingConnection:
    """One row of My Pending Connections (CO-9): the request, who asks whom, days left."""

    connection: Connection
    answering_side: Side  #: the side the user answers for (the one that did not initiate)
    profile_name: str
    profile_npi: NPI
    surrogate_name: str
    deadline: datetime = attrs.field(converter=_utc)  #: rejected automatically then (CO-5)
    days_left: int  #: whole days before that, the one days-left function (EN-9)

    @property
    def connection_id(self) -> str:
        """The request's id, as Approve All Selected takes it."""
        return self.connection.id


def _candidates(tx: Transaction, scope: Scope) -> dict[str, Connection]:
    found: dict[str, Connection] = {}
    repo = tx.repo(CONNECTIONS)
    for profile_id in scope.profile_ids:
        for connection in repo.find(CONNECTIONS_BY_PROFILE, profile_id):
            found.setdefault(connection.id, connection)
    for organization_id in scope.organization_ids:
        for connection in repo.find(CONNECTIONS_BY_SURROGATE, organization_id):
            found.setdefault(connection.id, connection)
    return found


def pending_connections_for(
    tx: Transaction, *, user_id: str, now: datetime
) -> tuple[PendingConnection, ...]:
    """Every request pending as of *now* that *user_id* may approve (CO-9), soonest
    deadline first; a request past day 30 is rejected (CO-5) and not listed."""
    rows: list[PendingConnection] = []
    for connection in _candidates(tx, scope_of(tx, user_id)).values():
        if connection.effective_state(now) is not ConnectionState.PENDING:
            continue
        verdict = decide_connection(
            tx, user_id=user_id, connection=connection, event=ConnectionEvent.APPROVE
        )
        if not verdict.allowed:
            continue
        profile = tx.repo(PROFILES).get(connection.profile_id)
        surrogate = tx.repo(ORGANIZATIONS).get(connection.surrogate_id)
        if profile is None or surrogate is None:
            continue
        rows.append(
            PendingConnection(
                connection=connection,
                answering_side=connection.approver_side,
                profile_name=profile.legal_name,
                profile_npi=profile.npi,
                surrogate_name=surrogate.legal_name,
                deadline=connection.deadline,
                days_left=days_left(connection.deadline, now),
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.deadline, r.connection.id)))
