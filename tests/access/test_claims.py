"""RO-9: claiming an individual profile, proven before it grants anything, and the
recovery that transfers a profile taken by someone else to its proven holder."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.access import (
    AccessService,
    Action,
    AssociationState,
    ClaimState,
    Connection,
    ConnectionState,
    Employer,
    InMemoryProofer,
    InvitationState,
    Role,
    System,
    VerificationStatus,
)
from enrollkit.enrollment import InMemoryNppesDirectory, NppesRecord
from enrollkit.errors import (
    ConflictError,
    EnrollkitError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.npi import NPI, NPIType
from enrollkit.runtime import Runtime
from enrollkit.testing.actors import Actors
from tests.access.conftest import World, npi
from tests.conftest import make_runtime

#: An NPI nobody has registered yet.
FRESH = npi("111222333")
#: Ana's Type 1 NPI (her profile exists: the world's claim).
ANAS = npi("123456780")


def allowed(world: World, user: str, profile_id: str) -> bool:
    """Whether *user* may act on behalf of *profile_id* in PECOS now (CO-7)."""
    return world.service.decide(
        user_id=user, action=Action.ACT_ON_BEHALF, profile_id=profile_id
    ).allowed


def nppes_of(world: World) -> InMemoryNppesDirectory:
    directory = world.service.nppes
    assert isinstance(directory, InMemoryNppesDirectory)
    return directory


def type_1(world: World, number: NPI, *, active: bool = True) -> None:
    """NPPES shows *number* as a Type 1 NPI, active unless told."""
    nppes_of(world).put(
        NppesRecord(number, "Eve Example MD", npi_type=NPIType.INDIVIDUAL, active=active)
    )


@pytest.fixture
def pending(proofer: InMemoryProofer) -> InMemoryProofer:
    """Identity proofing that has not decided anyone yet."""
    proofer.default = VerificationStatus.PENDING
    return proofer


class TestNppes:
    def test_ro_9_an_npi_nppes_does_not_know_is_refused(self, world: World) -> None:
        """No NPPES record: profile.npi_unknown, and no claim is stored."""
        with pytest.raises(ValidationError) as info:
            world.service.claim_individual_profile(
                actor=world.actor("eve"), npi=FRESH, legal_name="Eve Example MD"
            )
        assert info.value.code == "profile.npi_unknown"
        assert world.service.claims_of(account_id="eve") == ()

    @pytest.mark.parametrize("npi_type", [NPIType.ORGANIZATION, None])
    def test_ro_9_a_type_2_npi_is_refused(self, world: World, npi_type: NPIType | None) -> None:
        """An NPI NPPES records as Type 2 (or without a type) is not claimed by a person."""
        nppes_of(world).put(NppesRecord(FRESH, "Eve Group LLC", npi_type=npi_type))
        with pytest.raises(ValidationError) as info:
            world.service.claim_individual_profile(
                actor=world.actor("eve"), npi=FRESH, legal_name="Eve Group LLC"
            )
        assert info.value.code == "profile.npi_not_individual"
        assert world.service.claims_of(account_id="eve") == ()

    def test_ro_9_an_organizations_registered_npi_is_refused(self, world: World) -> None:
        """The clinic's Type 2 NPI, registered with the clinic, is not claimable."""
        clinic_npi = world.service.profile(world.p_clinic).npi
        type_1(world, clinic_npi)  # even if NPPES were wrong about its type
        with pytest.raises(ValidationError) as info:
            world.service.claim_individual_profile(
                actor=world.actor("eve"), npi=clinic_npi, legal_name="Eve"
            )
        assert info.value.code == "profile.npi_not_individual"

    def test_ro_9_a_deactivated_npi_is_refused(self, world: World) -> None:
        """A Type 1 NPI that NPPES shows deactivated: profile.npi_inactive."""
        type_1(world, FRESH, active=False)
        with pytest.raises(ValidationError) as info:
            world.service.claim_individual_profile(
                actor=world.actor("eve"), npi=FRESH, legal_name="Eve Example MD"
            )
        assert info.value.code == "profile.npi_inactive"

    def test_ro_9_an_npi_deactivated_while_pending_is_refused_at_verification(
        self, world: World, pending: InMemoryProofer
    ) -> None:
        """A claim made while the NPI was active is not verified once NPPES deactivates it."""
        type_1(world, FRESH)
        claim = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=FRESH, legal_name="Eve Example MD"
        ).claim
        type_1(world, FRESH, active=False)
        pending.approve(FRESH, "eve")
        with pytest.raises(ValidationError) as info:
            world.service.verify_profile_claim(actor=world.actor("eve"), claim_id=claim.id)
        assert info.value.code == "profile.npi_inactive"
        assert world.service.find_profile(FRESH) is None

    @given(
        record=st.one_of(
            st.none(),
            st.builds(
                dict,
                npi_type=st.sampled_from([NPIType.INDIVIDUAL, NPIType.ORGANIZATION, None]),
                active=st.booleans(),
            ),
        )
    )
    def test_ro_9_only_an_active_type_1_record_makes_a_profile(
        self, record: dict[str, object] | None
    ) -> None:
        """Any NPPES answer: a profile is made iff the record is Type 1 and active."""
        runtime = make_runtime()
        directory = InMemoryNppesDirectory()
        service = AccessService(
            runtime,
            proofer=InMemoryProofer(default=VerificationStatus.VERIFIED),
            nppes=directory,
        )
        if record is not None:
            directory.put(NppesRecord(FRESH, "Eve Example MD", **record))  # type: ignore[arg-type]
        claimable = (
            record is not None and record["npi_type"] is NPIType.INDIVIDUAL and record["active"]
        )
        eve = Actors(runtime)("eve")
        try:
            outcome = service.claim_individual_profile(
                actor=eve, npi=FRESH, legal_name="Eve Example MD"
            )
        except ValidationError as exc:
            assert not claimable
            assert exc.code.startswith("profile.npi_")
            assert service.claims_of(account_id="eve") == ()
            assert service.find_profile(FRESH) is None
            return
        assert claimable
        assert outcome.profile is not None and outcome.profile.owner_id == "eve"


class TestPendingAndRejected:
    def test_ro_9_a_pending_claim_grants_nothing(
        self, world: World, pending: InMemoryProofer
    ) -> None:
        """A pending claim makes no profile, and others may claim the same NPI too."""
        type_1(world, FRESH)
        first = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=FRESH, legal_name="Eve Example MD"
        )
        assert (first.claim.state, first.profile, first.transfer) == (
            ClaimState.PENDING,
            None,
            None,
        )
        assert world.service.find_profile(FRESH) is None
        second = world.service.claim_individual_profile(
            actor=world.actor("newbie"), npi=FRESH, legal_name="Eve Example MD"
        )
        assert second.claim.state is ClaimState.PENDING and second.claim.id != first.claim.id
        assert world.service.find_profile(FRESH) is None

    def test_ro_9_a_pending_claim_of_a_held_npi_grants_nothing(
        self, world: World, pending: InMemoryProofer
    ) -> None:
        """A pending claim on Ana's NPI gives the claimant no access and takes none from Ana."""
        outcome = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Ana Ruiz MD"
        )
        assert outcome.claim.state is ClaimState.PENDING and outcome.profile is None
        assert not allowed(world, "eve", world.p_individual)
        assert allowed(world, "ana", world.p_individual)
        assert world.service.profile(world.p_individual).owner_id == "ana"

    def test_ro_9_one_pending_claim_per_claimant_and_npi(
        self, world: World, pending: InMemoryProofer
    ) -> None:
        """The same person claiming the same NPI again while pending is told to ask again."""
        type_1(world, FRESH)
        first = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=FRESH, legal_name="Eve Example MD"
        )
        with pytest.raises(ConflictError) as info:
            world.service.claim_individual_profile(
                actor=world.actor("eve"), npi=FRESH, legal_name="Eve Example MD"
            )
        assert info.value.code == "profile.claim_pending"
        assert info.value.fields["claim_id"] == first.claim.id

    def test_ro_9_the_proofers_rejection_rejects_the_claim(
        self, world: World, proofer: InMemoryProofer, runtime: Runtime
    ) -> None:
        """A claim the proofer rejects is rejected with its reason; Ana keeps her profile."""
        proofer.reject(ANAS, "eve", reason="identity documents do not match")
        outcome = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Ana Ruiz MD"
        )
        assert outcome.claim.state is ClaimState.REJECTED and outcome.profile is None
        assert outcome.claim.reason == "identity documents do not match"
        assert world.service.profile(world.p_individual).owner_id == "ana"
        assert not allowed(world, "eve", world.p_individual)
        names = [e.event.name for e in runtime.storage.audit.for_subject(outcome.claim.id)]
        assert names == ["profile.claimed", "profile.claim_rejected"]

    def test_ro_9_a_pending_claim_rejected_later(
        self, world: World, pending: InMemoryProofer, runtime: Runtime
    ) -> None:
        """The help desk's later ask records the proofer's rejection; decided is final."""
        claim = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Ana Ruiz MD"
        ).claim
        pending.reject(ANAS, "eve", reason="not the provider")
        outcome = world.service.verify_profile_claim(
            actor=world.actors.help_desk("hd-3"), claim_id=claim.id
        )
        assert outcome.claim.state is ClaimState.REJECTED
        last = runtime.storage.audit.for_subject(claim.id)[-1].event
        assert (last.name, last.actor) == ("profile.claim_rejected", "help_desk:hd-3")
        with pytest.raises(InvalidTransitionError) as info:
            world.service.verify_profile_claim(actor=world.actor("eve"), claim_id=claim.id)
        assert info.value.code == "claim.decided"


class TestWhoAsks:
    def test_ro_9_the_claimant_or_the_help_desk_asks_about_a_claim(
        self, world: World, pending: InMemoryProofer
    ) -> None:
        """Only the claimant or the help desk asks about a claim (claim.not_yours)."""
        type_1(world, FRESH)
        claim = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=FRESH, legal_name="Eve Example MD"
        ).claim
        with pytest.raises(NotPermittedError) as info:
            world.service.verify_profile_claim(actor=world.actor("stranger"), claim_id=claim.id)
        assert info.value.code == "claim.not_yours"
        with pytest.raises(NotPermittedError) as info:
            world.service.verify_profile_claim(actor=world.actors.mac(), claim_id=claim.id)
        assert info.value.code == "principal.kind"
        still = world.service.verify_profile_claim(actor=world.actor("eve"), claim_id=claim.id)
        assert still.claim.state is ClaimState.PENDING
        pending.approve(FRESH, "eve", reference="IDP-77")
        done = world.service.verify_profile_claim(actor=world.actors.help_desk(), claim_id=claim.id)
        assert done.claim.state is ClaimState.VERIFIED and done.claim.reference == "IDP-77"
        assert done.profile is not None and done.profile.owner_id == "eve"
        assert allowed(world, "eve", done.profile.id)

    def test_ro_9_the_claimant_must_be_an_account_that_may_act(self, world: World) -> None:
        """A help-desk operator cannot claim a profile for itself (principal.kind)."""
        type_1(world, FRESH)
        with pytest.raises(EnrollkitError) as info:
            world.service.claim_individual_profile(
                actor=world.actors.help_desk(), npi=FRESH, legal_name="Eve Example MD"
            )
        assert info.value.code == "principal.kind"


@attrs.frozen
class Controlled:
    """What Ana set up on her individual profile before Eve proves it is hers."""

    staff: str  #: Sam's active SEU association
    requested: str  #: Mia's pending SEU request
    invitation: str  #: an open invitation for Pat
    approved: Connection  #: Acme's approved connection
    surrogate_pending: Connection  #: Beta's pending request (the surrogate initiated it)
    provider_pending: Connection  #: Ana's pending addition of Gamma (the provider initiated it)


@pytest.fixture
def controlled(world: World) -> Controlled:
    """Ana's profile with staff, a request, an invitation and three connections."""
    service = world.service
    employer = Employer.individual_provider(world.p_individual)
    asked = service.request_association(
        actor=world.actor("sam"), employer=employer, role=Role.STAFF_END_USER
    )
    staff = service.approve_association(actor=world.actor("ana"), association_id=asked.id)
    requested = service.request_association(
        actor=world.actor("mia"), employer=employer, role=Role.STAFF_END_USER
    )
    invitation = service.invite(
        actor=world.actor("ana"),
        employers=employer,
        name="Pat Doe",
        email="pat@example.org",
        role=Role.STAFF_END_USER,
    )
    approved = world.connect(world.p_individual)
    beta = service.register_organization(actor=world.actor("dan"), legal_name="Beta Billing LLC")
    surrogate_pending = service.request_connection(
        actor=world.actor("dan"),
        surrogate_id=beta.organization.id,
        profile_id=world.p_individual,
        systems=[System.PECOS],
    )
    gamma = service.register_organization(actor=world.actor("max"), legal_name="Gamma Billing LLC")
    provider_pending = service.add_surrogate(
        actor=world.actor("ana"),
        profile_id=world.p_individual,
        surrogate_id=gamma.organization.id,
        systems=[System.NPPES],
    )
    assert allowed(world, "sam", world.p_individual)
    assert allowed(world, "cred", world.p_individual)
    return Controlled(
        staff.id, requested.id, invitation.id, approved, surrogate_pending, provider_pending
    )


class TestTransfer:
    def test_ro_9_the_proven_holder_takes_the_profile_and_the_former_owner_loses_it(
        self, world: World, controlled: Controlled
    ) -> None:
        """A verified claim on a held NPI transfers it; the former owner loses access."""
        outcome = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Eve Ruiz MD"
        )
        assert outcome.claim.state is ClaimState.VERIFIED
        assert outcome.profile is not None and outcome.profile.id == world.p_individual
        assert outcome.profile.owner_id == "eve"
        assert outcome.transfer is not None
        assert (outcome.transfer.profile_id, outcome.transfer.previous_owner_id) == (
            world.p_individual,
            "ana",
        )
        assert allowed(world, "eve", world.p_individual)
        assert not allowed(world, "ana", world.p_individual)
        assert allowed(world, "ana", world.p_clinic)
        assert world.service.profiles_of(owner_id="ana") == ()

    def test_ro_9_staff_requests_and_invitations_of_the_former_owner_end(
        self, world: World, controlled: Controlled
    ) -> None:
        """The former owner's staff end, requests are rejected, invitations revoked."""
        outcome = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Eve Ruiz MD"
        )
        assert outcome.transfer is not None
        service = world.service
        assert service.association(controlled.staff).state is AssociationState.ENDED
        assert service.association(controlled.requested).state is AssociationState.REJECTED
        assert service.invitation(controlled.invitation).state is InvitationState.REVOKED
        assert set(outcome.transfer.ended_associations) == {
            controlled.staff,
            controlled.requested,
        }
        assert outcome.transfer.revoked_invitations == (controlled.invitation,)
        assert not allowed(world, "sam", world.p_individual)
        assert not allowed(world, "mia", world.p_individual)
        live = [
            a
            for a in service.members(Employer.individual_provider(world.p_individual))
            if not a.state.is_terminal
        ]
        assert live == []

    def test_ro_9_connections_provider_requests_end_approved_stay_for_review(
        self, world: World, controlled: Controlled
    ) -> None:
        """Provider-side pending connections end; surrogate's stay; approved stay for review."""
        outcome = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Eve Ruiz MD"
        )
        assert outcome.transfer is not None
        state = world.service.connection_state
        assert state(controlled.provider_pending.id) is ConnectionState.WITHDRAWN
        assert state(controlled.surrogate_pending.id) is ConnectionState.PENDING
        assert state(controlled.approved.id) is ConnectionState.APPROVED
        assert outcome.transfer.closed_connections == (controlled.provider_pending.id,)
        assert [c.id for c in outcome.transfer.connections_to_review] == [controlled.approved.id]
        assert allowed(world, "cred", world.p_individual)
        approved = world.service.approve_connection(
            actor=world.actor("eve"), connection_id=controlled.surrogate_pending.id
        )
        assert approved.state is ConnectionState.APPROVED

    def test_ro_9_one_transfer_event_lists_everything(
        self, world: World, controlled: Controlled, runtime: Runtime
    ) -> None:
        """One profile.transferred event lists everything the transfer ended or kept."""
        outcome = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Eve Ruiz MD"
        )
        assert outcome.transfer is not None
        events = [
            e.event
            for e in runtime.storage.audit.for_subject(world.p_individual)
            if e.event.name == "profile.transferred"
        ]
        assert len(events) == 1
        data = events[0].data
        assert (data["previous_owner_id"], data["owner_id"]) == ("ana", "eve")
        assert set(data["ended_associations"]) == {controlled.staff, controlled.requested}
        assert list(data["revoked_invitations"]) == [controlled.invitation]
        assert list(data["closed_connections"]) == [controlled.provider_pending.id]
        assert list(data["connections_to_review"]) == [controlled.approved.id]

    def test_ro_9_a_pending_claim_verified_later_transfers_too(
        self, world: World, controlled: Controlled, pending: InMemoryProofer
    ) -> None:
        """A claim proven after a pending period transfers the profile just the same."""
        claim = world.service.claim_individual_profile(
            actor=world.actor("eve"), npi=ANAS, legal_name="Eve Ruiz MD"
        ).claim
        assert allowed(world, "sam", world.p_individual)
        pending.approve(ANAS, "eve")
        outcome = world.service.verify_profile_claim(actor=world.actor("eve"), claim_id=claim.id)
        assert outcome.transfer is not None and outcome.transfer.previous_owner_id == "ana"
        assert not allowed(world, "ana", world.p_individual)
        assert not allowed(world, "sam", world.p_individual)

    def test_ro_9_the_owner_claiming_again_is_told_it_is_theirs(self, world: World) -> None:
        """Ana claiming her own NPI again is a conflict, not a transfer to herself."""
        with pytest.raises(ConflictError) as info:
            world.service.claim_individual_profile(
                actor=world.actor("ana"), npi=ANAS, legal_name="Ana Ruiz MD"
            )
        assert info.value.code == "profile.already_yours"
