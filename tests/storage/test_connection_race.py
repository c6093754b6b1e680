"""ST-2, CO-6, AU-1 across processes with the real use cases: N processes race to
approve, reject and withdraw THE SAME pending connection through AccessService, and a
process is killed inside approve_connection's commit.

Runs on SQLite (one file, several processes) and PostgreSQL (needs ENROLLKIT_PG_DSN).
Processes are started with ``spawn`` and synchronised with barriers and pipes (never
sleeps); every wait has a timeout, so a broken run fails instead of hanging.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
from typing import Any

import attrs
import pytest

from enrollkit.access import CONNECTIONS, AccessService, Connection, ConnectionState, System
from enrollkit.storage import Storage
from enrollkit.testing.contract import T0
from tests.storage import workers
from tests.storage.workers import CONNECTION_ACTORS, Spec, access_service, open_storage

SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 60
RACERS = 6
ACTIONS = ("approve", "reject", "withdraw")
#: The state each use case leaves a pending connection in.
WINNING_STATE = {
    "approve": ConnectionState.APPROVED,
    "reject": ConnectionState.REJECTED,
    "withdraw": ConnectionState.WITHDRAWN,
}


@attrs.frozen
class Seeded:
    """The world the racers meet: Acme (Carla is its AO) asked to act for Ana's profile."""

    connection: Connection  #: the contested pending request
    bystander: Connection  #: another pending request nobody touches


def _seed(storage: Storage) -> Seeded:
    service: AccessService = access_service(storage, at=T0)
    ana = service.register_individual_profile(
        actor_id="ana", npi="1234567893", legal_name="Ana Ruiz MD"
    )
    bob = service.register_individual_profile(
        actor_id="bob", npi="1245319599", legal_name="Bob Stone DO"
    )
    acme = service.register_organization(actor_id="carla", legal_name="Acme Credentialing LLC")
    contested = service.request_connection(
        actor_id="carla",
        surrogate_id=acme.organization.id,
        profile_id=ana.id,
        systems=[System.PECOS, System.NPPES],
    )
    bystander = service.request_connection(
        actor_id="carla",
        surrogate_id=acme.organization.id,
        profile_id=bob.id,
        systems=[System.PECOS],
    )
    return Seeded(contested, bystander)


def _load(storage: Storage, connection_id: str) -> Connection | None:
    with storage.unit_of_work() as uow:
        return uow.repository(CONNECTIONS).get(connection_id)


def _snapshot(storage: Storage, seeded: Seeded) -> dict[str, Any]:
    """Everything but the contested connection and its events: must not change."""
    return {
        "bystander": _load(storage, seeded.bystander.id),
        "entries": [e for e in storage.audit.entries() if e.event.subject != seeded.connection.id],
    }


def _race(spec: Spec, connection_id: str, *, gated: bool) -> list[tuple[str, str, str]]:
    start = SPAWN.Barrier(RACERS)
    gate = SPAWN.Barrier(RACERS) if gated else None
    results: Any = SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=workers.decide_connection,
            args=(spec, connection_id, ACTIONS[i % len(ACTIONS)], start, gate, results),
        )
        for i in range(RACERS)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=TIMEOUT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=TIMEOUT)
            if process.exitcode is None:
                process.kill()
    assert [p.exitcode for p in processes] == [0] * RACERS
    return outcomes


class TestConnectionRace:
    @pytest.mark.parametrize("gated", [True, False], ids=["same-version", "free-for-all"])
    def test_co_6_st_2_exactly_one_decision_of_a_connection_wins(
        self, spec: Spec, gated: bool
    ) -> None:
        """Six processes approve, reject and withdraw one pending connection through
        AccessService: exactly one wins; the others get ConflictError or
        InvalidTransitionError; nothing else changes; the chain holds one terminal event."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            before = _snapshot(storage, seeded)
            outcomes = _race(spec, seeded.connection.id, gated=gated)

            winners = [(actor, action) for actor, action, outcome in outcomes if outcome == "won"]
            losers = [outcome for _actor, _action, outcome in outcomes if outcome != "won"]
            assert len(winners) == 1, outcomes
            assert set(losers) <= {
                "conflict:storage.stale",
                "invalid:connection.invalid_transition",
            }, outcomes
            if gated:  # every racer held version 1 at commit: each loser is a stale save
                assert set(losers) == {"conflict:storage.stale"}, outcomes

            ((actor, action),) = winners
            stored = _load(storage, seeded.connection.id)
            assert stored is not None
            assert (stored.state, stored.decided_by, stored.version) == (
                WINNING_STATE[action],
                actor,
                2,
            )
            assert stored == attrs.evolve(
                seeded.connection,
                state=stored.state,
                approved_systems=stored.approved_systems,
                decided_at=workers.RACE_TIME,
                decided_by=actor,
                version=2,
            )
            assert _snapshot(storage, seeded) == before
            trail = storage.audit.for_subject(seeded.connection.id)
            assert [e.event.name for e in trail] == [
                "connection.requested",
                f"connection.{WINNING_STATE[action].value}",
            ]
            assert trail[-1].event.actor == CONNECTION_ACTORS[action]
            assert storage.audit.verify().ok
        finally:
            storage.close()


class TestKilledUseCase:
    def test_st_1_au_1_approval_killed_inside_its_commit_leaves_nothing(self, spec: Spec) -> None:
        """SIGKILL while approve_connection is inside its commit transaction (rows and
        audit entries written, no COMMIT): the connection stays pending at version 1, the
        chain is whole and unchanged, and the database is usable at once."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            before = storage.audit.entries()
            receive, send = SPAWN.Pipe(duplex=False)
            process = SPAWN.Process(
                target=workers.approve_and_die, args=(spec, seeded.connection.id, send)
            )
            process.start()
            ready = multiprocessing.connection.wait([receive, process.sentinel], TIMEOUT)
            assert receive in ready, f"the use case never reached its commit ({process.exitcode=})"
            assert receive.recv() == "paused"
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            process.join(timeout=TIMEOUT)
            assert process.exitcode == -signal.SIGKILL

            assert storage.audit.verify().ok
            assert storage.audit.entries() == before
            assert _load(storage, seeded.connection.id) == seeded.connection

            service = access_service(storage, at=workers.RACE_TIME)
            approved = service.approve_connection(
                actor_id="ana", connection_id=seeded.connection.id
            )
            assert (approved.state, approved.version) == (ConnectionState.APPROVED, 2)
            assert storage.audit.verify().ok
            assert len(storage.audit.entries()) == len(before) + 1
        finally:
            storage.close()
