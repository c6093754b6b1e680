"""The Authorized Official verification port (Rule RO-3).

No user approves an AO: CMS verifies the person against the organization's
records (the help desk, IRS/PECOS data). enrollkit asks the host's
:class:`AuthorizedOfficialVerifier`; :class:`InMemoryVerifier` is the simple
implementation for tests, demos and hosts whose help desk records outcomes
by hand.

>>> from enrollkit.access.organizations import Organization
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

from enrollkit.access.organizations import Organization

__all__ = [
    "AuthorizedOfficialVerifier",
    "InMemoryVerifier",
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


class InMemoryVerifier:
    """Outcomes recorded by hand; unknown pairs answer *default* (pending)."""

    def __init__(self, *, default: VerificationStatus = VerificationStatus.PENDING) -> None:
        self.default = default
        self._outcomes: dict[tuple[str, str], Verification] = {}

    def __repr__(self) -> str:
        return f"InMemoryVerifier(default={self.default.value}, outcomes={len(self._outcomes)})"

    def approve(self, organization_id: str, user_id: str, *, reference: str | None = None) -> None:
        """Record that *user_id* is verified as an AO of *organization_id*."""
        self._outcomes[(organization_id, user_id)] = Verification(
            VerificationStatus.VERIFIED, reference=reference
        )

    def reject(self, organization_id: str, user_id: str, *, reason: str) -> None:
        """Record that *user_id* is not an AO of *organization_id*."""
        self._outcomes[(organization_id, user_id)] = Verification(
            VerificationStatus.REJECTED, reason=reason
        )

    def verify(self, organization: Organization, user_id: str) -> Verification:
        """Return the recorded outcome, or the default."""
        found = self._outcomes.get((organization.id, user_id))
        return found if found is not None else Verification(self.default)
