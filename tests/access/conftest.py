"""Access test setup: a service on the shared runtime and a small world of facts."""

from __future__ import annotations

import attrs
import pytest

from enrollkit.access import (
    AccessService,
    Association,
    Connection,
    Employer,
    InMemoryProofer,
    InMemoryVerifier,
    ProviderProfile,
    Role,
    System,
    VerificationStatus,
)
from enrollkit.enrollment import InMemoryNppesDirectory, NppesRecord
from enrollkit.notify import InMemoryNotifier
from enrollkit.npi import NPI, NPIType
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime
from enrollkit.testing.actors import Actors

#: Everyone the access tests name; each is an account (AC-8: nobody else acts).
CAST = ("ana", "carla", "cred", "sam", "mia", "dan", "max", "pat", "newbie", "eve", "stranger")


def npi(base9: str) -> NPI:
    """A valid NPI completing a 9-digit base with its check digit."""
    return NPI(base9 + str(NPI.check_digit_for(base9)))


@pytest.fixture
def verifier() -> InMemoryVerifier:
    """A verifier that verifies every AO request at once (tests reject by hand)."""
    return InMemoryVerifier(default=VerificationStatus.VERIFIED)


@pytest.fixture
def proofer() -> InMemoryProofer:
    """Identity proofing that confirms every claimant at once (tests reject by hand, RO-9)."""
    return InMemoryProofer(default=VerificationStatus.VERIFIED)


@pytest.fixture
def nppes() -> InMemoryNppesDirectory:
    """An NPPES directory; :func:`claim` puts the NPIs it claims in it (RO-9)."""
    return InMemoryNppesDirectory()


@pytest.fixture
def service(
    runtime: Runtime,
    verifier: InMemoryVerifier,
    proofer: InMemoryProofer,
    nppes: InMemoryNppesDirectory,
) -> AccessService:
    """The access service on the in-memory runtime."""
    return AccessService(runtime, verifier=verifier, proofer=proofer, nppes=nppes)


def claim(service: AccessService, actor: Principal, npi: NPI, legal_name: str) -> ProviderProfile:
    """*actor* claims the Type 1 profile of *npi*, which NPPES shows active and the proofer
    confirms (RO-9): the usual way an individual provider's profile comes to be."""
    nppes = service.nppes
    assert isinstance(nppes, InMemoryNppesDirectory)
    nppes.put(NppesRecord(npi, legal_name, npi_type=NPIType.INDIVIDUAL))
    outcome = service.claim_individual_profile(actor=actor, npi=npi, legal_name=legal_name)
    assert outcome.profile is not None, outcome
    return outcome.profile


@attrs.define
class World:
    """Ana is an individual provider (Type 1) who owns Ruiz Clinic (Type 2, she is its AO);
    Carla is AO of Acme Credentialing (a surrogate with no NPI); Cred is Acme staff."""

    service: AccessService
    notifier: InMemoryNotifier
    actors: Actors
    clinic_id: str
    acme_id: str
    p_individual: str  #: Ana's Type 1 profile
    p_clinic: str  #: Ruiz Clinic's Type 2 profile
    ana_ao: Association
    carla_ao: Association
    cred_seu: Association

    def actor(self, name: str) -> Principal:
        """The principal of the cast member *name* (an account with that id, AC-8)."""
        return self.actors(name)

    def join(self, user_id: str, organization_id: str, role: Role, *, by: str) -> Association:
        """Request *role* with an organization and have *by* approve it."""
        pending = self.service.request_association(
            actor=self.actor(user_id), employer=Employer.organization(organization_id), role=role
        )
        return self.service.approve_association(actor=self.actor(by), association_id=pending.id)

    def connect(self, profile_id: str, *systems: System, approver: str = "ana") -> Connection:
        """Acme requests a connection to *profile_id* and *approver* approves it."""
        requested = self.service.request_connection(
            actor=self.actor("carla"),
            surrogate_id=self.acme_id,
            profile_id=profile_id,
            systems=systems or (System.PECOS,),
        )
        return self.service.approve_connection(
            actor=self.actor(approver), connection_id=requested.id
        )


@pytest.fixture
def world(service: AccessService, notifier: InMemoryNotifier, actors: Actors) -> World:
    """The usual cast of the access tests."""
    for name in CAST:
        actors.account(name)
    individual = claim(service, actors("ana"), npi("123456780"), "Ana Ruiz MD")
    clinic = service.register_organization(
        actor=actors("ana"), legal_name="Ruiz Clinic PLLC", npi=npi("123456789"), ein="12-3456789"
    )
    acme = service.register_organization(
        actor=actors("carla"), legal_name="Acme Credentialing LLC", ein="98-7654321"
    )
    assert clinic.profile is not None
    world = World(
        service,
        notifier,
        actors,
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
