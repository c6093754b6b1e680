"""RO-3..RO-6: registering with an employer, approvals, role changes, leaving, the last AO."""

from __future__ import annotations

import pytest

from enrollkit.access import (
    AccessService,
    Action,
    Association,
    AssociationState,
    Employer,
    GrantBasis,
    InMemoryVerifier,
    Role,
    System,
)
from enrollkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.runtime import Runtime
from enrollkit.testing.actors import Actors
from tests.access.conftest import World


def org(world: World, name: str = "clinic") -> Employer:
    return Employer.organization(world.clinic_id if name == "clinic" else world.acme_id)


class TestRegisterWithEmployer:
    def test_ro_6_request_is_pending_until_approved(self, world: World) -> None:
        """RO-6: a role request waits; it grants nothing while pending."""
        pending = world.service.request_association(
            actor=world.actor("sam"), employer=org(world), role=Role.STAFF_END_USER
        )
        assert pending.state is AssociationState.PENDING
        assert not world.service.decide(
            user_id="sam", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        ).allowed

    def test_ro_3_seu_approved_by_an_am(self, world: World) -> None:
        """RO-3: an AM approves a Staff End User; the grant records who and in what role."""
        world.join("mia", world.clinic_id, Role.ACCESS_MANAGER, by="ana")
        approved = world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="mia")
        assert approved.state is AssociationState.ACTIVE
        assert approved.grant is not None
        assert (approved.grant.basis, approved.grant.by, approved.grant.by_role) == (
            GrantBasis.ROLE,
            "mia",
            Role.ACCESS_MANAGER,
        )

    def test_ro_4_an_am_cannot_approve_an_am(self, world: World) -> None:
        """RO-4: an AM cannot grant the AM role; the refusal names an AO as the fixer."""
        world.join("mia", world.clinic_id, Role.ACCESS_MANAGER, by="ana")
        pending = world.service.request_association(
            actor=world.actor("max"), employer=org(world), role=Role.ACCESS_MANAGER
        )
        with pytest.raises(NotPermittedError) as info:
            world.service.approve_association(actor=world.actor("mia"), association_id=pending.id)
        assert info.value.code == "access.cannot_grant_role"
        assert [f["role"] for f in info.value.fields["fixers"]] == ["AO"]
        assert info.value.message.startswith("An Access Manager cannot grant the Access Manager")

    def test_ro_4_an_seu_approves_nothing(self, world: World) -> None:
        """RO-4: a Staff End User cannot approve even another SEU."""
        pending = world.service.request_association(
            actor=world.actor("sam"), employer=org(world, "acme"), role=Role.STAFF_END_USER
        )
        with pytest.raises(NotPermittedError) as info:
            world.service.approve_association(actor=world.actor("cred"), association_id=pending.id)
        assert info.value.code == "access.role_not_permitted"

    def test_ro_3_nobody_approves_an_ao_only_the_verifier(
        self, runtime: Runtime, actors: Actors
    ) -> None:
        """RO-3: an AO request stays pending until the verifier says yes; no user approves it."""
        verifier = InMemoryVerifier()
        service = AccessService(runtime, verifier=verifier)
        reg = service.register_organization(actor=actors("ana"), legal_name="Ruiz Clinic PLLC")
        assert reg.association.state is AssociationState.PENDING
        verifier.approve(reg.organization.id, "ana", reference="HD-1")
        with pytest.raises(NotPermittedError) as info:
            service.approve_association(actor=actors("ana"), association_id=reg.association.id)
        assert info.value.code == "access.role_needs_verification"
        assert info.value.fields["fixers"][0]["verifier"] is True
        verified = service.verify_authorized_official(
            actor=actors("ana"), association_id=reg.association.id
        )
        assert verified.state is AssociationState.ACTIVE
        assert verified.grant is not None and verified.grant.basis is GrantBasis.VERIFIER
        assert verified.grant.reference == "HD-1"

    def test_ro_3_verifier_rejection(self, runtime: Runtime, actors: Actors) -> None:
        """RO-3: a verifier's no rejects the AO request; the help desk may ask again too."""
        verifier = InMemoryVerifier()
        service = AccessService(runtime, verifier=verifier)
        reg = service.register_organization(actor=actors("eve"), legal_name="Shady LLC")
        verifier.reject(reg.organization.id, "eve", reason="not on the IRS record")
        with pytest.raises(NotPermittedError):  # only the requester or the help desk asks
            service.verify_authorized_official(
                actor=actors("mallory"), association_id=reg.association.id
            )
        rejected = service.verify_authorized_official(
            actor=actors.help_desk(), association_id=reg.association.id
        )
        assert rejected.state is AssociationState.REJECTED

    def test_ro_6_one_live_association_per_employer(self, world: World) -> None:
        """RO-6: a second request while one is pending or active is a conflict."""
        with pytest.raises(ConflictError) as info:
            world.service.request_association(
                actor=world.actor("cred"), employer=org(world, "acme"), role=Role.ACCESS_MANAGER
            )
        assert info.value.code == "association.exists"

    def test_ro_6_reject_a_request(self, world: World) -> None:
        """RO-6: an eligible approver may reject; the association is then terminal."""
        pending = world.service.request_association(
            actor=world.actor("sam"), employer=org(world), role=Role.STAFF_END_USER
        )
        rejected = world.service.reject_association(
            actor=world.actor("ana"), association_id=pending.id
        )
        assert rejected.state is AssociationState.REJECTED
        with pytest.raises(InvalidTransitionError):
            world.service.approve_association(actor=world.actor("ana"), association_id=pending.id)

    def test_ro_7_ip_approves_own_staff(self, world: World) -> None:
        """RO-3/RO-7: an IP takes staff on their own Type 1 profile, never an AO, and needs
        no role with herself."""
        employer = Employer.individual_provider(world.p_individual)
        pending = world.service.request_association(
            actor=world.actor("sam"), employer=employer, role=Role.STAFF_END_USER
        )
        approved = world.service.approve_association(
            actor=world.actor("ana"), association_id=pending.id
        )
        assert approved.grant is not None and approved.grant.by_role is Role.INDIVIDUAL_PROVIDER
        assert world.service.decide(
            user_id="sam", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        ).allowed
        with pytest.raises(ValidationError):
            world.service.request_association(
                actor=world.actor("max"), employer=employer, role=Role.AUTHORIZED_OFFICIAL
            )
        with pytest.raises(ValidationError):
            world.service.request_association(
                actor=world.actor("ana"), employer=employer, role=Role.STAFF_END_USER
            )


class TestProvidersOfficeManager:
    """RO-5 amended (the credentialer's guide: "Set the role they ask for, usually Access
    Manager, which lets them manage your enrollment on your behalf")."""

    def manager(self, world: World) -> Association:
        """Ana invites Mia, her office manager, as Access Manager of her own profile."""
        invitation = world.service.invite(
            actor=world.actor("ana"),
            employers=Employer.individual_provider(world.p_individual),
            name="Mia Office",
            email="mia@example.org",
            role=Role.ACCESS_MANAGER,
        )
        sent = world.notifier.last("mia@example.org", "access.invitation")
        assert sent is not None and sent.secret is not None
        (association,) = world.service.accept_invitation(
            actor=world.actor("mia"),
            invitation_id=invitation.id,
            email="mia@example.org",
            pin=sent.secret,
        )
        return association

    def test_ro_5_the_ip_grants_access_manager_on_her_profile(self, world: World) -> None:
        """The IP invites her office manager as AM; the grant names the IP."""
        association = self.manager(world)
        assert association.role is Role.ACCESS_MANAGER and association.is_active
        assert association.grant is not None
        assert association.grant.by_role is Role.INDIVIDUAL_PROVIDER

    def test_ro_5_her_am_manages_that_profiles_connections_and_staff(self, world: World) -> None:
        """The IP's AM approves a surrogate's request to the IP's profile and takes on
        Staff End Users there, but only the IP grants AM (RO-4)."""
        self.manager(world)
        requested = world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_individual,
            systems=[System.PECOS],
        )
        approved = world.service.approve_connection(
            actor=world.actor("mia"), connection_id=requested.id
        )
        assert approved.state.value == "approved" and approved.decided_by == "mia"
        employer = Employer.individual_provider(world.p_individual)
        staff = world.service.request_association(
            actor=world.actor("sam"), employer=employer, role=Role.STAFF_END_USER
        )
        assert world.service.approve_association(
            actor=world.actor("mia"), association_id=staff.id
        ).is_active
        other = world.service.request_association(
            actor=world.actor("max"), employer=employer, role=Role.ACCESS_MANAGER
        )
        with pytest.raises(NotPermittedError) as info:
            world.service.approve_association(actor=world.actor("mia"), association_id=other.id)
        assert info.value.code == "access.cannot_grant_role"
        assert info.value.message.startswith("An Access Manager cannot grant")
        assert world.service.approve_association(
            actor=world.actor("ana"), association_id=other.id
        ).is_active

    def test_ro_5_her_am_acts_for_her_profile_only(self, world: World) -> None:
        """The AM of Ana's individual profile has nothing with Ana's clinic (CO-1)."""
        self.manager(world)
        assert world.service.decide(
            user_id="mia", action=Action.MANAGE_CONNECTIONS, profile_id=world.p_individual
        ).allowed
        assert not world.service.decide(
            user_id="mia", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        ).allowed


class TestModifyCancelEnd:
    def test_ro_6_modify_role_needs_a_granter_of_the_new_role(self, world: World) -> None:
        """RO-6/RO-4: an AO promotes an SEU to AM; an AM may not."""
        world.join("mia", world.clinic_id, Role.ACCESS_MANAGER, by="ana")
        sam = world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        with pytest.raises(NotPermittedError):
            world.service.modify_role(
                actor=world.actor("mia"), association_id=sam.id, role=Role.ACCESS_MANAGER
            )
        promoted = world.service.modify_role(
            actor=world.actor("ana"), association_id=sam.id, role=Role.ACCESS_MANAGER
        )
        assert promoted.role is Role.ACCESS_MANAGER
        assert promoted.grant is not None and promoted.grant.by == "ana"

    def test_ro_3_modify_to_ao_asks_the_verifier(
        self, world: World, verifier: InMemoryVerifier
    ) -> None:
        """RO-3: promotion to AO happens only when the verifier verifies the person."""
        sam = world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        verifier.default = verifier.default.PENDING
        with pytest.raises(NotPermittedError) as info:
            world.service.modify_role(
                actor=world.actor("ana"), association_id=sam.id, role=Role.AUTHORIZED_OFFICIAL
            )
        assert info.value.code == "access.role_needs_verification"
        verifier.approve(world.clinic_id, "sam")
        promoted = world.service.modify_role(
            actor=world.actor("ana"), association_id=sam.id, role=Role.AUTHORIZED_OFFICIAL
        )
        assert promoted.grant is not None and promoted.grant.basis is GrantBasis.VERIFIER

    def test_ro_3_a_verified_promotion_records_the_verifiers_reference(
        self, world: World, verifier: InMemoryVerifier, runtime: Runtime
    ) -> None:
        """RO-3, AU-1: the grant and the event of a promotion to AO carry the verifier's
        reference, as decide_role_change found it; no user is recorded as the granter."""
        sam = world.join("sam", world.clinic_id, Role.STAFF_END_USER, by="ana")
        verifier.approve(world.clinic_id, "sam", reference="HD-42")
        promoted = world.service.modify_role(
            actor=world.actor("ana"), association_id=sam.id, role=Role.AUTHORIZED_OFFICIAL
        )
        assert promoted.grant is not None
        assert (promoted.grant.by, promoted.grant.by_role, promoted.grant.reference) == (
            None,
            None,
            "HD-42",
        )
        (event,) = [
            e.event
            for e in runtime.storage.audit.for_subject(sam.id)
            if e.event.name == "association.role_modified"
        ]
        assert (event.actor, event.data["basis"], event.data["role"]) == ("ana", "verifier", "AO")

    def test_ro_5_an_individual_providers_staff_never_become_ao(self, world: World) -> None:
        """RO-5 (amended): an IP's profile has AMs and SEUs only; asking to make one of them
        AO is refused as a role that employer cannot grant, before any verifier."""
        staff = world.service.request_association(
            actor=world.actor("max"),
            employer=Employer.individual_provider(world.p_individual),
            role=Role.STAFF_END_USER,
        )
        world.service.approve_association(actor=world.actor("ana"), association_id=staff.id)
        with pytest.raises(ValidationError) as info:
            world.service.modify_role(
                actor=world.actor("ana"), association_id=staff.id, role=Role.AUTHORIZED_OFFICIAL
            )
        assert info.value.code == "association.role_not_grantable"

    def test_ro_6_user_cancels_own_association(self, world: World) -> None:
        """RO-6: the user leaves; only the user can cancel."""
        with pytest.raises(NotPermittedError):
            world.service.cancel_association(
                actor=world.actor("carla"), association_id=world.cred_seu.id
            )
        left = world.service.cancel_association(
            actor=world.actor("cred"), association_id=world.cred_seu.id
        )
        assert left.state is AssociationState.CANCELLED

    def test_ro_6_am_ends_staff_but_not_an_ao(self, world: World) -> None:
        """RO-6/RO-4: an AM disassociates staff; ending an AO needs an AO."""
        world.join("mia", world.acme_id, Role.ACCESS_MANAGER, by="carla")
        with pytest.raises(NotPermittedError) as info:
            world.service.end_association(
                actor=world.actor("mia"), association_id=world.carla_ao.id
            )
        assert info.value.code == "access.cannot_manage_association"
        ended = world.service.end_association(
            actor=world.actor("mia"), association_id=world.cred_seu.id
        )
        assert ended.state is AssociationState.ENDED

    def test_ro_5_last_ao_cannot_leave_or_be_removed(self, world: World) -> None:
        """RO-5: the last active AO can neither cancel, be ended, nor be demoted."""
        with pytest.raises(InvalidTransitionError) as info:
            world.service.cancel_association(
                actor=world.actor("carla"), association_id=world.carla_ao.id
            )
        assert info.value.code == "association.last_authorized_official"

    def test_ro_5_a_second_ao_lets_the_first_leave(self, world: World) -> None:
        """RO-5: with two AOs, one may go; the other then stays."""
        second = world.service.request_association(
            actor=world.actor("dan"), employer=org(world, "acme"), role=Role.AUTHORIZED_OFFICIAL
        )
        assert second.state is AssociationState.ACTIVE
        with pytest.raises(NotPermittedError):
            world.service.end_association(
                actor=world.actor("carla"), association_id=world.carla_ao.id
            )
        ended = world.service.end_association(
            actor=world.actor("dan"), association_id=world.carla_ao.id
        )
        assert ended.state is AssociationState.ENDED
        with pytest.raises(InvalidTransitionError):
            world.service.cancel_association(actor=world.actor("dan"), association_id=second.id)
        with pytest.raises(NotPermittedError):  # nobody changes their own role
            world.service.modify_role(
                actor=world.actor("dan"), association_id=second.id, role=Role.ACCESS_MANAGER
            )

    def test_au_1_every_change_is_an_event(self, world: World, runtime: Runtime) -> None:
        """AU-1: requests, approvals and endings are all in the audit log."""
        names = [e.event.name for e in runtime.storage.audit.for_subject(world.cred_seu.id)]
        assert names == ["association.requested", "association.approved"]
        world.service.end_association(actor=world.actor("carla"), association_id=world.cred_seu.id)
        names = [e.event.name for e in runtime.storage.audit.for_subject(world.cred_seu.id)]
        assert names[-1] == "association.ended"
        assert runtime.storage.audit.verify().ok


class TestBoundary:
    def test_er_1_a_role_given_by_its_value_is_accepted(self, world: World) -> None:
        """role="SEU" (as a host speaking JSON sends it) is Role.STAFF_END_USER."""
        pending = world.service.request_association(
            actor=world.actor("sam"),
            employer=org(world),
            role="SEU",  # type: ignore[arg-type]
        )
        assert pending.role is Role.STAFF_END_USER

    @pytest.mark.parametrize("role", ["Admin", "seu", "STAFF_END_USER", "", 3, None])
    def test_er_1_a_wrong_role_is_refused_with_the_choices(
        self, world: World, runtime: Runtime, role: object
    ) -> None:
        """A wrong role is input.choice (or input.type) and nothing is stored."""
        sam = world.actor("sam")
        before = len(runtime.storage.audit.entries())
        with pytest.raises(ValidationError) as info:
            world.service.request_association(
                actor=sam,
                employer=org(world),
                role=role,  # type: ignore[arg-type]
            )
        assert info.value.code in {"input.choice", "input.type"}
        if info.value.code == "input.choice":
            assert info.value.fields["allowed"] == ["IP", "AO", "AM", "SEU", "SUR"]
        assert len(info.value.message) < 300
        assert len(runtime.storage.audit.entries()) == before

    @pytest.mark.parametrize(
        "odd", ["\ud800", "\u200b", "\U000e0001"], ids=["surrogate", "zwsp", "tag"]
    )
    def test_er_1_a_2_mb_role_of_unprintable_characters_gets_a_short_message(
        self, world: World, odd: str
    ) -> None:
        """A 2 MB role of unprintable characters gets a message under 300 characters."""
        with pytest.raises(ValidationError) as info:
            world.service.request_association(
                actor=world.actor("sam"),
                employer=org(world),
                role=odd * 2_000_000,  # type: ignore[arg-type]
            )
        assert info.value.code == "input.choice"
        assert len(info.value.message) < 300
