"""Code that runs in spawned processes for the concurrency and kill tests.

A small aggregate with a state machine as data (a request: pending, then
approved, rejected or withdrawn), and the process entry points. Everything
here is importable by a child started with the ``spawn`` method.
"""

from __future__ import annotations

import multiprocessing.connection
import os
import threading
from typing import Any, Final

import attrs

from enrollkit.adapters.postgres import PostgresStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.audit import DomainEvent
from enrollkit.errors import ConflictError, InvalidTransitionError
from enrollkit.storage import Collection, Index, Storage
from enrollkit.testing.contract import T0

#: Where a storage lives, picklable: ("sqlite", path) or ("postgres", dsn, schema).
Spec = tuple[str, ...]


@attrs.frozen
class Request:
    """A request that one decision ends."""

    id: str
    state: str = "pending"
    decided_by: str | None = None
    version: int = 0


#: The transition table: (state, action) -> new state.
TRANSITIONS: Final = {
    ("pending", "approve"): "approved",
    ("pending", "reject"): "rejected",
    ("pending", "withdraw"): "withdrawn",
}

REQUESTS = Collection(
    "race_requests", Request, indexes=(Index[Request]("state", lambda r: [r.state]),)
)


def decide(request: Request, action: str, actor: str) -> Request:
    """Apply *action* to *request* through the transition table."""
    new_state = TRANSITIONS.get((request.state, action))
    if new_state is None:
        raise InvalidTransitionError(
            "request.invalid_transition",
            f"A {request.state} request cannot be {action}d.",
            state=request.state,
            action=action,
        )
    return attrs.evolve(request, state=new_state, decided_by=actor)


def event(name: str, subject: str, actor: str | None = None, **data: Any) -> DomainEvent:
    """A domain event at the tests' fixed time."""
    return DomainEvent(name, subject=subject, actor=actor, at=T0, data=data)


class _Paused(Exception):
    """Never raised: the paused process waits until it is killed."""


def _pause(signal: multiprocessing.connection.Connection) -> None:
    signal.send("paused")
    threading.Event().wait()  # blocks until SIGKILL
    raise _Paused


class PausingSQLiteStorage(SQLiteStorage):
    """Signals the parent inside the commit transaction, before COMMIT, then waits to die."""

    signal: multiprocessing.connection.Connection | None = None

    def _before_commit(self, conn: Any) -> None:
        if self.signal is not None:
            _pause(self.signal)


class PausingPostgresStorage(PostgresStorage):
    """Signals the parent inside the commit transaction, before COMMIT, then waits to die."""

    signal: multiprocessing.connection.Connection | None = None

    def _before_commit(self, conn: Any) -> None:
        if self.signal is not None:
            _pause(self.signal)


def open_storage(spec: Spec, *, pausing: bool = False) -> Storage:
    """Open the storage *spec* names (a pausing variant for the kill test)."""
    kind = spec[0]
    if kind == "sqlite":
        cls: Any = PausingSQLiteStorage if pausing else SQLiteStorage
        return cls(spec[1])  # type: ignore[no-any-return]
    if kind == "postgres":
        cls = PausingPostgresStorage if pausing else PostgresStorage
        return cls(spec[1], schema=spec[2])  # type: ignore[no-any-return]
    raise AssertionError(f"unknown storage kind {kind!r}")


def race(
    spec: Spec,
    request_id: str,
    action: str,
    actor: str,
    start: Any,
    loaded: Any,
    results: Any,
) -> None:
    """Load the request, decide it, save and commit; report won/conflict/invalid.

    ``start`` is a barrier passed before loading; ``loaded`` (or None) a barrier
    passed after loading, so that every racer holds the same version.
    """
    storage = open_storage(spec)
    outcome = "error"
    try:
        start.wait(timeout=60)
        try:
            with storage.unit_of_work() as uow:
                repo = uow.repository(REQUESTS)
                request = repo.get(request_id)
                assert request is not None
                if loaded is not None:
                    loaded.wait(timeout=60)
                decided = decide(request, action, actor)
                repo.save(decided)
                uow.record(event(f"request.{decided.state}", request_id, actor))
                uow.commit()
            outcome = "won"
        except ConflictError as exc:
            outcome = f"conflict:{exc.code}"
        except InvalidTransitionError:
            outcome = "invalid"
        except BaseException as exc:
            outcome = f"error:{type(exc).__module__}.{type(exc).__name__}:{exc}"
    finally:
        results.put((actor, action, outcome))
        storage.close()


def die_mid_unit(spec: Spec, stage: str, signal: multiprocessing.connection.Connection) -> None:
    """Change several aggregates and record events in one unit, then wait to be killed.

    ``stage`` is "before_commit" (the unit's writes are made but not committed)
    or "in_commit" (inside the database transaction, rows written, before COMMIT).
    """
    storage = open_storage(spec, pausing=stage == "in_commit")
    if stage == "in_commit":
        storage.signal = signal  # type: ignore[attr-defined]
    with storage.unit_of_work() as uow:
        repo = uow.repository(REQUESTS)
        request = repo.get("r1")
        assert request is not None
        repo.save(decide(request, "approve", "killer"))
        for i in range(3):
            repo.add(Request(f"new-{i}"))
        uow.record(event("request.approved", "r1", "killer"), event("request.added", "new-0"))
        if stage == "before_commit":
            _pause(signal)
        uow.commit()
    os._exit(3)  # never reached: the parent kills this process first
