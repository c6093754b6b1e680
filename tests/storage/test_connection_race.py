"""ST-2, CO-6, RO-5, CO-10, AC-3, AU-1 across processes with the real use cases: N
processes race to approve, reject and withdraw THE SAME pending connection through
AccessService; two people entitled to approve one connection (or one association)
approve it at once; two maintenance sweeps record the day-30 expiries at once; the last
two AOs of an organization leave at the same moment; two requests for the same
surrogate and profile are made at once; wrong passwords for one
known account arrive together; and a process is killed inside approve_connection's
commit. Every invariant holds when the racing transactions commit (not by a read
before it), and every loser gets the domain's answer, never a storage conflict.

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

from enrollkit.access import (
    CONNECTIONS,
    AccessService,
    Association,
    AssociationState,
    Connection,
    ConnectionState,
    Employer,
    Role,
    System,
)
from enrollkit.identity import FactorKind, IdentityService, NewFactor, Profile
from enrollkit.principals import Principal
from enrollkit.storage import Storage
from enrollkit.testing.actors import Actors
from enrollkit.testing.contract import T0
from tests.identity.conftest import ANSWERS
from tests.storage import workers
from tests.storage.workers import (
    CONNECTION_ACTORS,
    INDIVIDUAL_NPIS,
    Spec,
    access_service,
    open_storage,
)

#: racing processes on real databases: left out of the fast inner loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

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
    principals: dict[str, Principal]  #: the cast's principals, sealed with the tests' key
    acme_id: str
    profile_ids: tuple[str, str]  #: Ana's and Bob's individual profiles


def _seed(storage: Storage) -> Seeded:
    service: AccessService = access_service(storage, at=T0)
    actors = Actors(service.runtime)
    cast = {name: actors(name) for name in ("ana", "bob", "carla", "dave")}
    ana, bob = (
        service.claim_individual_profile(actor=cast[name], npi=npi, legal_name=name.title())
        for name, npi in zip(("ana", "bob"), INDIVIDUAL_NPIS, strict=True)
    )
    assert ana.profile is not None and bob.profile is not None
    acme = service.register_organization(actor=cast["carla"], legal_name="Acme Credentialing LLC")
    contested = service.request_connection(
        actor=cast["carla"],
        surrogate_id=acme.organization.id,
        profile_id=ana.profile.id,
        systems=[System.PECOS, System.NPPES],
    )
    bystander = service.request_connection(
        actor=cast["carla"],
        surrogate_id=acme.organization.id,
        profile_id=bob.profile.id,
        systems=[System.PECOS],
    )
    return Seeded(
        contested, bystander, cast, acme.organization.id, (ana.profile.id, bob.profile.id)
    )


def _load(storage: Storage, connection_id: str) -> Connection | None:
    with storage.unit_of_work() as uow:
        return uow.repository(CONNECTIONS).get(connection_id)


def _snapshot(storage: Storage, seeded: Seeded) -> dict[str, Any]:
    """Everything but the contested connection and its events: must not change."""
    return {
        "bystander": _load(storage, seeded.bystander.id),
        "entries": [e for e in storage.audit.entries() if e.event.subject != seeded.connection.id],
    }


def _run(target: Any, argument_lists: list[tuple[Any, ...]]) -> list[Any]:
    """Start one spawned process per argument tuple (each ends with ``start``, ``gate``,
    ``results`` appended by the caller); collect one result from each."""
    results: Any = argument_lists[0][-1]
    processes = [SPAWN.Process(target=target, args=args) for args in argument_lists]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=TIMEOUT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=TIMEOUT)
            if process.exitcode is None:
                process.kill()
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return outcomes


def _barriers(racers: int, *, gated: bool) -> tuple[Any, Any, Any]:
    """A start barrier, a commit gate (or None) and a results queue for *racers*."""
    return SPAWN.Barrier(racers), SPAWN.Barrier(racers) if gated else None, SPAWN.Queue()


def _race(spec: Spec, seeded: Seeded, *, gated: bool) -> list[tuple[str, str, str]]:
    start, gate, results = _barriers(RACERS, gated=gated)
    arguments = []
    for i in range(RACERS):
        action = ACTIONS[i % len(ACTIONS)]
        actor = seeded.principals[CONNECTION_ACTORS[action]]
        arguments.append((spec, seeded.connection.id, action, actor, start, gate, results))
    return _run(workers.decide_connection, arguments)


class TestConnectionRace:
    @pytest.mark.parametrize("gated", [True, False], ids=["same-version", "free-for-all"])
    def test_co_6_st_2_exactly_one_decision_of_a_connection_wins(
        self, spec: Spec, gated: bool
    ) -> None:
        """Six processes approve, reject and withdraw one pending connection through
        AccessService: exactly one wins; the others, stale at commit (ST-2), run again and
        get the domain's answer (the connection is decided: InvalidTransitionError), never
        a storage conflict; nothing else changes; the chain holds one terminal event."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            before = _snapshot(storage, seeded)
            outcomes = _race(spec, seeded, gated=gated)

            winners = [(actor, action) for actor, action, outcome in outcomes if outcome == "won"]
            losers = [outcome for _actor, _action, outcome in outcomes if outcome != "won"]
            assert len(winners) == 1, outcomes
            assert set(losers) == {"invalid:connection.invalid_transition"}, outcomes

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
                target=workers.approve_and_die,
                args=(spec, seeded.connection.id, seeded.principals["ana"], send),
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
                actor=seeded.principals["ana"], connection_id=seeded.connection.id
            )
            assert (approved.state, approved.version) == (ConnectionState.APPROVED, 2)
            assert storage.audit.verify().ok
            assert len(storage.audit.entries()) == len(before) + 1
        finally:
            storage.close()


class TestTwoApprovers:
    """Two different people entitled to approve the same pending request press approve at
    the same moment (when gated, both load and decide the same version before either
    writes): one approval wins; the other, stale at commit (ST-2), runs again and is
    refused by the domain, naming the state it found, never a storage conflict."""

    @pytest.mark.parametrize("gated", [True, False], ids=["same-version", "free-for-all"])
    def test_co_4_co_6_one_connection_approved_by_two_people_once(
        self, spec: Spec, gated: bool
    ) -> None:
        """Ana (the IP) approves Acme's request while Dave, her Access Manager (RO-5),
        approves it with Approve All Selected (CO-9): exactly one approval is recorded;
        the loser gets connection.invalid_transition naming "approved"."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            service = access_service(storage, at=T0)
            asked = service.request_association(
                actor=seeded.principals["dave"],
                employer=Employer.individual_provider(seeded.profile_ids[0]),
                role=Role.ACCESS_MANAGER,
            )
            service.approve_association(actor=seeded.principals["ana"], association_id=asked.id)
            before = _snapshot(storage, seeded)
            start, gate, results = _barriers(2, gated=gated)
            outcomes = _run(
                workers.approve_as,
                [
                    (spec, how, seeded.connection.id, seeded.principals[who], start, gate, results)
                    for who, how in (("ana", "approve_connection"), ("dave", "approve_selected"))
                ],
            )
            assert sorted((o, state) for _who, o, state in outcomes) == [
                ("invalid:connection.invalid_transition", "approved"),
                ("won", None),
            ], outcomes
            (winner,) = [who for who, o, _state in outcomes if o == "won"]
            stored = _load(storage, seeded.connection.id)
            assert stored is not None
            assert (stored.state, stored.decided_by, stored.version) == (
                ConnectionState.APPROVED,
                winner,
                2,
            )
            assert stored.approved_systems == seeded.connection.requested_systems
            assert _snapshot(storage, seeded) == before
            trail = storage.audit.for_subject(seeded.connection.id)
            assert [(e.event.name, e.event.actor) for e in trail] == [
                ("connection.requested", "carla"),
                ("connection.approved", winner),
            ]
            assert storage.audit.verify().ok
        finally:
            storage.close()

    @pytest.mark.parametrize("gated", [True, False], ids=["same-version", "free-for-all"])
    def test_ro_3_st_2_one_association_approved_by_two_people_once(
        self, spec: Spec, gated: bool
    ) -> None:
        """Carla (AO) and Dave (AM) of Acme approve Bob's pending Staff End User request
        at once (RO-3: either may): Bob's association is approved once, by the winner;
        the loser gets association.invalid_transition naming "active"."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            service = access_service(storage, at=T0)
            acme = Employer.organization(seeded.acme_id)
            dave = service.request_association(
                actor=seeded.principals["dave"], employer=acme, role=Role.ACCESS_MANAGER
            )
            service.approve_association(actor=seeded.principals["carla"], association_id=dave.id)
            asked = service.request_association(
                actor=seeded.principals["bob"], employer=acme, role=Role.STAFF_END_USER
            )
            start, gate, results = _barriers(2, gated=gated)
            outcomes = _run(
                workers.approve_as,
                [
                    (spec, how, asked.id, seeded.principals[who], start, gate, results)
                    for who, how in (
                        ("carla", "approve_association"),
                        ("dave", "approve_association"),
                    )
                ],
            )
            assert sorted((o, state) for _who, o, state in outcomes) == [
                ("invalid:association.invalid_transition", "active"),
                ("won", None),
            ], outcomes
            (winner,) = [who for who, o, _state in outcomes if o == "won"]
            stored = service.association(asked.id)
            assert (stored.state, stored.decided_by, stored.version) == (
                AssociationState.ACTIVE,
                winner,
                2,
            )
            assert stored.grant is not None and stored.grant.by == winner
            trail = storage.audit.for_subject(asked.id)
            assert [(e.event.name, e.event.actor) for e in trail] == [
                ("association.requested", "bob"),
                ("association.approved", winner),
            ]
            assert storage.audit.verify().ok
        finally:
            storage.close()


class TestSweepRace:
    @pytest.mark.parametrize("gated", [True, False], ids=["same-version", "free-for-all"])
    def test_co_5_st_2_two_sweeps_at_once_record_each_expiry_once(
        self, spec: Spec, gated: bool
    ) -> None:
        """Two maintenance workers sweep at day 31 at the same moment: each expiry is
        recorded once; the worker that loses runs again and finds nothing left to
        record, never a storage conflict."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            start, gate, results = _barriers(2, gated=gated)
            outcomes = _run(
                workers.sweep, [(spec, label, start, gate, results) for label in ("a", "b")]
            )
            assert [o for _label, o, _expired in outcomes] == ["won", "won"], outcomes
            recorded = sorted(c for _label, _o, expired in outcomes for c in expired)
            assert recorded == sorted([seeded.connection.id, seeded.bystander.id]), outcomes
            for connection_id in recorded:
                trail = storage.audit.for_subject(connection_id)
                assert [e.event.name for e in trail] == [
                    "connection.requested",
                    "connection.expired",
                ]
            assert storage.audit.verify().ok
        finally:
            storage.close()


#: Racers for the invariant races (each round is one pair of leavers, or requesters).
ROUNDS = 3


class TestInvariantsAtCommit:
    @pytest.mark.parametrize("gated", [True, False], ids=["same-version", "free-for-all"])
    def test_ro_5_the_last_two_aos_leaving_at_once_leave_one(self, spec: Spec, gated: bool) -> None:
        """The last two AOs of an organization cancel their associations at the same moment
        (both read two AOs before either commits, when gated): exactly one leaves, the
        other is refused with RO-5's answer, and one active AO remains, every round."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            service = access_service(storage, at=T0)
            for _ in range(ROUNDS):
                org = service.register_organization(
                    actor=seeded.principals["carla"], legal_name="Twin AO Clinic LLC"
                )
                second = service.request_association(
                    actor=seeded.principals["dave"],
                    employer=Employer.organization(org.organization.id),
                    role=Role.AUTHORIZED_OFFICIAL,
                )
                aos: list[Association] = [org.association, second]
                assert all(a.state is AssociationState.ACTIVE for a in aos)
                start, gate, results = _barriers(2, gated=gated)
                outcomes = _run(
                    workers.leave_organization,
                    [
                        (spec, seeded.principals[who], a.id, start, gate, results)
                        for who, a in zip(("carla", "dave"), aos, strict=True)
                    ],
                )
                assert sorted(o for _w, o in outcomes) == [
                    "invalid:association.last_authorized_official",
                    "won",
                ], outcomes
                left = [
                    a
                    for a in service.members(Employer.organization(org.organization.id))
                    if a.state is AssociationState.ACTIVE and a.role is Role.AUTHORIZED_OFFICIAL
                ]
                assert len(left) == 1
            assert storage.audit.verify().ok
        finally:
            storage.close()

    @pytest.mark.parametrize("gated", [True, False], ids=["same-version", "free-for-all"])
    def test_co_10_two_requests_at_once_leave_one_pending(self, spec: Spec, gated: bool) -> None:
        """Four processes request a connection between the same surrogate and profile at
        the same moment (all find none pending before any commits, when gated): exactly
        one request is pending afterwards, the others are refused with CO-10's answer."""
        storage = open_storage(spec)
        try:
            seeded = _seed(storage)
            service = access_service(storage, at=T0)
            service.reject_connection(
                actor=seeded.principals["ana"], connection_id=seeded.connection.id
            )
            racers = 4
            start, gate, results = _barriers(racers, gated=gated)
            actor = seeded.principals["carla"]
            outcomes = _run(
                workers.request_pair,
                [
                    (spec, actor, seeded.acme_id, seeded.profile_ids[0], start, gate, results)
                    for _ in range(racers)
                ],
            )
            assert sorted(o for _w, o in outcomes) == [
                *["conflict:connection.pending_exists"] * (racers - 1),
                "won",
            ], outcomes
            between = service.connections_of(
                profile_id=seeded.profile_ids[0], surrogate_id=seeded.acme_id
            )
            assert [c.state for c in between].count(ConnectionState.PENDING) == 1
            assert storage.audit.verify().ok
        finally:
            storage.close()


class TestNoEnumerationUnderRaces:
    def test_ac_3_a_known_account_never_answers_with_a_conflict(self, spec: Spec) -> None:
        """Eight wrong passwords for one known user ID arrive at once, as for an unknown
        one: every answer is the same Denied, never a storage conflict (AC-3); the known
        account ends locked after its third counted failure (AC-2)."""
        storage = open_storage(spec)
        try:
            identity = IdentityService(access_service(storage, at=T0).runtime)
            email = "jane@example.org"
            identity.register(
                user_id="JSmith01",
                password="Blue#Sky42",
                profile=Profile("Jane", "Smith", email),
                security_answers=ANSWERS,
                factor=NewFactor(FactorKind.EMAIL, email),
            )
            racers = 8
            for user_id in ("JSmith01", "Nobody99"):
                start, _gate, results = _barriers(racers, gated=False)
                outcomes = _run(
                    workers.wrong_login,
                    [(spec, user_id, f"Wrong#pass{n}", start, results) for n in range(racers)],
                )
                assert {o for _u, o in outcomes} == {"Denied:login.denied"}, outcomes
            account = identity.account_for_user_id(
                "JSmith01", actor=Actors(identity.runtime).help_desk()
            )
            assert account.locked and account.failed_logins == 3
            assert storage.audit.verify().ok
        finally:
            storage.close()
