"""RO-7: staff invitations with a single-use PIN that expires exactly 72 hours after sending."""

from __future__ import annotations

import pytest

from enrollkit.access import (
    MIN_PIN_LENGTH,
    PIN_ALPHABET,
    AccessService,
    Action,
    AssociationState,
    Employer,
    GrantBasis,
    Invitation,
    InvitationPolicy,
    InvitationState,
    Role,
)
from enrollkit.clock import FixedClock
from enrollkit.errors import (
    ConflictError,
    ExpiredError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.runtime import Runtime, Transaction
from enrollkit.serialization import to_data
from tests.access.conftest import World

EMAIL = "Sam.Staff@Example.org"


class _Directory:
    """The accounts' own e-mail addresses, as identity's AccountContacts gives them."""

    def __init__(self, emails: dict[str, str]) -> None:
        self.emails = emails

    def email_of(self, tx: Transaction, user_id: str) -> str | None:
        return self.emails.get(user_id)


def invite(
    world: World, role: Role = Role.STAFF_END_USER, by: str = "ana", email: str = EMAIL
) -> tuple[Invitation, str]:
    """*by* invites someone to Ruiz Clinic; returns the invitation and the PIN from the mail."""
    invitation = world.service.invite(
        actor=world.actor(by),
        employers=Employer.organization(world.clinic_id),
        name="Sam Staff",
        email=email,
        role=role,
    )
    sent = world.notifier.last(invitation.email, "access.invitation")
    assert sent is not None and sent.secret is not None
    return invitation, sent.secret


class TestPin:
    def test_ro_7_pin_is_long_random_and_unambiguous(self, world: World) -> None:
        """RO-7: at least 9 characters, none of 0 O 1 I L, different each time."""
        pins = {invite(world, email=f"p{n}@example.org")[1] for n in range(6)}
        assert len(pins) == 6
        for pin in pins:
            assert len(pin) >= MIN_PIN_LENGTH
            assert set(pin) <= set(PIN_ALPHABET)
            assert not set(pin) & set("0O1IL")

    def test_ro_7_pin_never_in_storage_events_or_repr(self, world: World, runtime: Runtime) -> None:
        """AC-6/RO-7: only a hash is stored; events, the stored data and reprs lack the PIN."""
        invitation, pin = invite(world)
        assert pin not in repr(invitation)
        assert pin not in str(to_data(invitation))
        assert invitation.pin_hash.startswith("$argon2id$")
        for entry in runtime.storage.audit.entries():
            assert pin not in str(entry.event.data)
            assert "pin_hash" not in entry.event.data
        assert pin not in repr(world.notifier.sent[-1])

    def test_ro_7_policy_refuses_short_pins(self) -> None:
        """RO-7: the policy never issues a PIN under 9 characters."""
        with pytest.raises(ValidationError):
            InvitationPolicy(pin_length=8)


class TestAccept:
    def test_ro_7_accept_with_email_any_case_and_pin_activates(self, world: World) -> None:
        """RO-7: matching e-mail (case-insensitive) + PIN: the association is active at once."""
        invitation, pin = invite(world)
        (association,) = world.service.accept_invitation(
            actor=world.actor("sam"),
            invitation_id=invitation.id,
            email=EMAIL.upper(),
            pin=pin.lower(),
        )
        assert association.state is AssociationState.ACTIVE
        assert association.grant is not None
        assert association.grant.basis is GrantBasis.INVITATION
        assert (association.grant.by, association.grant.by_role) == (
            "ana",
            Role.AUTHORIZED_OFFICIAL,
        )
        assert world.service.decide(
            user_id="sam", action=Action.ACT_ON_BEHALF, profile_id=world.p_clinic
        ).allowed

    def test_ro_7_only_the_invited_account_accepts(self, world: World) -> None:
        """With the accounts' own addresses known (the facade wires identity's), a PIN
        and an invited address passed on to another account accept nothing, count no
        wrong PIN, and the invited person still accepts (RO-7)."""
        world.service.contacts = _Directory({"sam": EMAIL.lower(), "eve": "eve@example.org"})
        invitation, pin = invite(world)
        with pytest.raises(NotPermittedError) as refused:
            world.service.accept_invitation(
                actor=world.actor("eve"), invitation_id=invitation.id, email=EMAIL, pin=pin
            )
        assert refused.value.code == "invitation.other_account"
        assert pin not in refused.value.message
        unchanged = world.service.invitation(invitation.id)
        assert (unchanged.state, unchanged.failed_attempts) == (InvitationState.SENT, 0)
        (association,) = world.service.accept_invitation(
            actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
        )
        assert association.user_id == "sam" and association.state is AssociationState.ACTIVE

    def test_ro_7_an_account_without_a_known_address_accepts_with_the_typed_one(
        self, world: World
    ) -> None:
        """An account the directory does not know is held to the e-mail typed with the
        PIN alone."""
        world.service.contacts = _Directory({})
        invitation, pin = invite(world)
        (association,) = world.service.accept_invitation(
            actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
        )
        assert association.state is AssociationState.ACTIVE

    def test_ro_7_pin_is_single_use(self, world: World) -> None:
        """RO-7: a used invitation refuses its PIN a second time."""
        invitation, pin = invite(world)
        world.service.accept_invitation(
            actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
        )
        with pytest.raises(InvalidTransitionError) as info:
            world.service.accept_invitation(
                actor=world.actor("max"), invitation_id=invitation.id, email=EMAIL, pin=pin
            )
        assert info.value.code == "invitation.used"

    def test_ro_7_works_until_one_second_before_72_hours(
        self, world: World, clock: FixedClock
    ) -> None:
        """RO-7: at 71:59:59 after sending the PIN still works."""
        invitation, pin = invite(world)
        clock.advance(hours=71, minutes=59, seconds=59)
        (accepted,) = world.service.accept_invitation(
            actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
        )
        assert accepted.is_active

    def test_ro_7_expired_at_72_hours_exactly(self, world: World, clock: FixedClock) -> None:
        """RO-7: at exactly 72:00:00 after sending the invitation is expired."""
        invitation, pin = invite(world)
        clock.advance(hours=72)
        assert invitation.effective_state(clock.now()) is InvitationState.EXPIRED
        with pytest.raises(ExpiredError) as info:
            world.service.accept_invitation(
                actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
            )
        assert info.value.code == "invitation.expired"

    def test_ro_7_wrong_email_refused_without_counting(self, world: World) -> None:
        """RO-7: another e-mail is refused before the PIN is even compared."""
        invitation, pin = invite(world)
        with pytest.raises(NotPermittedError) as info:
            world.service.accept_invitation(
                actor=world.actor("eve"),
                invitation_id=invitation.id,
                email="eve@example.org",
                pin=pin,
            )
        assert info.value.code == "invitation.wrong_email"
        stored = world.service.invitation(invitation.id)
        assert (stored.state, stored.failed_attempts) == (InvitationState.SENT, 0)

    def test_ro_7_five_wrong_pins_lock_the_invitation(self, world: World, runtime: Runtime) -> None:
        """RO-7: each wrong PIN counts; the fifth locks it, then even the right PIN fails."""
        invitation, pin = invite(world)
        for left in (4, 3, 2, 1):
            with pytest.raises(NotPermittedError) as info:
                world.service.accept_invitation(
                    actor=world.actor("sam"),
                    invitation_id=invitation.id,
                    email=EMAIL,
                    pin="WRONGPIN9",
                )
            assert info.value.code == "invitation.wrong_pin"
            assert info.value.fields["attempts_left"] == left
        for _ in range(2):
            with pytest.raises(NotPermittedError) as info:
                world.service.accept_invitation(
                    actor=world.actor("sam"),
                    invitation_id=invitation.id,
                    email=EMAIL,
                    pin="WRONGPIN9",
                )
            assert info.value.code == "invitation.locked"
        with pytest.raises(NotPermittedError) as info:
            world.service.accept_invitation(
                actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
            )
        assert info.value.code == "invitation.locked"
        names = [e.event.name for e in runtime.storage.audit.for_subject(invitation.id)]
        assert names == ["invitation.sent"] + ["invitation.wrong_pin"] * 4 + ["invitation.locked"]

    def test_ro_7_lock_threshold_is_configurable(self, runtime: Runtime, world: World) -> None:
        """RO-7's 5 tries is a default: a policy of 2 locks on the second wrong PIN."""
        strict = AccessService(
            runtime,
            verifier=world.service.verifier,
            invitation_policy=InvitationPolicy(max_attempts=2),
        )
        invitation = strict.invite(
            actor=world.actor("ana"),
            employers=Employer.organization(world.clinic_id),
            name="Sam",
            email=EMAIL,
            role=Role.STAFF_END_USER,
        )
        for code in ("invitation.wrong_pin", "invitation.locked"):
            with pytest.raises(NotPermittedError) as info:
                strict.accept_invitation(
                    actor=world.actor("sam"),
                    invitation_id=invitation.id,
                    email=EMAIL,
                    pin="BADBADBAD",
                )
            assert info.value.code == code

    def test_ro_7_revoke_before_acceptance(self, world: World) -> None:
        """RO-7: a revoked invitation cannot be accepted; an accepted one cannot be revoked."""
        invitation, pin = invite(world)
        world.service.revoke_invitation(actor=world.actor("ana"), invitation_id=invitation.id)
        with pytest.raises(InvalidTransitionError) as info:
            world.service.accept_invitation(
                actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
            )
        assert info.value.code == "invitation.revoked"
        other, pin2 = invite(world)
        world.service.accept_invitation(
            actor=world.actor("sam"), invitation_id=other.id, email=EMAIL, pin=pin2
        )
        with pytest.raises(InvalidTransitionError):
            world.service.revoke_invitation(actor=world.actor("ana"), invitation_id=other.id)


class TestWhoInvites:
    def test_ro_7_am_invites_staff_but_not_an_am(self, world: World) -> None:
        """RO-7 with RO-4: an AM invites SEUs; inviting an AM needs an AO; AO is never invited."""
        world.join("mia", world.clinic_id, Role.ACCESS_MANAGER, by="ana")
        invite(world, by="mia")
        with pytest.raises(NotPermittedError) as info:
            invite(world, Role.ACCESS_MANAGER, by="mia")
        assert info.value.code == "access.cannot_grant_role"
        with pytest.raises(NotPermittedError) as info:
            invite(world, Role.AUTHORIZED_OFFICIAL, by="ana")
        assert info.value.code == "access.role_needs_verification"

    def test_ro_7_seu_cannot_invite(self, world: World) -> None:
        """RO-7: a Staff End User invites nobody."""
        with pytest.raises(NotPermittedError):
            world.service.invite(
                actor=world.actor("cred"),
                employers=Employer.organization(world.acme_id),
                name="X",
                email="x@example.org",
                role=Role.STAFF_END_USER,
            )

    def test_ro_7_ip_invites_staff_for_own_profile(self, world: World) -> None:
        """RO-7: an IP invites staff to their own Type 1 profile."""
        invitation = world.service.invite(
            actor=world.actor("ana"),
            employers=Employer.individual_provider(world.p_individual),
            name="Sam",
            email=EMAIL,
            role=Role.STAFF_END_USER,
        )
        pin = world.notifier.sent[-1].secret
        assert pin is not None
        world.service.accept_invitation(
            actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
        )
        assert world.service.decide(
            user_id="sam", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        ).allowed

    def test_ro_4_inviter_who_lost_the_role_cannot_grant_at_acceptance(self, world: World) -> None:
        """RO-4: acceptance re-checks that the inviter may still grant the role."""
        mia = world.join("mia", world.clinic_id, Role.ACCESS_MANAGER, by="ana")
        invitation, pin = invite(world, by="mia")
        world.service.end_association(actor=world.actor("ana"), association_id=mia.id)
        with pytest.raises(NotPermittedError):
            world.service.accept_invitation(
                actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
            )

    def test_invitations_are_found_by_email(self, world: World) -> None:
        """The invitee's pending invitations are found by e-mail, any case."""
        invitation, _pin = invite(world)
        assert [i.id for i in world.service.invitations_for(email="SAM.staff@example.ORG")] == [
            invitation.id
        ]


class TestSeveralEmployers:
    """RO-7 amended: the CMS invitation e-mail reads "for your employer(s) AAG Org One,
    JON SNOW": one invitation, one PIN, several employers of the inviter."""

    def both(self, world: World) -> list[Employer]:
        return [
            Employer.organization(world.clinic_id),
            Employer.individual_provider(world.p_individual),
        ]

    def test_ro_7_one_pin_activates_every_employer_at_once(self, world: World) -> None:
        """Ana invites Sam as SEU of her clinic and of her own profile with one PIN; the
        e-mail names both employers; accepting activates both associations."""
        invitation = world.service.invite(
            actor=world.actor("ana"),
            employers=self.both(world),
            name="Sam Staff",
            email=EMAIL,
            role=Role.STAFF_END_USER,
        )
        sent = world.notifier.last(invitation.email, "access.invitation")
        assert sent is not None and sent.secret is not None
        assert sent.fields["employer"] == "Ruiz Clinic PLLC, Ana Ruiz MD"
        associations = world.service.accept_invitation(
            actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=sent.secret
        )
        assert [a.employer for a in associations] == self.both(world)
        assert all(a.is_active for a in associations)
        for profile in (world.p_clinic, world.p_individual):
            assert world.service.decide(
                user_id="sam", action=Action.ACT_ON_BEHALF, profile_id=profile
            ).allowed
        stored = world.service.invitation(invitation.id)
        assert stored.association_ids == tuple(a.id for a in associations)

    def test_ro_7_all_or_none(self, world: World) -> None:
        """If one employer cannot take the invitee (Sam already has a role there), nothing
        is activated and the PIN stays usable."""
        invitation = world.service.invite(
            actor=world.actor("ana"),
            employers=self.both(world),
            name="Sam Staff",
            email=EMAIL,
            role=Role.STAFF_END_USER,
        )
        sent = world.notifier.last(invitation.email, "access.invitation")
        assert sent is not None and sent.secret is not None
        world.service.request_association(
            actor=world.actor("sam"),
            employer=Employer.individual_provider(world.p_individual),
            role=Role.STAFF_END_USER,
        )
        before = world.service.associations_of(user_id="sam")
        with pytest.raises(ConflictError) as info:
            world.service.accept_invitation(
                actor=world.actor("sam"),
                invitation_id=invitation.id,
                email=EMAIL,
                pin=sent.secret,
            )
        assert info.value.code == "association.exists"
        assert world.service.associations_of(user_id="sam") == before
        assert world.service.invitation(invitation.id).state is InvitationState.SENT

    def test_ro_7_the_inviter_must_grant_with_every_employer(self, world: World) -> None:
        """Carla (AO of Acme) cannot invite for Acme and Ana's clinic at once."""
        with pytest.raises(NotPermittedError):
            world.service.invite(
                actor=world.actor("carla"),
                employers=[
                    Employer.organization(world.acme_id),
                    Employer.organization(world.clinic_id),
                ],
                name="Sam Staff",
                email=EMAIL,
                role=Role.STAFF_END_USER,
            )
        assert world.service.invitations_for(email=EMAIL) == ()


class TestBoundary:
    @pytest.mark.parametrize(
        "pin", ["\ud800", "K7QX-\udfff-4", "K" * 2_000_000], ids=["surrogate", "inside", "2MB"]
    )
    def test_er_1_a_hostile_pin_is_refused_without_counting(self, world: World, pin: str) -> None:
        """A lone-surrogate or 2 MB PIN is a short ValidationError, not a wrong PIN."""
        invitation, _pin = invite(world)
        with pytest.raises(ValidationError) as info:
            world.service.accept_invitation(
                actor=world.actor("sam"), invitation_id=invitation.id, email=EMAIL, pin=pin
            )
        if len(pin) < 100:
            assert info.value.code == "input.text"
        assert len(info.value.message) < 300
        assert world.service.invitation(invitation.id).failed_attempts == 0

    @pytest.mark.parametrize("name", ["Sam\ud800", "S" * 2_000_000], ids=["surrogate", "2MB"])
    def test_er_1_a_hostile_name_or_address_is_refused(self, world: World, name: str) -> None:
        """A lone-surrogate or 2 MB invitee name or e-mail is refused; nothing is sent."""
        sent = len(world.notifier.sent)
        for fields in ({"name": name, "email": EMAIL}, {"name": "Sam", "email": name}):
            with pytest.raises(ValidationError) as info:
                world.service.invite(
                    actor=world.actor("ana"),
                    employers=Employer.organization(world.clinic_id),
                    role=Role.STAFF_END_USER,
                    **fields,
                )
            assert len(info.value.message) < 300
        assert len(world.notifier.sent) == sent
