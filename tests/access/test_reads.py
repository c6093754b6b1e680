"""The reading half of the access service: AccessReads answers on its own, changes nothing,
and AccessService offers the same reads (CO-7, CO-8, CO-9, RO-6, RO-9)."""

from __future__ import annotations

import inspect

from enrollkit.access import AccessReads, AccessService, Action, Employer, System
from enrollkit.runtime import Runtime
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
