"""Claims of individual profiles, proven before they grant anything (Rule RO-9).

Registering "my" Type 1 NPI is a *claim*: a :class:`ProfileClaim` that
grants nothing until the identity proofing port
(:class:`~enrollkit.access.ProviderProofer`) confirms that the claimant is
the person the NPI belongs to, and only for an NPI that NPPES shows as
Type 1 and active. A verified claim makes the claimant the profile's
Individual Provider: it creates the profile, or, when someone else (a former
biller, a group's administrator) holds it, transfers it to its proven holder
(the recovery of RO-9). Several people may claim one NPI; each claim is
decided on its own.

>>> from datetime import datetime, timezone
>>> from enrollkit.npi import NPI
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> claim = ProfileClaim("claim-1", NPI("1234567893"), "acct-1", "Ana Rivera MD",
...                      ClaimState.PENDING, requested_at=t)
>>> claim.verify(now=t, profile_id="prof-1", reference="IDP-7").state
<ClaimState.VERIFIED: 'verified'>
>>> claim.verify(now=t, profile_id="prof-1", reference=None).verify(
...     now=t, profile_id="prof-1", reference=None)
Traceback (most recent call last):
...
enrollkit.errors.InvalidTransitionError: This claim is verified; it cannot be verified (RO-9).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Final

import attrs

from enrollkit.machine import StateMachine
from enrollkit.npi import NPI
from enrollkit.storage import Collection, Index, compose_key

__all__ = [
    "CLAIMS",
    "CLAIM_MACHINE",
    "ClaimEvent",
    "ClaimState",
    "ProfileClaim",
]


class ClaimState(Enum):
    """Where a claim stands (RO-9)."""

    PENDING = "pending"  #: waiting for the proofing port
    VERIFIED = "verified"  #: proven: the claimant is the profile's Individual Provider
    REJECTED = "rejected"  #: the proofing port said no

    @property
    def is_terminal(self) -> bool:
        """Whether the claim can no longer change (nothing leaves the state)."""
        return self in CLAIM_MACHINE.terminal


class ClaimEvent(Enum):
    """What can happen to a claim."""

    VERIFY = "verify"
    REJECT = "reject"


#: Rule RO-9: the claim state machine, ``(state, event) -> new state``.
CLAIM_MACHINE: Final = StateMachine.from_table(
    ClaimState,
    ClaimEvent,
    """
    claim (RO-9), starts pending
    pending  verify  -> verified  : verified
    pending  reject  -> rejected  : rejected
    """,
)


@attrs.frozen
class ProfileClaim:
    """Account *claimant_id* says it is the individual provider of *npi* (RO-9)."""

    id: str
    npi: NPI
    claimant_id: str
    legal_name: str
    state: ClaimState
    requested_at: datetime
    decided_at: datetime | None = None
    reference: str | None = None  #: the proofing port's reference
    reason: str | None = None  #: why the proofing port said no
    profile_id: str | None = None  #: the profile the verified claimant owns
    version: int = 0

    def _next(self, event: ClaimEvent) -> ClaimState:
        return CLAIM_MACHINE.next(self.state, event, claim_id=self.id)

    def verify(self, *, now: datetime, profile_id: str, reference: str | None) -> ProfileClaim:
        """The proofing port confirmed the claimant: they own *profile_id*."""
        return attrs.evolve(
            self,
            state=self._next(ClaimEvent.VERIFY),
            decided_at=now,
            reference=reference,
            profile_id=profile_id,
        )

    def reject(self, *, now: datetime, reason: str | None) -> ProfileClaim:
        """The proofing port refused the claim."""
        return attrs.evolve(
            self, state=self._next(ClaimEvent.REJECT), decided_at=now, reason=reason
        )


def _live_keys(claim: ProfileClaim) -> list[str]:
    return [] if claim.state.is_terminal else [compose_key(claim.npi.value, claim.claimant_id)]


CLAIMS_BY_NPI: Final = Index[ProfileClaim]("npi", lambda c: [c.npi.value])
CLAIMS_BY_CLAIMANT: Final = Index[ProfileClaim]("claimant", lambda c: [c.claimant_id])

#: Profile claims; one pending claim per NPI and claimant.
CLAIMS: Final = Collection(
    "access_profile_claims",
    ProfileClaim,
    indexes=(
        CLAIMS_BY_NPI,
        CLAIMS_BY_CLAIMANT,
        Index[ProfileClaim]("pending_npi_claimant", _live_keys, unique=True),
    ),
)
