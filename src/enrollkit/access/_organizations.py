"""Organizations and provider profiles (Rules NPI-3, NPI-4, CO-1).

An :class:`Organization` is an employer and, when it is a surrogate (a
credentialing company), one side of a connection. It may have a Type 2 NPI
or none at all (NPI-4): then it is found by legal business name and, when
known, EIN. A :class:`ProviderProfile` is what a connection points at (CO-1):
an individual provider's Type 1 profile, owned by the provider's account, or
an organization's Type 2 profile. A provider who owns a company has two
profiles; one never implies the other.

>>> from enrollkit.npi import NPI
>>> normalize_legal_name("  Acme Credentialing, L.L.C. ")
'ACME CREDENTIALING LLC'
>>> org = Organization("org-1", "Acme Credentialing LLC", npi=None, ein=None)
>>> org.label
'Acme Credentialing LLC (no NPI)'
"""

from __future__ import annotations

import re
from typing import Final

import attrs

from enrollkit._interning import shared, shared_or_none
from enrollkit.errors import ValidationError
from enrollkit.npi import EIN, NPI, NPIType
from enrollkit.storage import Collection, Index

__all__ = [
    "ORGANIZATIONS",
    "PROFILES",
    "Organization",
    "ProviderProfile",
    "normalize_legal_name",
]

_PUNCTUATION: Final = re.compile(r"[^\w\s&]")
_SPACES: Final = re.compile(r"\s+")


def normalize_legal_name(name: str) -> str:
    """Return the lookup form of a legal business name: upper case, no punctuation,
    single spaces (NPI-4: organizations without an NPI are found by name)."""
    return _SPACES.sub(" ", _PUNCTUATION.sub("", name)).strip().upper()


def _legal_name(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not normalize_legal_name(value):
        raise ValidationError(
            "organization.legal_name",
            f"A legal business name is required ({attribute.name}); got {value!r}.",
            field=attribute.name,
        )


@attrs.frozen
class Organization:
    """An organization: a Type 2 NPI organization, or one without NPI (Rule NPI-4)."""

    id: str = attrs.field(converter=shared)  #: named by connections, profiles, employers
    legal_name: str = attrs.field(validator=_legal_name)
    npi: NPI | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(NPI))
    )
    ein: EIN | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(EIN))
    )
    version: int = 0

    @property
    def label(self) -> str:
        """How people see it: ``"Acme Clinic PLLC (NPI 1234567893)"``."""
        return f"{self.legal_name} ({'NPI ' + str(self.npi) if self.npi else 'no NPI'})"


def _org_npi_keys(org: Organization) -> list[str]:
    return [org.npi.value] if org.npi is not None else []


def _org_ein_keys(org: Organization) -> list[str]:
    return [org.ein.value] if org.ein is not None else []


ORGANIZATIONS_BY_NPI: Final = Index[Organization]("npi", _org_npi_keys, unique=True)
ORGANIZATIONS_BY_NAME: Final = Index[Organization](
    "legal_name", lambda o: [normalize_legal_name(o.legal_name)]
)
ORGANIZATIONS_BY_EIN: Final = Index[Organization]("ein", _org_ein_keys)

#: The organizations collection: unique Type 2 NPI; lookups by legal name and EIN (NPI-4).
ORGANIZATIONS: Final = Collection(
    "access_organizations",
    Organization,
    indexes=(ORGANIZATIONS_BY_NPI, ORGANIZATIONS_BY_NAME, ORGANIZATIONS_BY_EIN),
)


@attrs.frozen
class ProviderProfile:
    """What a connection points at (Rule CO-1): a Type 1 or Type 2 NPI profile (NPI-3).

    A Type 1 profile has an ``owner_id`` (the provider's account) and no
    organization; a Type 2 profile belongs to an organization and has no owner.
    """

    id: str = attrs.field(converter=shared)  #: named by connections
    npi: NPI = attrs.field(validator=attrs.validators.instance_of(NPI))
    npi_type: NPIType = attrs.field(validator=attrs.validators.instance_of(NPIType))
    legal_name: str = attrs.field(validator=_legal_name)
    owner_id: str | None = attrs.field(converter=shared_or_none)
    organization_id: str | None = attrs.field(converter=shared_or_none)
    version: int = 0

    def __attrs_post_init__(self) -> None:
        if self.npi_type is NPIType.INDIVIDUAL:
            if not self.owner_id or self.organization_id is not None:
                raise ValidationError(
                    "profile.individual_owner",
                    "A Type 1 (individual) profile is owned by the provider's account and "
                    "belongs to no organization; give owner_id and no organization_id.",
                    npi=self.npi.value,
                )
        elif not self.organization_id or self.owner_id is not None:  # Type 2
            raise ValidationError(
                "profile.organization_owner",
                "A Type 2 (organizational) profile belongs to an organization and has no "
                "individual owner; give organization_id and no owner_id.",
                npi=self.npi.value,
            )

    @property
    def label(self) -> str:
        """How people see it: ``"Dr Ana Ruiz (NPI 1234567893, Type 1)"``."""
        return f"{self.legal_name} (NPI {self.npi}, Type {self.npi_type.value})"


PROFILES_BY_NPI: Final = Index[ProviderProfile]("npi", lambda p: [p.npi.value], unique=True)
PROFILES_BY_OWNER: Final = Index[ProviderProfile](
    "owner", lambda p: [p.owner_id] if p.owner_id else []
)
PROFILES_BY_ORGANIZATION: Final = Index[ProviderProfile](
    "organization", lambda p: [p.organization_id] if p.organization_id else []
)

#: Provider profiles: one per NPI; found by owner (Type 1) and organization (Type 2).
PROFILES: Final = Collection(
    "access_profiles",
    ProviderProfile,
    indexes=(PROFILES_BY_NPI, PROFILES_BY_OWNER, PROFILES_BY_ORGANIZATION),
)
