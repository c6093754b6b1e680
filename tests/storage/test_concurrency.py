"""ST-2, ST-1, AU-1 across processes: racing deciders and a writer killed mid-unit.

Each test runs on SQLite (one file, several processes) and on PostgreSQL
(several connections; needs ENROLLKIT_PG_DSN). Processes are started with
``spawn`` and synchronised with barriers and pipes, never with sleeps; every
wait has a timeout so a broken run fails instead of hanging.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
from typing import Any

import pytest

from enrollkit.storage import Storage
from tests.storage import workers
from tests.storage.workers import REQUESTS, Request, Spec, event, open_storage

#: racing processes and SIGKILLs on real databases: left out of the fast inner loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

SPAWN = multiprocessing.get_context("spawn")
#: The checkout's root: spawned children import ``tests.storage.workers`` from it.
TIMEOUT = 90
ACTIONS = ("approve", "reject", "withdraw")


def _seed(spec: Spec) -> Storage:
    storage = open_storage(spec)
    with storage.unit_of_work() as uow:
        repo = uow.repository(REQUESTS)
        repo.add(Request("r1"))
        repo.add(Request("bystander"))
        uow.record(event("request.added", "r1"), event("request.added", "bystander"))
        uow.commit()
    return storage


def _load(storage: Storage, obj_id: str) -> Request | None:
    with storage.unit_of_work() as uow:
        return uow.repository(REQUESTS).get(obj_id)


def _race(spec: Spec, racers: int, *, load_together: bool) -> list[tuple[str, str, str]]:
    start = SPAWN.Barrier(racers)
    loaded = SPAWN.Barrier(racers) if load_together else None
    results: Any = SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=workers.race,
            args=(spec, "r1", ACTIONS[i % 3], f"user-{i}", start, loaded, results),
        )
        for i in range(racers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=TIMEOUT) for _ in processes]
    for process in processes:
        process.join(timeout=TIMEOUT)
        assert process.exitcode == 0
    return outcomes


class TestRacingDecisions:
    @pytest.mark.parametrize("load_together", [True, False], ids=["same-version", "free-for-all"])
    def test_st_2_exactly_one_decision_wins(self, spec: Spec, load_together: bool) -> None:
        """N processes approve, reject and withdraw one request: one wins, the rest are refused."""
        storage = _seed(spec)
        try:
            racers = 6
            outcomes = _race(spec, racers, load_together=load_together)
            winners = [(actor, action) for actor, action, outcome in outcomes if outcome == "won"]
            losers = [outcome for _actor, _action, outcome in outcomes if outcome != "won"]
            assert len(winners) == 1, outcomes
            assert all(o in {"conflict:storage.stale", "invalid"} for o in losers), outcomes
            if load_together:  # everyone held version 1: every loser is a stale save (ST-2)
                assert set(losers) == {"conflict:storage.stale"}
            ((actor, action),) = winners
            stored = _load(storage, "r1")
            assert stored is not None
            assert (stored.state, stored.decided_by, stored.version) == (
                workers.TRANSITIONS[("pending", action)],
                actor,
                2,
            )
            assert _load(storage, "bystander") == Request("bystander", version=1)
            entries = storage.audit.entries()
            assert [e.event.name for e in entries][2:] == [f"request.{stored.state}"]
            assert entries[-1].event.actor == actor
            assert storage.audit.verify().ok
        finally:
            storage.close()


class TestKilledWriter:
    @pytest.mark.parametrize("stage", ["before_commit", "in_commit"])
    def test_st_1_a_killed_unit_leaves_nothing_half_written(self, spec: Spec, stage: str) -> None:
        """SIGKILL in the middle of a unit (even inside the commit transaction) changes nothing."""
        storage = _seed(spec)
        try:
            before = storage.audit.entries()
            receive, send = SPAWN.Pipe(duplex=False)
            process = SPAWN.Process(target=workers.die_mid_unit, args=(spec, stage, send))
            process.start()
            ready = multiprocessing.connection.wait([receive, process.sentinel], TIMEOUT)
            assert receive in ready, f"the writer never reached the pause ({process.exitcode=})"
            assert receive.recv() == "paused"
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            process.join(timeout=TIMEOUT)
            assert process.exitcode == -signal.SIGKILL

            # AU-1: the chain is whole and unchanged; ST-1: no write of the unit landed.
            assert storage.audit.verify().ok
            assert storage.audit.entries() == before
            assert _load(storage, "r1") == Request("r1", version=1)
            assert all(_load(storage, f"new-{i}") is None for i in range(3))
            with storage.unit_of_work() as uow:
                repo = uow.repository(REQUESTS)
                assert [r.id for r in repo.find(REQUESTS.index("state"), "pending")] == [
                    "bystander",
                    "r1",
                ]
                assert list(repo.find(REQUESTS.index("state"), "approved")) == []

            # The database is usable again: the dead writer's locks are gone.
            with storage.unit_of_work() as uow:
                repo = uow.repository(REQUESTS)
                repo.save(workers.decide(Request("r1", version=1), "approve", "survivor"))
                uow.record(event("request.approved", "r1", "survivor"))
                uow.commit()
            assert storage.audit.verify().ok
            assert len(storage.audit.entries()) == len(before) + 1
        finally:
            storage.close()
