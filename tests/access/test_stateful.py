"""Privilege invariants under random actors doing random operations (RO-3..RO-7, CO-1..CO-7).

After every step of a random run of requests, approvals, invitations, role
changes, removals, connections, sweeps and clock advances, the machine checks:

* no escalation (RO-4): every active association was granted by the verifier
  (AO) or by someone who, right then, held a role that may grant it;
* CO-7: every allowed decision has a valid grant path and every valid grant
  path (computed here independently, by brute force) is allowed;
* CO-6: terminal connection states never change;
* RO-5: every organization with an active member keeps an active AO;
* CO-5: a pending request 30 days old is never approvable nor read as pending.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from enrollkit.access import (
    AccessService,
    Action,
    Association,
    Connection,
    ConnectionState,
    Employer,
    EmployerKind,
    GrantBasis,
    GrantKind,
    InMemoryProofer,
    InMemoryVerifier,
    Role,
    System,
    VerificationStatus,
)
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.clock import FixedClock
from enrollkit.enrollment import InMemoryNppesDirectory
from enrollkit.errors import EnrollkitError, ExpiredError
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import AccountStates
from enrollkit.notify import InMemoryNotifier
from enrollkit.runtime import Runtime, SequentialIds
from enrollkit.testing.actors import Actors
from tests.access.conftest import claim, npi
from tests.conftest import SECRET_KEY, T0

#: a hypothesis state machine over the access rules: left out of the fast inner loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

USERS = ("ana", "carla", "u1", "u2")
#: An actor choice: a named user, or "manager": someone who manages the employer right now.
ACTORS = st.sampled_from((*USERS, "manager", "manager"))
ROLES = (Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, Role.STAFF_END_USER)
#: Role choices weighted toward the roles users can actually approve (AO needs the verifier).
WANTED = st.sampled_from((Role.STAFF_END_USER, Role.STAFF_END_USER, Role.ACCESS_MANAGER, *ROLES))
MOSTLY = st.sampled_from((True, True, True, False))

# Independent restatements of the rulebook, so the machine does not grade the code by itself.
ACTS = {  # RO-2
    Role.INDIVIDUAL_PROVIDER: set(Action),
    Role.AUTHORIZED_OFFICIAL: set(Action),
    Role.ACCESS_MANAGER: set(Action),
    Role.STAFF_END_USER: {Action.ACT_ON_BEHALF},
    Role.SURROGATE: {Action.ACT_ON_BEHALF},
}
GRANTED_BY = {  # RO-3, RO-4; RO-5 amended: the IP grants AM on her own profile
    Role.STAFF_END_USER: {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, Role.INDIVIDUAL_PROVIDER},
    Role.ACCESS_MANAGER: {Role.AUTHORIZED_OFFICIAL, Role.INDIVIDUAL_PROVIDER},
    Role.AUTHORIZED_OFFICIAL: set(),
}


class AccessMachine(RuleBasedStateMachine):
    """Random actors on one individual profile, one clinic (Type 2) and one surrogate."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(T0)
        self.notifier = InMemoryNotifier()
        self.runtime = Runtime(
            storage=MemoryStorage(),
            secret_key=SECRET_KEY,
            accounts=AccountStates(),
            clock=self.clock,
            notifier=self.notifier,
            hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
            ids=SequentialIds(),
        )
        self.verifier = InMemoryVerifier(default=VerificationStatus.VERIFIED)
        self.nppes = InMemoryNppesDirectory()
        self.service = AccessService(
            self.runtime,
            verifier=self.verifier,
            proofer=InMemoryProofer(default=VerificationStatus.VERIFIED),
            nppes=self.nppes,
        )
        self.who = Actors(self.runtime)
        self.associations: list[str] = []
        self.connections: list[str] = []
        self.invitations: dict[str, tuple[str, str]] = {}  # id -> (email, pin)
        self.terminal: dict[str, ConnectionState] = {}

    @initialize()
    def cast(self) -> None:
        """Ana owns a Type 1 profile and is AO of her clinic; Carla is AO of Acme (no NPI),
        where u1 is staff."""
        svc = self.service
        for user in USERS:
            self.who.account(user)
        self.p_individual = claim(svc, self.who("ana"), npi("123456780"), "Ana Ruiz MD").id
        clinic = svc.register_organization(
            actor=self.who("ana"), legal_name="Ruiz Clinic PLLC", npi=npi("123456789")
        )
        acme = svc.register_organization(
            actor=self.who("carla"), legal_name="Acme Credentialing LLC"
        )
        assert clinic.profile is not None
        self.p_clinic = clinic.profile.id
        self.clinic = clinic.organization.id
        self.acme = acme.organization.id
        self.associations += [clinic.association.id, acme.association.id]
        staff = svc.request_association(
            actor=self.who("u1"),
            employer=Employer.organization(self.acme),
            role=Role.STAFF_END_USER,
        )
        self.associations.append(
            svc.approve_association(actor=self.who("carla"), association_id=staff.id).id
        )
        self.verifier.default = VerificationStatus.PENDING
        self.employers = (
            Employer.organization(self.clinic),
            Employer.organization(self.acme),
            Employer.individual_provider(self.p_individual),
        )
        self.profiles = (self.p_individual, self.p_clinic)

    # -- helpers --------------------------------------------------------------------------

    def _live(self, user: str, employer: Employer) -> list[str]:
        """The ids of *user*'s live (pending or active) associations with *employer*."""
        return [
            a.id
            for a in self.service.associations_of(user_id=user)
            if a.employer == employer and not a.state.is_terminal
        ]

    def _held(self, user: str, employer: Employer) -> set[Role]:
        """The roles *user* holds with *employer* right now, by brute force over the facts:
        the IP of their own profile, and the staff roles of active associations (an IP's
        AMs and SEUs too, RO-5 amended)."""
        held = {
            a.role
            for a in self._all_associations()
            if a.user_id == user and a.employer == employer and a.is_active
        }
        is_ip = employer.kind is EmployerKind.INDIVIDUAL_PROVIDER
        if is_ip and self.service.profile(employer.id).owner_id == user:
            held.add(Role.INDIVIDUAL_PROVIDER)
        return held

    def _all_associations(self) -> list[Association]:
        return [self.service.association(i) for i in self.associations]

    def _all_connections(self) -> list[Connection]:
        return [self.service.connection(i) for i in self.connections]

    def _pick(self, ids: list[str], index: int) -> str | None:
        return ids[-1 - index % len(ids)] if ids else None  # newest first

    def _actor(self, choice: str, employer: Employer, index: int = 0) -> str:
        """*choice*, or for "manager" a user who holds an IP, AO or AM role with *employer*."""
        if choice != "manager":
            return choice
        managers = sorted(
            u
            for u in USERS
            if self._held(u, employer)
            & {Role.INDIVIDUAL_PROVIDER, Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER}
        )
        return managers[index % len(managers)] if managers else "nobody"

    def _side(self, connection: Connection, provider: bool) -> Employer:
        if provider:
            profile = self.service.profile(connection.profile_id)
            if profile.organization_id:
                return Employer.organization(profile.organization_id)
            return Employer.individual_provider(profile.id)
        return Employer.organization(connection.surrogate_id)

    def _check_granted(self, association: Association, held_by_granter: set[Role]) -> None:
        grant = association.grant
        assert grant is not None
        if grant.basis is GrantBasis.VERIFIER:
            assert association.role is Role.AUTHORIZED_OFFICIAL
        else:
            assert grant.by_role in held_by_granter, (grant, held_by_granter)
            assert grant.by_role in GRANTED_BY[association.role]

    # -- associations ---------------------------------------------------------------------

    @rule(
        user=st.sampled_from(USERS),
        employer=st.integers(0, 2),
        role=WANTED,
        verified=st.booleans(),
    )
    def request_association(self, user: str, employer: int, role: Role, verified: bool) -> None:
        target = self.employers[employer]
        if verified and target.kind is EmployerKind.ORGANIZATION:
            self.verifier.approve(target.id, user)
        try:
            association = self.service.request_association(
                actor=self.who(user), employer=target, role=role
            )
        except EnrollkitError:
            return
        event(f"association requested: {association.state.value}")
        self.associations.append(association.id)

    @rule(actor=ACTORS, index=st.integers(0, 99), approve=MOSTLY)
    def decide_association(self, actor: str, index: int, approve: bool) -> None:
        picked = self._pick(self.associations, index)
        if picked is None:
            return
        association = self.service.association(picked)
        actor = self._actor(actor, association.employer, index)
        held = self._held(actor, association.employer)
        try:
            if approve:
                result = self.service.approve_association(
                    actor=self.who(actor), association_id=association.id
                )
                self._check_granted(result, held)
            else:
                self.service.reject_association(
                    actor=self.who(actor), association_id=association.id
                )
        except EnrollkitError as exc:
            event(f"association decision refused: {exc.code}")
            return
        event(f"association {'approved' if approve else 'rejected'}")

    @rule(index=st.integers(0, 99), outcome=st.sampled_from(list(VerificationStatus)))
    def verify_ao(self, index: int, outcome: VerificationStatus) -> None:
        picked = self._pick(self.associations, index)
        if picked is None:
            return
        association = self.service.association(picked)
        if outcome is VerificationStatus.VERIFIED:
            self.verifier.approve(association.employer.id, association.user_id)
        elif outcome is VerificationStatus.REJECTED:
            self.verifier.reject(association.employer.id, association.user_id, reason="no")
        try:
            self.service.verify_authorized_official(
                actor=self.who.help_desk(), association_id=association.id
            )
        except EnrollkitError:
            return

    @rule(actor=ACTORS, index=st.integers(0, 99), role=WANTED)
    def modify_role(self, actor: str, index: int, role: Role) -> None:
        picked = self._pick(self.associations, index)
        if picked is None:
            return
        association = self.service.association(picked)
        actor = self._actor(actor, association.employer, index)
        held = self._held(actor, association.employer)
        try:
            result = self.service.modify_role(
                actor=self.who(actor), association_id=association.id, role=role
            )
        except EnrollkitError:
            return
        event("role modified")
        self._check_granted(result, held)

    @rule(actor=ACTORS, index=st.integers(0, 99), own=st.booleans())
    def leave_or_end(self, actor: str, index: int, own: bool) -> None:
        picked = self._pick(self.associations, index)
        if picked is None:
            return
        association = self.service.association(picked)
        actor = self._actor(actor, association.employer, index)
        try:
            if own:
                self.service.cancel_association(
                    actor=self.who(association.user_id), association_id=association.id
                )
            else:
                self.service.end_association(actor=self.who(actor), association_id=association.id)
        except EnrollkitError:
            return

    # -- invitations ----------------------------------------------------------------------

    @rule(
        actor=ACTORS,
        employer=st.integers(0, 2),
        also=st.none() | st.integers(0, 2),
        role=WANTED,
        invitee=st.sampled_from(USERS),
    )
    def invite(self, actor: str, employer: int, also: int | None, role: Role, invitee: str) -> None:
        """One employer, or two of the inviter's employers with one PIN (RO-7 amended)."""
        actor = self._actor(actor, self.employers[employer])
        chosen = [self.employers[employer]]
        if also is not None and also != employer:
            chosen.append(self.employers[also])
        try:
            invitation = self.service.invite(
                actor=self.who(actor),
                employers=chosen,
                name=invitee,
                email=f"{invitee}@example.org",
                role=role,
            )
        except EnrollkitError:
            return
        event("invitation sent")
        pin = self.notifier.sent[-1].secret
        assert pin is not None
        self.invitations[invitation.id] = (invitation.email, pin)

    @rule(
        index=st.integers(0, 99),
        user=st.sampled_from(USERS),
        right_pin=MOSTLY,
        right_email=MOSTLY,
    )
    def accept(self, index: int, user: str, right_pin: bool, right_email: bool) -> None:
        invitation_id = self._pick(sorted(self.invitations), index)
        if invitation_id is None:
            return
        email, pin = self.invitations[invitation_id]
        invitation = self.service.invitation(invitation_id)
        held = {e: self._held(invitation.invited_by, e) for e in invitation.employers}
        before = {e: self._live(user, e) for e in invitation.employers}
        try:
            associations = self.service.accept_invitation(
                actor=self.who(user),
                invitation_id=invitation_id,
                email=email if right_email else "someone@else.org",
                pin=pin if right_pin else "ZZZZZZZZZ",
            )
        except EnrollkitError:
            # All or none (RO-7 amended): a refused acceptance activated nothing.
            assert {e: self._live(user, e) for e in invitation.employers} == before
            return
        event(f"invitation accepted for {len(associations)} employer(s)")
        assert right_pin and right_email
        assert self.clock.now() < invitation.expires_at  # RO-7: never after 72 hours
        assert [a.employer for a in associations] == list(invitation.employers)
        for association in associations:
            self._check_granted(association, held[association.employer])
            self.associations.append(association.id)

    @rule(actor=ACTORS, index=st.integers(0, 99))
    def revoke(self, actor: str, index: int) -> None:
        invitation_id = self._pick(sorted(self.invitations), index)
        if invitation_id is None:
            return
        invitation = self.service.invitation(invitation_id)
        actor = self._actor(actor, invitation.employers[0], index)
        try:
            self.service.revoke_invitation(actor=self.who(actor), invitation_id=invitation_id)
        except EnrollkitError:
            return

    # -- connections ----------------------------------------------------------------------

    @rule(
        actor=ACTORS,
        profile=st.integers(0, 1),
        from_provider=st.booleans(),
        systems=st.sets(st.sampled_from(list(System)), min_size=1),
    )
    def connect(self, actor: str, profile: int, from_provider: bool, systems: set[System]) -> None:
        if from_provider:
            owner = self.service.profile(self.profiles[profile])
            side = (
                Employer.organization(owner.organization_id)
                if owner.organization_id
                else Employer.individual_provider(owner.id)
            )
        else:
            side = Employer.organization(self.acme)
        actor = self._actor(actor, side)
        try:
            if from_provider:
                connection = self.service.add_surrogate(
                    actor=self.who(actor),
                    profile_id=self.profiles[profile],
                    surrogate_id=self.acme,
                    systems=systems,
                )
            else:
                connection = self.service.request_connection(
                    actor=self.who(actor),
                    surrogate_id=self.acme,
                    profile_id=self.profiles[profile],
                    systems=systems,
                )
        except EnrollkitError:
            return
        event("connection requested")
        self.connections.append(connection.id)

    @rule(
        actor=ACTORS,
        index=st.integers(0, 99),
        subset=st.sets(st.sampled_from(list(System))),
    )
    def approve_connection(self, actor: str, index: int, subset: set[System]) -> None:
        picked = self._pick(self.connections, index)
        if picked is None:
            return
        connection = self.service.connection(picked)
        approver_is_provider = connection.initiator.value == "surrogate"
        actor = self._actor(actor, self._side(connection, approver_is_provider), index)
        overdue = self.clock.now() >= connection.requested_at + timedelta(days=30)
        try:
            self.service.approve_connection(
                actor=self.who(actor),
                connection_id=connection.id,
                systems=(subset & connection.requested_systems) or None,
            )
        except ExpiredError:
            event("expired connection not approvable")
            assert overdue
            return
        except EnrollkitError:
            return
        event("connection approved")
        assert not overdue, "CO-5: a request 30 days old was approved"

    @rule(
        actor=ACTORS,
        index=st.integers(0, 99),
        how=st.sampled_from(["reject", "withdraw", "remove"]),
    )
    def close_connection(self, actor: str, index: int, how: str) -> None:
        call = {
            "reject": self.service.reject_connection,
            "withdraw": self.service.withdraw_connection,
            "remove": self.service.remove_connection,
        }[how]
        picked = self._pick(self.connections, index)
        if picked is None:
            return
        connection = self.service.connection(picked)
        actor = self._actor(actor, self._side(connection, index % 2 == 0), index)
        try:
            call(actor=self.who(actor), connection_id=picked)
        except EnrollkitError:
            return
        event(f"connection {how} done")

    @rule(hours=st.sampled_from([1, 24, 71, 72, 24 * 10, 24 * 29, 24 * 31]))
    def advance_clock(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    @rule()
    def sweep(self) -> None:
        for connection in self.service.sweep_expired_connections():
            assert connection.state is ConnectionState.EXPIRED

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def ro_4_no_escalation(self) -> None:
        """RO-4: every active association holds a grant an eligible granter could give."""
        for association in self._all_associations():
            if association.is_active:
                grant = association.grant
                assert grant is not None
                if grant.basis is GrantBasis.VERIFIER:
                    assert association.role is Role.AUTHORIZED_OFFICIAL
                else:
                    assert grant.by_role in GRANTED_BY[association.role]

    @invariant()
    def ro_5_every_organization_with_members_keeps_an_ao(self) -> None:
        """RO-5: an organization with any active member has an active AO."""
        active = [a for a in self._all_associations() if a.is_active]
        for org in (self.clinic, self.acme):
            members = [a for a in active if a.employer == Employer.organization(org)]
            if members:
                assert any(a.role is Role.AUTHORIZED_OFFICIAL for a in members), members

    @invariant()
    def co_6_terminal_states_never_change(self) -> None:
        """CO-6 and CO-5: terminal stays terminal; nothing 30 days old reads pending."""
        now = self.clock.now()
        for connection in self._all_connections():
            state = connection.effective_state(now)
            if connection.id in self.terminal:
                assert state is self.terminal[connection.id]
            elif state.is_terminal:
                self.terminal[connection.id] = state
            if now >= connection.deadline:
                assert state is not ConnectionState.PENDING
            if connection.state is ConnectionState.APPROVED:
                assert connection.decided_at is not None
                assert connection.decided_at < connection.deadline

    @invariant()
    def co_7_allowed_iff_valid_grant_path(self) -> None:
        """CO-7: decide() agrees with a brute-force reading of the facts, both ways."""
        now = self.clock.now()
        associations = [a for a in self._all_associations() if a.is_active]
        connections = self._all_connections()
        profiles = {p: self.service.profile(p) for p in self.profiles}
        for user, profile_id, action, system in itertools.product(
            USERS, self.profiles, Action, System
        ):
            profile = profiles[profile_id]
            employer = (
                Employer.organization(profile.organization_id)
                if profile.organization_id
                else Employer.individual_provider(profile.id)
            )
            paths: set[tuple[GrantKind, str | None, str | None]] = set()
            if profile.owner_id == user:
                paths.add((GrantKind.OWN_PROFILE, None, None))
            for a in associations:
                if a.user_id != user:
                    continue
                if a.employer == employer and action in ACTS[a.role]:
                    paths.add((GrantKind.ASSOCIATION, a.id, None))
                if a.employer.kind is EmployerKind.ORGANIZATION and action in ACTS[Role.SURROGATE]:
                    for c in connections:
                        if (
                            c.surrogate_id == a.employer.id
                            and c.profile_id == profile_id
                            and c.effective_state(now) is ConnectionState.APPROVED
                            and system in c.approved_systems
                        ):
                            paths.add((GrantKind.CONNECTION, a.id, c.id))
            decision = self.service.decide(
                user_id=user, action=action, profile_id=profile_id, system=system
            )
            assert decision.allowed == bool(paths), (user, profile_id, action, system, decision)
            if paths and GrantKind.CONNECTION in {p[0] for p in paths}:
                event("decision allowed through a connection")
            if decision.grant is not None:
                grant = decision.grant
                key = (grant.kind, grant.association_id, grant.connection_id)
                assert key in paths, (key, paths)
            else:
                assert decision.denial is not None
                assert decision.denial.code and decision.denial.missing
                assert decision.denial.fixers


AccessMachine.TestCase.settings = settings(settings.default, stateful_step_count=50, deadline=None)
TestAccessMachine = AccessMachine.TestCase
