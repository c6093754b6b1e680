"""CO-1..CO-6, CO-10: connections, either side initiating, subsets, the 30-day expiry, the
sweep, and one pending request between a surrogate and a profile."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from enrollkit.access import (
    CONNECTION_MACHINE,
    Action,
    Connection,
    ConnectionEvent,
    ConnectionState,
    Side,
    System,
)
from enrollkit.clock import FixedClock
from enrollkit.errors import (
    ConflictError,
    ExpiredError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.runtime import Runtime
from tests.access.conftest import World


def request(world: World, profile_id: str, *systems: System) -> Connection:
    return world.service.request_connection(
        actor=world.actor("carla"),
        surrogate_id=world.acme_id,
        profile_id=profile_id,
        systems=systems or (System.PECOS,),
    )


class TestRequestAndApprove:
    def test_co_3_surrogate_requests_and_provider_approves(self, world: World) -> None:
        """CO-3/CO-4: the usual way: Acme requests, the IP approves her own profile."""
        pending = request(world, world.p_individual, System.PECOS, System.NPPES)
        assert (pending.initiator, pending.state) == (Side.SURROGATE, ConnectionState.PENDING)
        approved = world.service.approve_connection(
            actor=world.actor("ana"), connection_id=pending.id
        )
        assert approved.state is ConnectionState.APPROVED
        assert approved.approved_systems == {System.PECOS, System.NPPES}

    def test_co_3_provider_adds_and_surrogate_approves(self, world: World) -> None:
        """CO-3: the provider side adds Acme; Acme's AO approves, the provider cannot."""
        added = world.service.add_surrogate(
            actor=world.actor("ana"),
            profile_id=world.p_clinic,
            surrogate_id=world.acme_id,
            systems=[System.EHR],
        )
        assert added.initiator is Side.PROVIDER
        with pytest.raises(NotPermittedError):
            world.service.approve_connection(actor=world.actor("ana"), connection_id=added.id)
        approved = world.service.approve_connection(
            actor=world.actor("carla"), connection_id=added.id
        )
        assert approved.state is ConnectionState.APPROVED

    def test_co_4_approver_may_approve_a_subset(self, world: World) -> None:
        """CO-4: approving PECOS of a PECOS+NPPES request leaves NPPES uncovered."""
        pending = request(world, world.p_individual, System.PECOS, System.NPPES)
        approved = world.service.approve_connection(
            actor=world.actor("ana"), connection_id=pending.id, systems=[System.PECOS]
        )
        assert approved.approved_systems == {System.PECOS}
        assert not world.service.decide(
            user_id="cred",
            action=Action.ACT_ON_BEHALF,
            profile_id=world.p_individual,
            system=System.NPPES,
        ).allowed

    def test_co_4_subset_must_be_of_the_request(self, world: World) -> None:
        """CO-4: approving a system that was not requested, or none, is refused."""
        pending = request(world, world.p_individual, System.PECOS)
        for systems in ([System.EHR], []):
            with pytest.raises(ValidationError) as info:
                world.service.approve_connection(
                    actor=world.actor("ana"), connection_id=pending.id, systems=systems
                )
            assert info.value.code == "connection.approve_subset"

    def test_co_2_connection_covers_a_non_empty_subset(self, world: World) -> None:
        """CO-2: a request with no system is refused."""
        with pytest.raises(ValidationError) as info:
            world.service.request_connection(
                actor=world.actor("carla"),
                surrogate_id=world.acme_id,
                profile_id=world.p_clinic,
                systems=[],
            )
        assert info.value.code == "connection.no_systems"

    def test_co_4_seu_and_surrogates_never_approve(self, world: World) -> None:
        """CO-4: an SEU (of either side) cannot approve or request."""
        world.join("sam", world.clinic_id, world.cred_seu.role, by="ana")
        pending = request(world, world.p_clinic)
        for user in ("sam", "cred"):
            with pytest.raises(NotPermittedError):
                world.service.approve_connection(actor=world.actor(user), connection_id=pending.id)
        with pytest.raises(NotPermittedError):
            world.service.request_connection(
                actor=world.actor("cred"),
                surrogate_id=world.acme_id,
                profile_id=world.p_individual,
                systems=[System.PECOS],
            )

    def test_co_1_two_profiles_need_two_connections(self, world: World) -> None:
        """CO-1: Ana's individual and clinic profiles each need their own connection."""
        world.connect(world.p_individual)
        assert not world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        ).allowed
        world.connect(world.p_clinic)
        assert world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        ).allowed

    def test_co_1_duplicate_requests_are_conflicts(self, world: World) -> None:
        """A second pending request, or one for systems already covered, is a conflict."""
        pending = request(world, world.p_clinic)
        with pytest.raises(ConflictError) as info:
            request(world, world.p_clinic, System.NPPES)
        assert info.value.code == "connection.pending_exists"
        world.service.approve_connection(actor=world.actor("ana"), connection_id=pending.id)
        with pytest.raises(ConflictError) as info:
            request(world, world.p_clinic)
        assert info.value.code == "connection.already_covered"
        extra = request(world, world.p_clinic, System.NPPES)
        world.service.approve_connection(actor=world.actor("ana"), connection_id=extra.id)
        assert world.service.decide(
            user_id="cred",
            action=Action.ACT_ON_BEHALF,
            profile_id=world.p_clinic,
            system=System.NPPES,
        ).allowed


class TestExpiry:
    def test_co_5_pending_request_expires_on_day_30_without_sweep(
        self, world: World, clock: FixedClock
    ) -> None:
        """CO-5: pending at 29 days 23:59:59; expired at exactly 30 days, no sweep needed."""
        pending = request(world, world.p_clinic)
        clock.advance(days=29, hours=23, minutes=59, seconds=59)
        assert world.service.connection_state(pending.id) is ConnectionState.PENDING
        clock.advance(seconds=1)
        assert world.service.connection_state(pending.id) is ConnectionState.EXPIRED
        assert world.service.connection(pending.id).state is ConnectionState.PENDING  # stored

    def test_co_5_expired_request_is_never_approvable(
        self, world: World, clock: FixedClock
    ) -> None:
        """CO-5: a read on day 31 sees it expired, and approving it fails."""
        pending = request(world, world.p_clinic)
        clock.advance(days=31)
        with pytest.raises(ExpiredError) as info:
            world.service.approve_connection(actor=world.actor("ana"), connection_id=pending.id)
        assert info.value.code == "connection.expired"

    def test_co_5_expired_request_does_not_block_a_new_one(
        self, world: World, clock: FixedClock
    ) -> None:
        """CO-5: after expiry the surrogate may ask again."""
        request(world, world.p_clinic)
        clock.advance(days=30)
        again = request(world, world.p_clinic)
        assert again.state is ConnectionState.PENDING

    def test_co_5_sweep_records_expiries_from_the_deadline_index(
        self, world: World, clock: FixedClock, runtime: Runtime
    ) -> None:
        """CO-5: the sweep expires exactly the overdue pending requests, once, with events."""
        first = request(world, world.p_clinic)
        clock.advance(days=10)
        second = request(world, world.p_individual)
        clock.advance(days=20)  # first is due (day 30), second is not (day 20)
        swept = world.service.sweep_expired_connections()
        assert [c.id for c in swept] == [first.id]
        assert swept[0].state is ConnectionState.EXPIRED
        assert world.service.sweep_expired_connections() == ()
        names = [e.event.name for e in runtime.storage.audit.for_subject(first.id)]
        assert names == ["connection.requested", "connection.expired"]
        clock.advance(days=10)
        assert [c.id for c in world.service.sweep_expired_connections()] == [second.id]


class TestLifecycle:
    def test_co_6_initiator_withdraws_pending(self, world: World) -> None:
        """CO-6: the initiating side withdraws; the other side cannot."""
        pending = request(world, world.p_clinic)
        with pytest.raises(NotPermittedError):
            world.service.withdraw_connection(actor=world.actor("ana"), connection_id=pending.id)
        withdrawn = world.service.withdraw_connection(
            actor=world.actor("carla"), connection_id=pending.id
        )
        assert withdrawn.state is ConnectionState.WITHDRAWN

    def test_co_6_either_side_removes_approved(self, world: World) -> None:
        """CO-6: the provider or the surrogate ends an approved connection."""
        first = world.connect(world.p_individual)
        removed = world.service.remove_connection(
            actor=world.actor("carla"), connection_id=first.id
        )
        assert removed.state is ConnectionState.REMOVED
        second = world.connect(world.p_clinic)
        assert world.service.remove_connection(
            actor=world.actor("ana"), connection_id=second.id
        ).state is (ConnectionState.REMOVED)
        assert not world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        ).allowed

    def test_co_6_terminal_states_never_change(self, world: World, clock: FixedClock) -> None:
        """CO-6: nothing moves a rejected, expired, withdrawn or removed connection."""
        rejected = world.service.reject_connection(
            actor=world.actor("ana"), connection_id=request(world, world.p_clinic).id
        )
        for call in (world.service.approve_connection, world.service.reject_connection):
            with pytest.raises(InvalidTransitionError):
                call(actor=world.actor("ana"), connection_id=rejected.id)
        for call in (world.service.withdraw_connection, world.service.remove_connection):
            with pytest.raises(InvalidTransitionError):
                call(actor=world.actor("carla"), connection_id=rejected.id)
        expired = request(world, world.p_clinic)
        clock.advance(days=30)
        with pytest.raises(ExpiredError):
            world.service.approve_connection(actor=world.actor("ana"), connection_id=expired.id)
        with pytest.raises(ExpiredError):
            world.service.withdraw_connection(actor=world.actor("carla"), connection_id=expired.id)
        assert world.service.connection_state(expired.id) is ConnectionState.EXPIRED

    def test_co_6_transition_table_and_diagram(self) -> None:
        """CO-6: every state appears; terminal states have no way out; the diagram has every edge."""
        sources = {s for s, _e in CONNECTION_MACHINE.transitions}
        assert sources == {ConnectionState.PENDING, ConnectionState.APPROVED}
        assert all(not s.is_terminal for s in sources)
        targets = set(CONNECTION_MACHINE.transitions.values())
        assert targets | {ConnectionState.PENDING} == set(ConnectionState)
        diagram = CONNECTION_MACHINE.mermaid()
        for (source, event), target in CONNECTION_MACHINE.transitions.items():
            assert f"{source.value} --> {target.value}: {event.value}" in diagram

    def test_co_5_pure_expire_refuses_early(self, world: World) -> None:
        """CO-5: the expire transition refuses a request that is not yet due."""
        pending = request(world, world.p_clinic)
        with pytest.raises(InvalidTransitionError):
            pending.expire(now=pending.requested_at + timedelta(days=29))
        assert ConnectionEvent.EXPIRE.past == "expired"

    def test_co_3_connections_listed_per_side(self, world: World) -> None:
        """Connections are found by profile, by surrogate, or by both."""
        first = world.connect(world.p_individual)
        second = request(world, world.p_clinic)
        assert [c.id for c in world.service.connections_of(surrogate_id=world.acme_id)] == [
            first.id,
            second.id,
        ]
        assert [c.id for c in world.service.connections_of(profile_id=world.p_clinic)] == [
            second.id
        ]
        with pytest.raises(ValidationError):
            world.service.connections_of()


def add(world: World, profile_id: str, *systems: System) -> Connection:
    """The provider side (Ana) adds Acme as surrogate of *profile_id* (CO-3)."""
    return world.service.add_surrogate(
        actor=world.actor("ana"),
        profile_id=profile_id,
        surrogate_id=world.acme_id,
        systems=systems or (System.PECOS,),
    )


#: The two ways to open a request (CO-3): the surrogate asks, or the provider adds.
OPENERS = {"surrogate": request, "provider": add}


class TestOnePending:
    @pytest.mark.parametrize("side", list(OPENERS))
    def test_co_10_a_second_pending_request_from_the_same_side_is_refused(
        self, world: World, runtime: Runtime, side: str
    ) -> None:
        """A second pending request between the same two, opened from the same side, is
        connection.pending_exists; nothing is written."""
        pending = OPENERS[side](world, world.p_clinic, System.PECOS)
        before = len(runtime.storage.audit.entries())
        with pytest.raises(ConflictError) as info:
            OPENERS[side](world, world.p_clinic, System.NPPES)
        assert info.value.code == "connection.pending_exists"
        assert info.value.fields["connection_id"] == pending.id
        assert [c.id for c in world.service.connections_of(profile_id=world.p_clinic)] == [
            pending.id
        ]
        assert len(runtime.storage.audit.entries()) == before

    @pytest.mark.parametrize(("first", "second"), list(itertools.permutations(OPENERS)))
    def test_co_10_each_direction_holds_its_own_pending_request(
        self, world: World, first: str, second: str
    ) -> None:
        """One pending request per surrogate, profile *and direction*: the other side may
        open its own while the first waits; each is answered on its own (CO-3, CO-4)."""
        one = OPENERS[first](world, world.p_clinic, System.PECOS)
        two = OPENERS[second](world, world.p_clinic, System.NPPES)
        assert one.id != two.id and one.initiator is not two.initiator
        states = {c.id: c.state for c in world.service.connections_of(profile_id=world.p_clinic)}
        assert states == {one.id: ConnectionState.PENDING, two.id: ConnectionState.PENDING}

    @pytest.mark.parametrize("side", list(OPENERS))
    def test_co_10_after_30_days_a_new_request_is_allowed_and_the_old_recorded_expired(
        self, world: World, runtime: Runtime, clock: FixedClock, side: str
    ) -> None:
        """At day 30 a new request from the same side is allowed and the old one is
        recorded expired."""
        stale = OPENERS[side](world, world.p_clinic)
        clock.advance(days=30, seconds=-1)
        with pytest.raises(ConflictError):
            OPENERS[side](world, world.p_clinic)
        clock.advance(seconds=1)
        fresh = OPENERS[side](world, world.p_clinic)
        assert fresh.state is ConnectionState.PENDING and fresh.id != stale.id
        assert world.service.connection(stale.id).state is ConnectionState.EXPIRED
        names = [e.event.name for e in runtime.storage.audit.for_subject(stale.id)]
        assert names == ["connection.requested", "connection.expired"]
        assert world.service.sweep_expired_connections() == ()
        pending = [
            c
            for c in world.service.connections_of(profile_id=world.p_clinic)
            if world.service.connection_state(c.id) is ConnectionState.PENDING
        ]
        assert [c.id for c in pending] == [fresh.id]

    def test_co_10_a_closed_request_frees_the_pair(self, world: World) -> None:
        """After a rejection or a withdrawal, a new request between the same two is allowed."""
        rejected = world.service.reject_connection(
            actor=world.actor("ana"), connection_id=request(world, world.p_clinic).id
        )
        assert rejected.state is ConnectionState.REJECTED
        withdrawn = world.service.withdraw_connection(
            actor=world.actor("carla"), connection_id=request(world, world.p_clinic).id
        )
        assert withdrawn.state is ConnectionState.WITHDRAWN
        assert add(world, world.p_clinic).state is ConnectionState.PENDING


class TestBoundary:
    def test_er_1_systems_given_by_their_values_are_accepted(self, world: World) -> None:
        """systems=["PECOS", "NPPES"] (JSON values) are System.PECOS and System.NPPES."""
        pending = world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_clinic,
            systems=["PECOS", "NPPES"],  # type: ignore[list-item]
        )
        assert pending.requested_systems == {System.PECOS, System.NPPES}

    @pytest.mark.parametrize(
        "system",
        ["FAX", "pecos", "", "\ud800", "P" * 2_000_000],
        ids=["other", "lower-case", "empty", "lone-surrogate", "2MB"],
    )
    def test_er_1_a_wrong_system_is_refused_with_the_choices(
        self, world: World, runtime: Runtime, system: str
    ) -> None:
        """A wrong system value is input.choice with the allowed values; nothing stored."""
        carla = world.actor("carla")
        before = len(runtime.storage.audit.entries())
        with pytest.raises(ValidationError) as info:
            world.service.request_connection(
                actor=carla,
                surrogate_id=world.acme_id,
                profile_id=world.p_clinic,
                systems=[System.PECOS, system],  # type: ignore[list-item]
            )
        assert info.value.code == "input.choice"
        assert info.value.fields["allowed"] == ["PECOS", "NPPES", "EHR"]
        assert len(info.value.message) < 300
        assert len(runtime.storage.audit.entries()) == before
