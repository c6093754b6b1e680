"""The verification ports: Authorized Officials (RO-3) and provider identity (RO-9).

No user approves an AO: CMS verifies the person against the organization's
records (the help desk, IRS/PECOS data). enrollkit asks the host's
:class:`AuthorizedOfficialVerifier`; :class:`InMemoryVerifier` is the simple
implementation for tests, demos and hosts whose help desk records outcomes
by hand.

Likewise no user makes themselves the Individual Provider of an NPI: an
identity proofing service (the host's, or I&A's remote proofing) confirms
that the claimant is the person the Type 1 NPI belongs to
(:class:`ProviderProofer`, RO-9); :class:`InMemoryProofer` records outcomes
by hand. Before asking, access checks the NPI in NPPES
(:class:`NpiRegistry`, which :class:`enrollkit.enrollment.NppesDirectory`
satisfies): it must be a Type 1 NPI and active.

>>> from enrollkit.access._organizations import Organization
>>> verifier = InMemoryVerifier()
>>> org = Organization("org-1", "Ruiz Clinic PLLC", npi=None, ein=None)
>>> verifier.verify(org, "u-1").status
<VerificationStatus.PENDING: 'pending'>
>>> verifier.approve("org-1", "u-1", reference="HD-42")
>>> verifier.verify(org, "u-1")
Verification(status=<VerificationStatus.VERIFIED: 'verified'>, reference='HD-42', reason=None)
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol, runtime_checkable

import attrs

from enrollkit.access._organizations import Organization
from enrollkit.npi import NPI, NPIType

__all__ = [
    "AuthorizedOfficialVerifier",
    "InMemoryProofer",
    "InMemoryVerifier",
    "NpiRegistry",
    "NpiRegistryRecord",
    "ProviderProofer",
    "Verification",
    "VerificationStatus",
]


class VerificationStatus(Enum):
    """The verifier's answer."""

    VERIFIED = "verified"
    REJECTED = "rejected"
    PENDING = "pending"  #: not decided yet: ask again later


@attrs.frozen
class Verification:
    """A verification outcome with the verifier's reference (a help-desk ticket) or reason."""

    status: VerificationStatus
    reference: str | None = None
    reason: str | None = None


@runtime_checkable
class AuthorizedOfficialVerifier(Protocol):
    """Verifies that a user is an Authorized Official of an organization (RO-3)."""

    def verify(self, organization: Organization, user_id: str) -> Verification:
        """Return whether *user_id* is verified as an AO of *organization* (or pending)."""
        ...


class _RecordedOutcomes:
    """Outcomes recorded by hand for pairs of ids; unknown pairs answer *default* (pending)."""

    def __init__(self, *, default: VerificationStatus = VerificationStatus.PENDING) -> None:
        self.default = default
        self._outcomes: dict[tuple[str, str], Verification] = {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(default={self.default.value}, outcomes={len(self._outcomes)})"
        )

    def _approve(self, pair: tuple[str, str], reference: str | None) -> None:
        self._outcomes[pair] = Verification(VerificationStatus.VERIFIED, reference=reference)

    def _reject(self, pair: tuple[str, str], reason: str) -> None:
        self._outcomes[pair] = Verification(VerificationStatus.REJECTED, reason=reason)

    def _outcome(self, pair: tuple[str, str]) -> Verification:
        found = self._outcomes.get(pair)
        return found if found is not None else Verification(self.default)


class InMemoryVerifier(_RecordedOutcomes):
    """Outcomes recorded by hand; unknown pairs answer *default* (pending)."""

    def approve(self, organization_id: str, user_id: str, *, reference: str | None = None) -> None:
        """Record that *user_id* is verified as an AO of *organization_id*."""
        self._approve((organization_id, user_id), reference)

    def reject(self, organization_id: str, user_id: str, *, reason: str) -> None:
        """Record that *user_id* is not an AO of *organization_id*."""
        self._reject((organization_id, user_id), reason)

    def verify(self, organization: Organization, user_id: str) -> Verification:
        """Return the recorded outcome, or the default."""
        return self._outcome((organization.id, user_id))


@runtime_checkable
class ProviderProofer(Protocol):
    """Confirms that an account holder is the individual a Type 1 NPI belongs to (RO-9)."""

    def proof(self, npi: NPI, account_id: str) -> Verification:
        """Return whether *account_id* is proven to be the provider of *npi* (or pending)."""
        ...


class InMemoryProofer(_RecordedOutcomes):
    """Proofing outcomes recorded by hand; unknown pairs answer *default* (pending)."""

    def approve(self, npi: NPI | str, account_id: str, *, reference: str | None = None) -> None:
        """Record that *account_id* is proven to be the provider of *npi*."""
        self._approve((str(npi), account_id), reference)

    def reject(self, npi: NPI | str, account_id: str, *, reason: str) -> None:
        """Record that *account_id* is not the provider of *npi*."""
        self._reject((str(npi), account_id), reason)

    def proof(self, npi: NPI, account_id: str) -> Verification:
        """Return the recorded outcome, or the default."""
        return self._outcome((str(npi), account_id))


class NpiRegistryRecord(Protocol):
    """What access needs of an NPPES record: the NPI's type and whether it is active."""

    @property
    def npi_type(self) -> NPIType | None:
        """Type 1 or Type 2 as NPPES records it (None when the record does not say)."""
        ...

    @property
    def active(self) -> bool:
        """Whether the NPI is active (not deactivated) in NPPES."""
        ...


class NpiRegistry(Protocol):
    """Looks an NPI up in NPPES (the host's NPPES client; enrollment's NppesDirectory)."""

    def lookup(self, npi: NPI) -> NpiRegistryRecord | None:
        """The NPPES record of *npi*, or None when NPPES has none."""
        ...
