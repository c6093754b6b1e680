"""Code that runs in spawned processes for the concurrency and kill tests.

A small aggregate with a state machine as data (a request: pending, then
approved, rejected or withdrawn), and the process entry points. Everything
here is importable by a child started with the ``spawn`` method.
"""

from __future__ import annotations

import multiprocessing.connection
import os
import threading
from datetime import timedelta
from typing import Any, Final

import attrs

from enrollkit.access import (
    AccessService,
    InMemoryProofer,
    InMemoryVerifier,
    System,
    VerificationStatus,
)
from enrollkit.adapters.kit import Writes
from enrollkit.adapters.postgres import PostgresStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.audit import DomainEvent
from enrollkit.clock import FixedClock
from enrollkit.enrollment import InMemoryNppesDirectory, NppesRecord
from enrollkit.errors import ConflictError, EnrollkitError, InvalidTransitionError
from enrollkit.identity import Denied, IdentityService
from enrollkit.npi import NPI, NPIType
from enrollkit.principals import Principal
from enrollkit.runtime import RandomIds
from enrollkit.storage import Collection, Index, Storage
from enrollkit.testing.contract import T0
from tests.conftest import make_runtime

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


class GatedSQLiteStorage(SQLiteStorage):
    """Waits at a barrier when a unit commits (before the database transaction), so that
    every racer has loaded and decided the same version before anyone writes."""

    gate: Any = None

    def apply(self, writes: Writes, events: Any) -> None:
        if self.gate is not None:
            self.gate.wait(timeout=60)
        super().apply(writes, events)


class GatedPostgresStorage(PostgresStorage):
    """Waits at a barrier when a unit commits (before the database transaction)."""

    gate: Any = None

    def apply(self, writes: Writes, events: Any) -> None:
        if self.gate is not None:
            self.gate.wait(timeout=60)
        super().apply(writes, events)


def open_storage(spec: Spec, *, pausing: bool = False, gated: bool = False) -> Storage:
    """Open the storage *spec* names (a pausing variant for the kill test, a gated one
    for the same-version race)."""
    kind = spec[0]
    if kind == "sqlite":
        cls: Any = (
            PausingSQLiteStorage if pausing else GatedSQLiteStorage if gated else SQLiteStorage
        )
        return cls(spec[1])  # type: ignore[no-any-return]
    if kind == "postgres":
        cls = (
            PausingPostgresStorage
            if pausing
            else GatedPostgresStorage
            if gated
            else PostgresStorage
        )
        return cls(spec[1], schema=spec[2])  # type: ignore[no-any-return]
    raise AssertionError(f"unknown storage kind {kind!r}")


# -- the real use cases: AccessService on the storage ------------------------------------

#: When the racers act: a day after the request, well before its 30-day deadline.
RACE_TIME = T0 + timedelta(days=1)


#: The NPIs the race worlds claim, active Type 1 NPIs in NPPES (RO-9).
INDIVIDUAL_NPIS: Final = ("1234567893", "1245319599")


def access_service(storage: Storage, *, at: Any = RACE_TIME) -> AccessService:
    """The access use cases on *storage*, with a fixed clock, the tests' secret key (so a
    principal sealed in one process is good in another) and the cheap test hasher."""
    # Random ids, as in production: processes with sequential ids of their own would
    # collide with each other's aggregates.
    runtime = make_runtime(storage, clock=FixedClock(at), ids=RandomIds())
    nppes = InMemoryNppesDirectory(
        {
            NPI(value): NppesRecord(NPI(value), "Provider", npi_type=NPIType.INDIVIDUAL)
            for value in INDIVIDUAL_NPIS
        }
    )
    return AccessService(
        runtime,
        verifier=InMemoryVerifier(default=VerificationStatus.VERIFIED),
        proofer=InMemoryProofer(default=VerificationStatus.VERIFIED),
        nppes=nppes,
    )


def _outcome(use_case: Any) -> str:
    """Run *use_case*; "won", or the refusal's family and code."""
    try:
        use_case()
    except ConflictError as exc:
        return f"conflict:{exc.code}"
    except InvalidTransitionError as exc:
        return f"invalid:{exc.code}"
    except EnrollkitError as exc:
        return f"other:{type(exc).__name__}:{exc.code}"
    except BaseException as exc:
        return f"error:{type(exc).__module__}.{type(exc).__name__}:{exc}"
    return "won"


def _gated(spec: Spec, gate: Any) -> Storage:
    storage = open_storage(spec, gated=gate is not None)
    if gate is not None:
        storage.gate = gate  # type: ignore[attr-defined]
    return storage


#: Which use case each racer runs, and who is entitled to run it: the provider (the
#: individual provider of the profile) approves or rejects the surrogate's request; the
#: surrogate's AO, whose organization initiated it, withdraws it (CO-3, CO-4, CO-6).
CONNECTION_ACTORS: Final = {"approve": "ana", "reject": "ana", "withdraw": "carla"}


def decide_connection(
    spec: Spec,
    connection_id: str,
    action: str,
    actor: Principal,
    start: Any,
    gate: Any,
    results: Any,
) -> None:
    """Run approve_connection / reject_connection / withdraw_connection through
    AccessService after *start*; report won or the error's family and code.

    ``gate`` (or None) is a barrier passed just before the commit writes, so every
    racer has loaded the same version of the connection.
    """
    storage = _gated(spec, gate)
    service = access_service(storage)
    use_case = {
        "approve": service.approve_connection,
        "reject": service.reject_connection,
        "withdraw": service.withdraw_connection,
    }[action]
    outcome = "error"
    try:
        start.wait(timeout=60)
        outcome = _outcome(lambda: use_case(actor=actor, connection_id=connection_id))
    finally:
        results.put((actor.id, action, outcome))
        storage.close()


def leave_organization(
    spec: Spec, actor: Principal, association_id: str, start: Any, gate: Any, results: Any
) -> None:
    """An AO cancels their own association with the organization (RO-5 race)."""
    storage = _gated(spec, gate)
    outcome = "error"
    try:
        service = access_service(storage)
        start.wait(timeout=60)
        outcome = _outcome(
            lambda: service.cancel_association(actor=actor, association_id=association_id)
        )
    finally:
        results.put((actor.id, outcome))
        storage.close()


def request_pair(
    spec: Spec,
    actor: Principal,
    surrogate_id: str,
    profile_id: str,
    start: Any,
    gate: Any,
    results: Any,
) -> None:
    """A surrogate's AO requests a PECOS connection to one profile (CO-10 race)."""
    storage = _gated(spec, gate)
    outcome = "error"
    try:
        service = access_service(storage)
        start.wait(timeout=60)
        outcome = _outcome(
            lambda: service.request_connection(
                actor=actor,
                surrogate_id=surrogate_id,
                profile_id=profile_id,
                systems=[System.PECOS],
            )
        )
    finally:
        results.put((actor.id, outcome))
        storage.close()


def wrong_login(spec: Spec, user_id: str, password: str, start: Any, results: Any) -> None:
    """A wrong password for a known or unknown user ID; reports the outcome's type and
    code, or the error (AC-3: a known account never answers with a conflict)."""
    storage = open_storage(spec)
    outcome = "error"
    try:
        service = IdentityService(
            make_runtime(storage, clock=FixedClock(RACE_TIME), ids=RandomIds())
        )
        start.wait(timeout=60)
        try:
            answer = service.login(user_id, password)
            outcome = (
                f"{type(answer).__name__}:{answer.code}"
                if isinstance(answer, Denied)
                else (type(answer).__name__)
            )
        except EnrollkitError as exc:
            outcome = f"error:{exc.code}"
        except BaseException as exc:
            outcome = f"error:{type(exc).__module__}.{type(exc).__name__}:{exc}"
    finally:
        results.put((user_id, outcome))
        storage.close()


def approve_and_die(
    spec: Spec, connection_id: str, actor: Principal, signal: multiprocessing.connection.Connection
) -> None:
    """Run the real approve_connection use case and wait to be killed inside its commit
    transaction (rows and audit entries written, COMMIT not yet run)."""
    storage = open_storage(spec, pausing=True)
    storage.signal = signal  # type: ignore[attr-defined]
    access_service(storage).approve_connection(actor=actor, connection_id=connection_id)
    os._exit(3)  # never reached: the parent kills this process first


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


def _refusal(use_case: Any) -> tuple[str, str | None]:
    """Run *use_case*; ("won", None), or the refusal's family and code, with the state a
    domain refusal names (what the loser found when it ran again)."""
    try:
        use_case()
    except ConflictError as exc:
        return f"conflict:{exc.code}", None
    except InvalidTransitionError as exc:
        state = exc.fields.get("state")
        return f"invalid:{exc.code}", None if state is None else str(state)
    except EnrollkitError as exc:
        return f"other:{type(exc).__name__}:{exc.code}", None
    except BaseException as exc:
        return f"error:{type(exc).__module__}.{type(exc).__name__}:{exc}", None
    return "won", None


def approve_as(
    spec: Spec,
    how: str,
    subject_id: str,
    actor: Principal,
    start: Any,
    gate: Any,
    results: Any,
) -> None:
    """One of two approvers approves the same pending request: a connection through
    approve_connection or Approve All Selected (CO-4, CO-9), or an association through
    approve_association (RO-3); reports (actor, outcome, state named by a refusal).

    ``gate`` (or None) is a barrier passed just before the commit writes, so both
    approvers have loaded and decided the same version.
    """
    storage = _gated(spec, gate)
    outcome: tuple[str, str | None] = ("error", None)
    try:
        service = access_service(storage)
        use_case = {
            "approve_connection": lambda: service.approve_connection(
                actor=actor, connection_id=subject_id
            ),
            "approve_selected": lambda: service.approve_selected(
                actor=actor, selections={subject_id: None}
            ),
            "approve_association": lambda: service.approve_association(
                actor=actor, association_id=subject_id
            ),
        }[how]
        start.wait(timeout=60)
        outcome = _refusal(use_case)
    finally:
        results.put((actor.id, *outcome))
        storage.close()


def sweep(spec: Spec, label: str, start: Any, gate: Any, results: Any) -> None:
    """A maintenance worker records the day-30 expiries (CO-5) at day 31; reports
    (label, outcome, ids of the connections it recorded expired)."""
    storage = _gated(spec, gate)
    outcome: tuple[str, tuple[str, ...]] = ("error", ())
    try:
        service = access_service(storage, at=T0 + timedelta(days=31))
        start.wait(timeout=60)
        expired: tuple[str, ...] = ()

        def run() -> None:
            nonlocal expired
            expired = tuple(c.id for c in service.sweep_expired_connections())

        outcome = (_outcome(run), expired)
    finally:
        results.put((label, *outcome))
        storage.close()
