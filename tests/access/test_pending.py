"""CO-9: My Pending Connections and Approve All Selected (all or none); auto-rejected
requests read "rejected (no answer in 30 days)"."""

from __future__ import annotations

import itertools

import pytest

from enrollkit.access import Action, Connection, ConnectionState, Employer, Role, Side, System
from enrollkit.clock import FixedClock
from enrollkit.errors import EnrollkitError, ExpiredError, NotPermittedError, ValidationError
from tests.access.conftest import World


def ask(world: World, surrogate_id: str, by: str, profile_id: str, *systems: System) -> Connection:
    return world.service.request_connection(
        actor=world.actor(by),
        surrogate_id=surrogate_id,
        profile_id=profile_id,
        systems=systems or (System.PECOS,),
    )


@pytest.fixture
def beta(world: World) -> str:
    """A second surrogate, Beta Billing (no NPI), whose AO is Max."""
    registered = world.service.register_organization(
        actor=world.actor("max"), legal_name="Beta Billing LLC", ein="11-2233445"
    )
    return registered.organization.id


class TestMyPendingConnections:
    def test_co_9_every_request_the_user_may_answer_across_profiles(
        self, world: World, beta: str, clock: FixedClock
    ) -> None:
        """Ana answers for her own profile and for her clinic: three requests from two
        surrogates, soonest auto-rejection first, with days left; the request Ana's side
        made (Acme answers it) is on Carla's list, not Ana's."""
        first = ask(world, world.acme_id, "carla", world.p_individual, System.PECOS, System.NPPES)
        clock.advance(days=4)
        second = ask(world, beta, "max", world.p_clinic)
        third = ask(world, beta, "max", world.p_individual, System.EHR)
        ours = world.service.add_surrogate(
            actor=world.actor("ana"),
            profile_id=world.p_clinic,
            surrogate_id=world.acme_id,
            systems={System.PECOS},
        )
        rows = world.service.pending_for(actor=world.actor("ana"))
        assert [r.connection_id for r in rows] == [first.id, second.id, third.id]
        assert [r.days_left for r in rows] == [26, 30, 30]
        assert {r.answering_side for r in rows} == {Side.PROVIDER}
        assert rows[1].surrogate_name == "Beta Billing LLC"
        assert rows[1].profile_name == "Ruiz Clinic PLLC"
        (carlas,) = world.service.pending_for(actor=world.actor("carla"))
        assert (carlas.connection_id, carlas.answering_side) == (ours.id, Side.SURROGATE)

    def test_co_9_staff_and_strangers_have_nothing_to_answer(self, world: World, beta: str) -> None:
        """An SEU of the surrogate and a stranger see an empty list."""
        ask(world, beta, "max", world.p_clinic)
        for who in ("cred", "stranger"):
            assert world.service.pending_for(actor=world.actor(who)) == ()

    def test_co_9_an_auto_rejected_request_leaves_the_list(
        self, world: World, clock: FixedClock
    ) -> None:
        """Days left count calendar days (0 on the last day, EN-9); at the deadline the
        request is rejected automatically and no longer listed."""
        ask(world, world.acme_id, "carla", world.p_clinic)
        clock.advance(days=29)
        (row,) = world.service.pending_for(actor=world.actor("ana"))
        assert row.days_left == 1
        clock.advance(hours=23, minutes=59)
        (row,) = world.service.pending_for(actor=world.actor("ana"))
        assert row.days_left == 0
        clock.advance(minutes=1)
        assert world.service.pending_for(actor=world.actor("ana")) == ()

    def test_co_9_the_providers_office_manager_answers_for_her(
        self, world: World, beta: str
    ) -> None:
        """RO-5 amended: Ana's Access Manager (her office manager) manages her profile's
        connections, so its requests are on his list."""
        pending = world.service.request_association(
            actor=world.actor("pat"),
            employer=Employer.individual_provider(world.p_individual),
            role=Role.ACCESS_MANAGER,
        )
        world.service.approve_association(actor=world.actor("ana"), association_id=pending.id)
        asked = ask(world, beta, "max", world.p_individual)
        ask(world, beta, "max", world.p_clinic)  # the clinic is not his to answer
        assert [r.connection_id for r in world.service.pending_for(actor=world.actor("pat"))] == [
            asked.id
        ]


class TestApproveAllSelected:
    def test_co_9_approves_each_with_its_chosen_systems(self, world: World, beta: str) -> None:
        """One unit of work approves every selected request, each for its own systems."""
        one = ask(world, world.acme_id, "carla", world.p_individual, System.PECOS, System.NPPES)
        two = ask(world, beta, "max", world.p_clinic, System.PECOS, System.EHR)
        done = world.service.approve_selected(
            actor=world.actor("ana"), selections={one.id: {System.NPPES}, two.id: None}
        )
        assert {c.id: c.approved_systems for c in done} == {
            one.id: frozenset({System.NPPES}),
            two.id: frozenset({System.PECOS, System.EHR}),
        }
        assert world.service.pending_for(actor=world.actor("ana")) == ()

    @pytest.mark.parametrize(
        "bad", ["expired", "not_mine", "wrong_system", "unknown", "already_approved"]
    )
    def test_co_9_all_or_none(self, world: World, beta: str, clock: FixedClock, bad: str) -> None:
        """If any one selected request cannot be approved, none is, and the refusal names
        it; the others stay pending."""
        stale = ask(world, world.acme_id, "carla", world.p_clinic)
        clock.advance(days=29)
        good = ask(world, beta, "max", world.p_individual, System.PECOS)
        selections: dict[str, set[System] | None] = {good.id: None}
        if bad == "expired":
            clock.advance(days=1)  # the first request is now rejected automatically
            bad_id = stale.id
        elif bad == "not_mine":
            bad_id = world.service.add_surrogate(
                actor=world.actor("ana"),
                profile_id=world.p_individual,
                surrogate_id=world.acme_id,
                systems={System.EHR},
            ).id  # Acme's side answers it
        elif bad == "wrong_system":
            bad_id = stale.id
            selections[bad_id] = {System.EHR}  # not among what was asked
        elif bad == "unknown":
            bad_id = "conn-nope"
        else:
            world.service.approve_connection(actor=world.actor("ana"), connection_id=stale.id)
            bad_id = stale.id
        selections.setdefault(bad_id, None)
        with pytest.raises(EnrollkitError) as info:
            world.service.approve_selected(actor=world.actor("ana"), selections=selections)
        assert info.value.fields["connection_id"] == bad_id
        assert "Nothing was approved" in info.value.message
        assert world.service.connection_state(good.id) is ConnectionState.PENDING
        if bad == "expired":
            assert isinstance(info.value, ExpiredError)
            assert "rejected automatically" in info.value.message
        if bad == "not_mine":
            assert isinstance(info.value, NotPermittedError)

    def test_co_9_every_mix_is_all_or_none(self, world: World, beta: str) -> None:
        """Over every subset of three requests, one of which Ana may not answer: the batch
        succeeds exactly when that one is left out, and otherwise changes nothing."""
        mine = [
            ask(world, world.acme_id, "carla", world.p_individual).id,
            ask(world, beta, "max", world.p_clinic).id,
        ]
        theirs = world.service.add_surrogate(
            actor=world.actor("ana"),
            profile_id=world.p_clinic,
            surrogate_id=world.acme_id,
            systems={System.EHR},
        ).id
        chosen_sets = [
            set(c) for n in (1, 2, 3) for c in itertools.combinations([*mine, theirs], n)
        ]
        for chosen in sorted(chosen_sets, key=lambda c: (theirs not in c, len(c))):
            before = {i: world.service.connection_state(i) for i in [*mine, theirs]}
            if theirs in chosen:
                with pytest.raises(NotPermittedError):
                    world.service.approve_selected(
                        actor=world.actor("ana"), selections=dict.fromkeys(chosen)
                    )
                assert {i: world.service.connection_state(i) for i in before} == before
        world.service.approve_selected(actor=world.actor("ana"), selections=dict.fromkeys(mine))
        assert all(world.service.connection_state(i) is ConnectionState.APPROVED for i in mine)
        assert world.service.connection_state(theirs) is ConnectionState.PENDING

    def test_co_9_nothing_selected_is_refused(self, world: World) -> None:
        """An empty selection is a clear validation error."""
        with pytest.raises(ValidationError) as info:
            world.service.approve_selected(actor=world.actor("ana"), selections={})
        assert info.value.code == "connection.none_selected"


class TestRejectedNotExpired:
    def test_co_9_users_read_rejected_after_30_days(self) -> None:
        """The stored state keeps its name; what people read says rejected."""
        assert ConnectionState.EXPIRED.label == "rejected (no answer in 30 days)"
        assert ConnectionState.REJECTED.label == "rejected"

    def test_co_9_access_explains_an_auto_rejected_request_as_rejected(
        self, world: World, clock: FixedClock
    ) -> None:
        """The access decision's explanation says rejected, not expired."""
        asked = ask(world, world.acme_id, "carla", world.p_clinic)
        clock.advance(days=30)
        decision = world.service.decide(
            user_id="cred",
            action=Action.ACT_ON_BEHALF,
            profile_id=world.p_clinic,
            system=System.PECOS,
        )
        assert decision.denial is not None
        assert "rejected automatically" in decision.denial.message
        assert "nobody answered it in 30 days" in decision.denial.message
        assert "expired" not in decision.denial.message
        assert asked.id in decision.denial.message
