"""The reading half of the access service: AccessReads answers on its own, changes nothing,
and AccessService offers the same reads (CO-7, CO-8, CO-9, RO-6, RO-9)."""

from __future__ import annotations

import inspect

import attrs

from enrollkit.access import AccessReads, AccessService, Action, Decision, Employer, System
from enrollkit.clock import FixedClock
from enrollkit.principals import AccountGate, Principal
from enrollkit.runtime import Reads, Runtime, Transaction
from tests.access.conftest import World


class TestReads:
    def test_co_9_every_read_answers_alone_and_records_nothing(
        self, world: World, runtime: Runtime
    ) -> None:
        """A host that only reads uses AccessReads on the same runtime: the same answers
        as the service, and not one audit entry (a read commits nothing)."""
        conn = world.connect(world.p_individual, System.PECOS)
        pending = world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_clinic,
            systems=[System.NPPES],
        )
        reads = AccessReads(runtime)
        before = runtime.storage.audit.entries()
        clinic = Employer.organization(world.clinic_id)
        answers = {
            "organization": reads.organization(world.clinic_id).legal_name,
            "find_organizations": [
                o.id for o in reads.find_organizations(legal_name="ACME credentialing, L.L.C.")
            ],
            "profile": reads.profile(world.p_clinic).id,
            "find_profile": reads.find_profile(reads.profile(world.p_clinic).npi),
            "profiles_of": [p.id for p in reads.profiles_of(owner_id="ana")],
            "claims_of": [c.state.value for c in reads.claims_of(account_id="ana")],
            "members": [a.user_id for a in reads.members(clinic)],
            "associations_of": [a.id for a in reads.associations_of(user_id="cred")],
            "association": reads.association(world.cred_seu.id).role.value,
            "invitations_for": reads.invitations_for(email="nobody@example.org"),
            "connection": reads.connection(conn.id).state.value,
            "connection_state": reads.connection_state(pending.id).value,
            "connections_of": [c.id for c in reads.connections_of(surrogate_id=world.acme_id)],
            "pending_for": [r.connection_id for r in reads.pending_for(actor=world.actor("ana"))],
            "decide": reads.decide(
                user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
            ).explain(),
            "decide_for_organization": reads.decide_for_organization(
                user_id="carla", action=Action.MANAGE_STAFF, organization_id=world.acme_id
            ).allowed,
        }
        assert runtime.storage.audit.entries() == before
        assert answers["organization"] == "Ruiz Clinic PLLC"
        assert answers["find_organizations"] == [world.acme_id]
        assert answers["find_profile"] == reads.profile(world.p_clinic)
        assert answers["profiles_of"] == [world.p_individual]
        assert answers["claims_of"] == ["verified"]
        assert answers["members"] == ["ana"]
        assert answers["connection_state"] == "pending"
        assert answers["connections_of"] == [conn.id, pending.id]
        assert answers["pending_for"] == [pending.id]
        assert f"connection {conn.id}" in str(answers["decide"])
        assert answers["decide_for_organization"] is True
        assert world.service.pending_for(actor=world.actor("ana"))[0].connection_id == pending.id

    def test_er_1_the_service_offers_every_read_boundary_checked(self) -> None:
        """AccessService is an AccessReads: hosts call every read on the service as before,
        each checked at the boundary (ER-1); the service adds only commands."""
        names = [n for n, _ in inspect.getmembers(AccessReads, inspect.isfunction)]
        reads = {n for n in names if not n.startswith("_")}
        assert len(reads) == 17
        assert issubclass(AccessService, AccessReads)
        for name in reads:
            assert getattr(AccessService, name) is getattr(AccessReads, name)
            assert getattr(AccessReads, name).__enrollkit_boundary__ is True, name
        commands = {
            n
            for n, member in vars(AccessService).items()
            if not n.startswith("_") and inspect.isfunction(member)
        }
        assert not commands & reads


class _Barring:
    """An account port that bars ids without a commit (a host's own directory)."""

    def __init__(self, inner: AccountGate) -> None:
        self.inner = inner
        self.barred: set[str] = set()

    def require_usable(
        self, tx: Transaction, principal: Principal, *, password_change: bool = False
    ) -> None:
        self.inner.require_usable(tx, principal, password_change=password_change)

    def is_known(self, tx: Reads, account_id: str) -> bool:
        return account_id not in self.barred and self.inner.is_known(tx, account_id)


class TestRememberedDecisions:
    def _ask(self, reads: AccessReads, world: World, user_id: str = "cred") -> Decision:
        return reads.decide(
            user_id=user_id, action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
        )

    def test_co_7_a_remembered_answer_never_outlives_a_commit(self, world: World) -> None:
        """decide() remembers an answer until the next commit: the commit removing the
        connection is seen by the very next question (CO-7, ST-1)."""
        connection = world.connect(world.p_individual, System.PECOS)
        first = self._ask(world.service, world)
        assert first.allowed
        assert self._ask(world.service, world) is first  # remembered
        world.service.remove_connection(actor=world.actor("ana"), connection_id=connection.id)
        assert not self._ask(world.service, world).allowed

    def test_ac_8_the_account_is_checked_on_every_call(
        self, world: World, runtime: Runtime
    ) -> None:
        """A remembered answer still asks the account port each time (AC-8): an account
        the host bars without a commit is denied at once."""
        world.connect(world.p_individual, System.PECOS)
        barring = _Barring(runtime.accounts)
        runtime.accounts = barring
        assert self._ask(world.service, world).allowed
        assert self._ask(world.service, world).allowed
        barring.barred.add("cred")
        denied = self._ask(world.service, world)
        assert denied.denial is not None
        assert denied.denial.code == "access.unknown_account"
        barring.barred.clear()
        assert self._ask(world.service, world).allowed

    def test_co_8_remembered_answers_read_as_computed_ones(
        self, world: World, runtime: Runtime, clock: FixedClock
    ) -> None:
        """With or without the memo, every answer and its words are the same; a denial's
        words are composed at the time of the call (days left, CO-5, CO-8)."""
        world.service.request_connection(
            actor=world.actor("carla"),
            surrogate_id=world.acme_id,
            profile_id=world.p_individual,
            systems=[System.PECOS],
        )
        computed = AccessReads(attrs.evolve(runtime, memo_size=0))
        for _ in range(3):
            for user in ("cred", "carla", "ana", "nobody"):
                remembered = self._ask(world.service, world, user)
                again = self._ask(computed, world, user)
                assert remembered == again
                assert remembered.explain() == again.explain()
            clock.advance(days=12)  # the pending request: days left, then expired
