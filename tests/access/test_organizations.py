"""NPI-3, NPI-4, CO-1: organizations with or without NPI, and provider profiles."""

from __future__ import annotations

import pytest

from enrollkit.access import AccessService, ProviderProfile, normalize_legal_name
from enrollkit.errors import ConflictError, ValidationError
from enrollkit.npi import NPIType
from enrollkit.testing.actors import Actors
from tests.access.conftest import World, npi


class TestOrganizations:
    def test_npi_4_organization_without_npi_found_by_name_and_ein(self, world: World) -> None:
        """NPI-4: Acme has no NPI; it is found by legal name (any case, punctuation) or EIN."""
        by_name = world.service.find_organizations(legal_name="acme credentialing, llc")
        assert [o.id for o in by_name] == [world.acme_id]
        assert by_name[0].npi is None
        assert [o.id for o in world.service.find_organizations(ein="987654321")] == [world.acme_id]
        both = world.service.find_organizations(
            legal_name="Acme Credentialing LLC", ein="12-3456789"
        )
        assert both == ()

    def test_ro_6_organization_found_by_type_2_npi(self, world: World) -> None:
        """RO-6: a user finds an employer by its Type 2 NPI."""
        found = world.service.find_organizations(npi=str(npi("123456789")))
        assert [o.id for o in found] == [world.clinic_id]
        with pytest.raises(ValidationError):
            world.service.find_organizations()

    def test_npi_3_profiles_record_their_type(self, world: World) -> None:
        """NPI-3: the type is recorded with the profile; a provider with a company has two."""
        individual = world.service.profile(world.p_individual)
        clinic = world.service.profile(world.p_clinic)
        assert (individual.npi_type, individual.owner_id) == (NPIType.INDIVIDUAL, "ana")
        assert (clinic.npi_type, clinic.organization_id) == (NPIType.ORGANIZATION, world.clinic_id)
        assert [p.id for p in world.service.profiles_of(owner_id="ana")] == [world.p_individual]
        assert [p.id for p in world.service.profiles_of(organization_id=world.clinic_id)] == [
            world.p_clinic
        ]
        assert world.service.find_profile(individual.npi) == individual

    def test_npi_4_an_npi_is_registered_once(self, service: AccessService, world: World) -> None:
        """An NPI belongs to one profile or organization."""
        with pytest.raises(ConflictError) as info:
            service.register_organization(
                actor=world.actor("bob"), legal_name="Bob LLC", npi=npi("123456780")
            )
        assert info.value.code == "profile.npi_taken"

    def test_npi_3_profile_shapes_are_checked(self) -> None:
        """A Type 1 profile has an owner and no organization; a Type 2 the reverse."""
        with pytest.raises(ValidationError):
            ProviderProfile("p", npi("123456780"), NPIType.INDIVIDUAL, "Ana", None, "org-1")
        with pytest.raises(ValidationError):
            ProviderProfile("p", npi("123456789"), NPIType.ORGANIZATION, "Clinic", "ana", None)

    def test_npi_4_legal_name_is_required_and_normalized(
        self, service: AccessService, actors: Actors
    ) -> None:
        """Names compare without case or punctuation; an empty name is refused."""
        assert normalize_legal_name("Acme  Credentialing, L.L.C.") == "ACME CREDENTIALING LLC"
        with pytest.raises(ValidationError):
            service.register_organization(actor=actors("x"), legal_name=" .. ")
