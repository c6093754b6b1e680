"""Access test setup: a service on the shared runtime and a small world of facts."""

from __future__ import annotations

import attrs
import pytest

from enrollkit.access import (
    AccessService,
    Association,
    Connection,
    Employer,
    InMemoryVerifier,
    Role,
    System,
    VerificationStatus,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.npi import NPI
from enrollkit.runtime import Runtime


def npi(base9: str) -> NPI:
    """A valid NPI completing a 9-digit base with its check digit."""
    return NPI(base9 + str(NPI.check_digit_for(base9)))


@pytest.fixture
def verifier() -> InMemoryVerifier:
    """A verifier that verifies every AO request at once (tests reject by hand)."""
    return InMemoryVerifier(default=VerificationStatus.VERIFIED)


@pytest.fixture
def service(runtime: Runtime, verifier: InMemoryVerifier) -> AccessService:
    """The access service on the in-memory runtime."""
    return AccessService(runtime, verifier=verifier)


@attrs.define
class World:
    """Ana is an individual provider (Type 1) who owns Ruiz Clinic (Type 2, she is its AO);
    Carla is AO of Acme Credentialing (a surrogate with no NPI); Cred is Acme staff."""

    service: AccessService
    notifier: InMemoryNotifier
    clinic_id: str
    acme_id: str
    p_individual: str  #: Ana's Type 1 profile
    p_clinic: str  #: Ruiz Clinic's Type 2 profile
    ana_ao: Association
    carla_ao: Association
    cred_seu: Association

    def join(self, user_id: str, organization_id: str, role: Role, *, by: str) -> Association:
        """Request *role* with an organization and have *by* approve it."""
        pending = self.service.request_association(
            user_id=user_id, employer=Employer.organization(organization_id), role=role
        )
        return self.service.approve_association(actor_id=by, association_id=pending.id)

    def connect(self, profile_id: str, *systems: System, approver: str = "ana") -> Connection:
        """Acme requests a connection to *profile_id* and *approver* approves it."""
        requested = self.service.request_connection(
            actor_id="carla",
            surrogate_id=self.acme_id,
            profile_id=profile_id,
            systems=systems or (System.PECOS,),
        )
        return self.service.approve_connection(actor_id=approver, connection_id=requested.id)


@pytest.fixture
def world(service: AccessService, notifier: InMemoryNotifier) -> World:
    """The usual cast of the access tests."""
    individual = service.register_individual_profile(
        actor_id="ana", npi=npi("123456780"), legal_name="Ana Ruiz MD"
    )
    clinic = service.register_organization(
        actor_id="ana", legal_name="Ruiz Clinic PLLC", npi=npi("123456789"), ein="12-3456789"
    )
    acme = service.register_organization(
        actor_id="carla", legal_name="Acme Credentialing LLC", ein="98-7654321"
    )
    assert clinic.profile is not None
    world = World(
        service,
        notifier,
        clinic.organization.id,
        acme.organization.id,
        individual.id,
        clinic.profile.id,
        clinic.association,
        acme.association,
        clinic.association,
    )
    world.cred_seu = world.join("cred", acme.organization.id, Role.STAFF_END_USER, by="carla")
    return world
