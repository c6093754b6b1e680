"""CO-7, CO-8: effective access through exactly three paths, and every decision explains itself;
RO-6 with RO-3/RO-4: role changes; AC-8: only an enabled, registered account is granted anything."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from enrollkit.access import (
    Action,
    Decision,
    Employer,
    GrantKind,
    GrantPath,
    InMemoryVerifier,
    Organization,
    Role,
    System,
    Verification,
    VerificationStatus,
    _explain,
    decide,
    decide_for_organization,
    decide_role_change,
    decide_signing_authority,
    roles_held,
)
from enrollkit.clock import FixedClock
from enrollkit.errors import NotFoundError, NotPermittedError, ValidationError
from enrollkit.runtime import Runtime
from enrollkit.serialization import from_data, to_data
from tests.access.conftest import CAST, World


def assert_explained(decision: Decision) -> None:
    """CO-8: a denial has a code, the missing fact and at least one role that can fix it."""
    assert not decision.allowed and decision.grant is None
    denial = decision.denial
    assert denial is not None
    assert denial.code.startswith("access.")
    assert denial.missing and denial.missing[1:] in denial.message
    assert decision.explain() == denial.message
    assert any(f.role is not None for f in denial.fixers), denial
    assert all(f.organization_id or f.profile_id for f in denial.fixers)
    with pytest.raises(NotPermittedError) as info:
        decision.require()
    error = info.value
    assert error.code == denial.code and error.fields["missing"] == denial.missing


class TestGrantPaths:
    def test_co_7_individual_provider_acts_for_own_profile(self, world: World) -> None:
        """Path 1: the owner of a Type 1 profile may do everything for it, in every system."""
        for action, system in itertools.product(Action, System):
            decision = world.service.decide(
                user_id="ana", action=action, profile_id=world.p_individual, system=system
            )
            assert decision.grant is not None
            assert decision.grant.kind is GrantKind.OWN_PROFILE
            assert decision.grant.role is Role.INDIVIDUAL_PROVIDER

    def test_co_7_association_role_permits_per_matrix(self, world: World) -> None:
        """Path 2: an active association with the profile's organization, as the matrix says."""
        world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        allowed = world.service.decide(
            user_id="sam", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        )
        assert allowed.grant is not None and allowed.grant.kind is GrantKind.ASSOCIATION
        denied = world.service.decide(
            user_id="sam", action=Action.MANAGE_STAFF, profile_id=world.p_clinic
        )
        assert_explained(denied)
        assert denied.denial is not None and denied.denial.code == "access.role_not_permitted"

    def test_co_7_surrogate_acts_only_through_an_approved_connection(self, world: World) -> None:
        """Path 3: Acme staff act for a profile whose connection to Acme covers the system."""
        conn = world.connect(world.p_individual, System.PECOS)
        decision = world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        )
        grant = decision.require()
        assert (grant.kind, grant.role, grant.connection_id) == (
            GrantKind.CONNECTION,
            Role.SURROGATE,
            conn.id,
        )
        assert grant.association_id == world.cred_seu.id
        assert "conn-" in decision.explain()

    def test_co_7_a_surrogate_only_acts_on_behalf(self, world: World) -> None:
        """RO-2 through CO-7: a connection never lets a surrogate manage the provider's staff."""
        world.connect(world.p_individual, System.PECOS)
        decision = world.service.decide(
            user_id="carla", action=Action.MANAGE_CONNECTIONS, profile_id=world.p_individual
        )
        assert_explained(decision)

    def test_co_1_one_profile_never_implies_the_other(self, world: World) -> None:
        """CO-1: a connection to Ana's individual profile gives nothing on her clinic's."""
        world.connect(world.p_individual, System.PECOS)
        decision = world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        )
        assert_explained(decision)
        assert decision.denial is not None and decision.denial.code == "access.no_connection"

    def test_co_7_organization_level_decision(self, world: World) -> None:
        """An AO manages the organization's staff; an SEU does not."""
        assert world.service.decide_for_organization(
            user_id="carla", action=Action.MANAGE_STAFF, organization_id=world.acme_id
        ).allowed
        decision = world.service.decide_for_organization(
            user_id="cred", action=Action.MANAGE_STAFF, organization_id=world.acme_id
        )
        assert_explained(decision)

    def test_roles_held_lists_active_roles_only(self, world: World, runtime: Runtime) -> None:
        """roles_held answers from the user's active association with the organization."""
        world.service.request_association(
            actor=world.actor("pat"),
            employer=Employer.organization(world.clinic_id),
            role=Role.ACCESS_MANAGER,
        )
        with runtime.transaction() as tx:
            assert roles_held(tx, user_id="cred", organization_id=world.acme_id) == {
                Role.STAFF_END_USER
            }
            assert roles_held(tx, user_id="pat", organization_id=world.clinic_id) == frozenset()
            assert roles_held(tx, user_id="ana", organization_id=world.clinic_id) == {
                Role.AUTHORIZED_OFFICIAL
            }

    def test_unknown_profile_is_not_found(self, world: World) -> None:
        """Asking about a profile that does not exist is NotFound, not a denial."""
        with pytest.raises(NotFoundError) as info:
            world.service.decide(user_id="ana", action=Action.ACT_ON_BEHALF, profile_id="nope")
        assert info.value.code == "provider_profile.not_found"


class TestDenialsExplainThemselves:
    def test_co_8_system_not_covered_names_connection_and_fixer(self, world: World) -> None:
        """CO-8: "connection C covers PECOS only; the IP can approve NPPES"."""
        conn = world.connect(world.p_individual, System.PECOS)
        decision = world.service.decide(
            user_id="cred",
            action=Action.ACT_ON_BEHALF,
            profile_id=world.p_individual,
            system=System.NPPES,
        )
        assert_explained(decision)
        denial = decision.denial
        assert denial is not None
        assert denial.code == "access.system_not_covered"
        assert denial.connection_id == conn.id
        assert "covers PECOS only, not NPPES" in denial.message
        assert denial.fixers[0].role is Role.INDIVIDUAL_PROVIDER

    def test_co_8_pending_connection_names_approver_side(self, world: World) -> None:
        """CO-8: a pending request says who approves it and until when."""
        conn = world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_clinic,
            systems=[System.PECOS],
        )
        decision = world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        )
        assert_explained(decision)
        denial = decision.denial
        assert denial is not None and denial.code == "access.connection_pending"
        assert denial.connection_id == conn.id
        assert {f.role for f in denial.fixers} == {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER}
        assert {f.organization_id for f in denial.fixers} == {world.clinic_id}

    def test_co_8_expired_connection_is_explained(self, world: World, clock: FixedClock) -> None:
        """CO-5 + CO-8: an auto-rejected request says so, with its date, and who can redo it."""
        world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_clinic,
            systems=[System.PECOS],
        )
        clock.advance(days=31)
        decision = world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        )
        assert_explained(decision)
        assert decision.denial is not None
        assert decision.denial.code == "access.connection_expired"
        assert "30 days" in decision.explain()

    def test_co_8_pending_association_with_the_surrogate(self, world: World) -> None:
        """A user whose own association with the surrogate is pending is told so."""
        world.connect(world.p_individual, System.PECOS)
        world.service.request_association(
            actor=world.actor("newbie"),
            employer=Employer.organization(world.acme_id),
            role=Role.STAFF_END_USER,
        )
        decision = world.service.decide(
            user_id="newbie", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        )
        assert_explained(decision)
        assert decision.denial is not None
        assert decision.denial.code == "access.association_pending"
        assert decision.denial.fixers[0].organization_id == world.acme_id

    def test_co_8_stranger_is_told_whom_to_ask(self, world: World) -> None:
        """A user with no association at all is told who could take them on."""
        decision = world.service.decide(
            user_id="stranger", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        )
        assert_explained(decision)
        assert decision.denial is not None and decision.denial.code == "access.not_associated"

    @pytest.mark.parametrize("action", list(Action))
    @pytest.mark.parametrize("user", ["cred", "carla", "stranger", "sam"])
    def test_co_8_every_denial_carries_code_missing_fact_and_fixer(
        self, world: World, clock: FixedClock, action: Action, user: str
    ) -> None:
        """CO-8: across users, actions, profiles and systems, no denial is unexplained."""
        world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        world.connect(world.p_individual, System.PECOS)
        world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_clinic,
            systems=[System.NPPES],
        )
        for profile, system in itertools.product([world.p_individual, world.p_clinic], System):
            decision = world.service.decide(
                user_id=user, action=action, profile_id=profile, system=system
            )
            if not decision.allowed:
                assert_explained(decision)
        clock.advance(days=30)
        decision = world.service.decide(
            user_id=user, action=action, profile_id=world.p_clinic, system=System.NPPES
        )
        if not decision.allowed:
            assert_explained(decision)

    def test_co_8_the_closest_connection_is_the_one_told(self, world: World) -> None:
        """Of several connections that grant nothing, the denial tells the one that asked
        for the system, then the one closest to access (approved for other systems, then
        pending, then ended)."""
        rejected = world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_clinic,
            systems=[System.NPPES],
        )
        world.service.reject_connection(actor=world.actor("ana"), connection_id=rejected.id)
        pending = world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_clinic,
            systems=[System.PECOS],
        )

        def told(system: System) -> tuple[str, str | None]:
            decision = world.service.decide(
                user_id="cred",
                action=Action.ACT_ON_BEHALF,
                profile_id=world.p_clinic,
                system=system,
            )
            assert_explained(decision)
            assert decision.denial is not None
            return decision.denial.code, decision.denial.connection_id

        assert told(System.PECOS) == ("access.connection_pending", pending.id)
        assert told(System.NPPES) == ("access.connection_rejected", rejected.id)
        assert told(System.EHR) == ("access.connection_pending", pending.id)
        world.service.approve_connection(actor=world.actor("ana"), connection_id=pending.id)
        assert told(System.NPPES) == ("access.connection_rejected", rejected.id)
        assert told(System.EHR) == ("access.system_not_covered", pending.id)


class TestDecisionValue:
    def test_a_decision_is_either_allowed_or_denied(self) -> None:
        """The Decision value refuses inconsistent shapes."""
        with pytest.raises(ValidationError):
            Decision(True, None, None)

    def test_organization_decision_inside_a_transaction(
        self, world: World, runtime: Runtime
    ) -> None:
        """The pure functions run inside a caller's transaction."""
        with runtime.transaction() as tx:
            assert decide_for_organization(
                tx, user_id="ana", action=Action.MANAGE_STAFF, organization_id=world.clinic_id
            ).allowed
            assert decide(
                tx, user_id="ana", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
            ).allowed


class TestExplainedWhenRead:
    def test_co_8_an_allowed_decision_composes_its_sentence_only_when_read(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Deciding builds no text when access is granted (every use case asks, most are
        allowed): each grant carries its facts and composes its sentence when read."""
        composed: list[str] = []
        for name in ("own_profile_sentence", "association_sentence", "connection_sentence"):
            real = getattr(_explain, name)

            def spy(*facts: object, name: str = name, real: Any = real) -> str:
                composed.append(name)
                return str(real(*facts))

            monkeypatch.setattr(_explain, name, spy)
        conn = world.connect(world.p_individual, System.PECOS)
        asked = [
            ("ana", world.p_individual, Action.MANAGE_STAFF),
            ("ana", world.p_clinic, Action.MANAGE_CONNECTIONS),
            ("cred", world.p_individual, Action.ACT_ON_BEHALF),
        ]
        decisions = [
            world.service.decide(user_id=user, action=action, profile_id=profile)
            for user, profile, action in asked
        ]
        assert all(d.allowed for d in decisions)
        assert composed == []
        ana = world.service.profile(world.p_individual).label
        assert ana.startswith("Ana Ruiz MD (NPI ")
        assert [d.explain() for d in decisions] == [
            f"ana is the individual provider of {ana} (CO-7).",
            f"ana is Authorized Official of Ruiz Clinic PLLC (association {world.ana_ao.id}), "
            "which permits approve/manage connections (RO-2, CO-7).",
            f"cred is Staff End User of Acme Credentialing LLC (association "
            f"{world.cred_seu.id}), which connection {conn.id} lets act on behalf of {ana} in "
            "PECOS (CO-7).",
        ]
        assert composed == ["own_profile_sentence", "association_sentence", "connection_sentence"]

    @pytest.mark.parametrize("read", ["eq", "hash", "repr", "to_data", "copy"])
    def test_st_4_co_8_a_grant_composed_when_read_is_the_value_written_out(
        self, world: World, read: str
    ) -> None:
        """However its sentence is first read (compared, hashed, printed, serialized,
        copied), a decided grant is the value written with that sentence, and it
        round-trips through the one converter (ST-4)."""
        conn = world.connect(world.p_individual, System.PECOS)
        decided = world.service.decide(
            user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        )
        grant = decided.require()
        written = GrantPath(
            GrantKind.CONNECTION,
            Role.SURROGATE,
            world.service.decide(
                user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
            ).explain(),
            profile_id=world.p_individual,
            organization_id=world.acme_id,
            association_id=world.cred_seu.id,
            connection_id=conn.id,
        )
        first: Callable[[], bool] = {
            "eq": lambda: grant == written,
            "hash": lambda: hash(grant) == hash(written),
            "repr": lambda: repr(grant) == repr(written),
            "to_data": lambda: to_data(grant) == to_data(written),
            "copy": lambda: copy.deepcopy(grant) == written,
        }[read]
        assert first()
        assert grant == written and hash(grant) == hash(written) and repr(grant) == repr(written)
        assert grant.explanation == written.explanation
        data = to_data(decided)
        assert data["grant"]["explanation"] == written.explanation
        assert from_data(data, Decision) == decided == Decision.allow(written)
        assert attrs.evolve(grant, rule="RO-2") == attrs.evolve(written, rule="RO-2")


class TestRoleChange:
    def test_ro_6_ro_4_changing_a_role_needs_managing_it_and_granting_the_new_one(
        self, world: World, runtime: Runtime
    ) -> None:
        """An AO makes an SEU an AM; an AM may not (RO-4); nobody changes their own role;
        each refusal is explained (CO-8), and the grant says what let it (RO-6)."""
        mia = world.join("mia", world.clinic_id, Role.ACCESS_MANAGER, by="ana")
        sam = world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        with runtime.transaction() as tx:
            by_am = decide_role_change(tx, user_id="mia", association=sam, role=Role.ACCESS_MANAGER)
            by_self = decide_role_change(
                tx, user_id="mia", association=mia, role=Role.STAFF_END_USER
            )
            by_ao = decide_role_change(tx, user_id="ana", association=sam, role=Role.ACCESS_MANAGER)
        assert_explained(by_am)
        assert by_am.denial is not None and by_am.denial.code == "access.cannot_grant_role"
        assert_explained(by_self)
        assert by_self.denial is not None
        assert by_self.denial.code == "access.cannot_manage_association"
        grant = by_ao.require()
        assert (grant.kind, grant.role, grant.association_id, grant.rule) == (
            GrantKind.ASSOCIATION,
            Role.AUTHORIZED_OFFICIAL,
            world.ana_ao.id,
            "RO-6",
        )
        assert by_ao.explain() == (
            f"ana is Authorized Official of Ruiz Clinic PLLC, who may change association "
            f"{sam.id} from Staff End User to Access Manager (RO-4, RO-6)."
        )

    def test_ro_3_the_ao_role_comes_only_from_the_verifier(
        self, world: World, runtime: Runtime
    ) -> None:
        """Making someone AO is allowed only when the verifier verified them (RO-3); without
        a verifier, or while it has not, the denial names the help desk."""
        sam = world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        verifier = InMemoryVerifier()
        with runtime.transaction() as tx:
            no_verifier = decide_role_change(
                tx, user_id="ana", association=sam, role=Role.AUTHORIZED_OFFICIAL
            )
            pending = decide_role_change(
                tx, user_id="ana", association=sam, role=Role.AUTHORIZED_OFFICIAL, verifier=verifier
            )
            verifier.approve(world.clinic_id, "sam", reference="HD-7")
            verified = decide_role_change(
                tx, user_id="ana", association=sam, role=Role.AUTHORIZED_OFFICIAL, verifier=verifier
            )
        for denied in (no_verifier, pending):
            assert denied.denial is not None
            assert denied.denial.code == "access.role_needs_verification"
            assert [f.verifier for f in denied.denial.fixers] == [True]
        grant = verified.require()
        assert (grant.kind, grant.reference, grant.rule) == (
            GrantKind.VERIFICATION,
            "HD-7",
            "RO-3",
        )
        assert "the verifier verified sam as Authorized Official (reference HD-7)" in (
            verified.explain()
        )

    def test_ro_6_the_verifier_is_asked_only_for_a_change_the_user_may_make(
        self, world: World, runtime: Runtime
    ) -> None:
        """A user who may not manage the association gets that answer; the verifier is
        not asked on their behalf (RO-6 before RO-3)."""
        sam = world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        asked: list[tuple[str, str]] = []

        class Recording(InMemoryVerifier):
            def verify(self, organization: Organization, user_id: str) -> Verification:
                asked.append((organization.id, user_id))
                return super().verify(organization, user_id)

        verifier = Recording(default=VerificationStatus.VERIFIED)
        with runtime.transaction() as tx:
            stranger = decide_role_change(
                tx,
                user_id="cred",
                association=sam,
                role=Role.AUTHORIZED_OFFICIAL,
                verifier=verifier,
            )
            assert asked == []
            ao = decide_role_change(
                tx, user_id="ana", association=sam, role=Role.AUTHORIZED_OFFICIAL, verifier=verifier
            )
        assert_explained(stranger)
        assert ao.allowed and asked == [(world.clinic_id, "sam")]


class TestSigningAuthority:
    def test_ro_8_ao_signs_only_if_listed_on_the_record(
        self, world: World, runtime: Runtime
    ) -> None:
        """RO-8: an I&A AO not listed on the enrollment record may not sign; listed, may."""
        with runtime.transaction() as tx:
            unlisted = decide_signing_authority(
                tx, user_id="ana", organization_id=world.clinic_id, listed_officials=[]
            )
            listed = decide_signing_authority(
                tx, user_id="ana", organization_id=world.clinic_id, listed_officials=["ana"]
            )
        assert_explained(unlisted)
        assert unlisted.denial is not None
        assert unlisted.denial.code == "access.not_listed_on_record"
        assert listed.grant is not None and listed.grant.rule == "RO-8"

    def test_ro_8_listed_but_not_an_official_in_ia(self, world: World, runtime: Runtime) -> None:
        """RO-8: being on the record is not enough without the I&A role (SEU, or none)."""
        world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        world.join("mia", world.clinic_id, Role.ACCESS_MANAGER, by="ana")
        with runtime.transaction() as tx:
            for user in ("sam", "stranger", "mia"):
                decision = decide_signing_authority(
                    tx, user_id=user, organization_id=world.clinic_id, listed_officials=[user]
                )
                assert decision.denial is not None
                assert decision.denial.code == "access.not_an_official"
                assert decision.denial.fixers
            as_do = decide_signing_authority(
                tx,
                user_id="mia",
                organization_id=world.clinic_id,
                listed_officials=["mia"],
                roles={Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER},
            )
        assert as_do.allowed


class TestOnlyKnownAccounts:
    def test_ac_8_a_disabled_account_is_granted_nothing(self, world: World) -> None:
        """A disabled account is granted nothing until the help desk enables it."""
        identity = world.actors.identity
        operator = world.actors.help_desk()
        assert world.service.decide(
            user_id="ana", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        ).allowed
        identity.help_desk_disable("ana", actor=operator, reason="left the practice")
        for profile_id in (world.p_individual, world.p_clinic):
            for action in Action:
                decision = world.service.decide(user_id="ana", action=action, profile_id=profile_id)
                assert not decision.allowed
                assert decision.denial is not None
                assert decision.denial.code == "access.unknown_account"
        organization = world.service.decide_for_organization(
            user_id="ana", action=Action.MANAGE_STAFF, organization_id=world.clinic_id
        )
        assert not organization.allowed
        identity.help_desk_enable("ana", actor=operator)
        assert world.service.decide(
            user_id="ana", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        ).allowed

    def test_ac_8_none_or_empty_is_never_allowed(self, world: World) -> None:
        """None is refused at the boundary (a ValidationError); an empty id is denied."""
        with pytest.raises(ValidationError):
            world.service.decide(
                user_id=None,  # type: ignore[arg-type]
                action=Action.ACT_ON_BEHALF,
                profile_id=world.p_individual,
            )
        decision = world.service.decide(
            user_id="", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        )
        assert not decision.allowed
        assert decision.denial is not None and decision.denial.code == "access.unknown_account"

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        user_id=st.one_of(
            st.text(max_size=40),
            st.sampled_from(CAST).map(str.upper),
            st.sampled_from(CAST).map(lambda name: f" {name}"),
        ),
        action=st.sampled_from(Action),
    )
    def test_ac_8_an_id_that_is_no_account_is_never_allowed(
        self, world: World, user_id: str, action: Action
    ) -> None:
        """Any text that is no account id is never allowed anything."""
        # Decisions are read-only, so the examples share the world; the boundary may refuse
        # odd text (a ValidationError), which allows nothing either.
        assume(user_id not in CAST)
        for profile_id in (world.p_individual, world.p_clinic):
            try:
                decision = world.service.decide(
                    user_id=user_id, action=action, profile_id=profile_id
                )
            except ValidationError:
                continue
            assert not decision.allowed
            assert decision.denial is not None
            assert decision.denial.code == "access.unknown_account"
