"""The reading half of the access service: lookups and decisions, no changes.

:class:`AccessReads` holds every read of :class:`~enrollkit.access.AccessService`
(which builds on it, so hosts call them on the service as before): each
opens its own transaction, reads through indexes, and commits nothing. The
commands (requests, approvals, invitations, connections) stay in
:mod:`enrollkit.access._service`, apart from these.
"""

from __future__ import annotations

from collections.abc import Sequence

from enrollkit.access._associations import (
    ASSOCIATIONS,
    ASSOCIATIONS_BY_EMPLOYER,
    ASSOCIATIONS_BY_USER,
    Association,
    Employer,
)
from enrollkit.access._claims import CLAIMS, CLAIMS_BY_CLAIMANT, ProfileClaim
from enrollkit.access._connections import (
    CONNECTIONS,
    CONNECTIONS_BY_PROFILE,
    CONNECTIONS_BY_SURROGATE,
    Connection,
    ConnectionState,
    connections_between,
)
from enrollkit.access._decisions import Decision, decide_for_organization, decide_remembered
from enrollkit.access._invitations import (
    INVITATIONS,
    INVITATIONS_BY_EMAIL,
    Invitation,
    normalize_email,
)
from enrollkit.access._organizations import (
    ORGANIZATIONS,
    ORGANIZATIONS_BY_EIN,
    ORGANIZATIONS_BY_NAME,
    ORGANIZATIONS_BY_NPI,
    PROFILES,
    PROFILES_BY_NPI,
    PROFILES_BY_ORGANIZATION,
    PROFILES_BY_OWNER,
    Organization,
    ProviderProfile,
    normalize_legal_name,
)
from enrollkit.access._roles import Action, System
from enrollkit.access._scope import PendingConnection, pending_connections_for
from enrollkit.boundary import Text, boundary
from enrollkit.errors import ValidationError
from enrollkit.npi import EIN, NPI
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime
from enrollkit.storage import require

__all__ = ["AccessReads"]


class AccessReads:
    """The access reads over a :class:`~enrollkit.runtime.Runtime`: organizations,
    profiles, claims, associations, invitations and connections as stored, and the
    decisions (CO-7, CO-8), each in its own read-only transaction.

    :class:`~enrollkit.access.AccessService` is one; use this type where a host only
    reads.
    """

    runtime: Runtime

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- organizations, profiles and claims (NPI-3, NPI-4, CO-1, RO-6, RO-9) ---------------

    @boundary
    def find_organizations(
        self,
        *,
        npi: NPI | Text | None = None,
        legal_name: Text | None = None,
        ein: EIN | Text | None = None,
    ) -> tuple[Organization, ...]:
        """Find organizations by Type 2 NPI, or by legal name and/or EIN (RO-6, NPI-4).

        Names match after normalisation (case, punctuation, spaces); several
        criteria must all match.
        """
        criteria: list[tuple[str, object]] = []
        if npi is not None:
            criteria.append(("npi", NPI.parse(npi).value))
        if legal_name is not None:
            criteria.append(("legal_name", normalize_legal_name(legal_name)))
        if ein is not None:
            criteria.append(("ein", EIN.parse(ein).value))
        if not criteria:
            raise ValidationError(
                "organization.search_criteria",
                "Find an organization by its Type 2 NPI, or by legal name or EIN (NPI-4).",
            )
        indexes = {
            "npi": ORGANIZATIONS_BY_NPI,
            "legal_name": ORGANIZATIONS_BY_NAME,
            "ein": ORGANIZATIONS_BY_EIN,
        }
        with self.runtime.transaction() as tx:
            repo = tx.repo(ORGANIZATIONS)
            found: dict[str, Organization] | None = None
            for name, key in criteria:
                hits = {o.id: o for o in repo.find(indexes[name], str(key))}
                found = hits if found is None else {k: v for k, v in found.items() if k in hits}
        assert found is not None
        return tuple(found[k] for k in sorted(found))

    @boundary
    def organization(self, organization_id: Text) -> Organization:
        """Return the organization or raise NotFoundError."""
        return self.runtime.load(ORGANIZATIONS, organization_id, what="organization")

    @boundary
    def profile(self, profile_id: Text) -> ProviderProfile:
        """Return the provider profile or raise NotFoundError."""
        return self.runtime.load(PROFILES, profile_id, what="provider profile")

    @boundary
    def find_profile(self, npi: NPI | Text) -> ProviderProfile | None:
        """Return the profile with this NPI, or None."""
        with self.runtime.transaction() as tx:
            found = tx.repo(PROFILES).find(PROFILES_BY_NPI, NPI.parse(npi).value)
        return found[0] if found else None

    @boundary
    def profiles_of(
        self, *, owner_id: Text | None = None, organization_id: Text | None = None
    ) -> tuple[ProviderProfile, ...]:
        """The Type 1 profiles a user owns, or the Type 2 profiles of an organization."""
        with self.runtime.transaction() as tx:
            repo = tx.repo(PROFILES)
            found: list[ProviderProfile] = []
            if owner_id is not None:
                found += repo.find(PROFILES_BY_OWNER, owner_id)
            if organization_id is not None:
                found += repo.find(PROFILES_BY_ORGANIZATION, organization_id)
        return tuple(found)

    @boundary
    def claims_of(self, *, account_id: Text) -> tuple[ProfileClaim, ...]:
        """Every profile claim an account made, any state (RO-9)."""
        with self.runtime.transaction() as tx:
            return tuple(tx.repo(CLAIMS).find(CLAIMS_BY_CLAIMANT, account_id))

    # -- decisions (CO-7, CO-8, AC-8) ------------------------------------------------------

    @boundary
    def decide(
        self, *, user_id: Text, action: Action, profile_id: Text, system: System = System.PECOS
    ) -> Decision:
        """:func:`~enrollkit.access.decide` on committed state, without a unit of work
        (CO-7, CO-8); a denial's words are composed when first read. An unknown or
        disabled account is denied everything (AC-8). The answer is remembered until the
        next commit where the storage counts its versions (memory, SQLite); the
        account is checked on every call."""
        return decide_remembered(
            self.runtime.reading(),
            user_id=user_id,
            action=action,
            profile_id=profile_id,
            system=system,
        )

    @boundary
    def decide_for_organization(
        self, *, user_id: Text, action: Action, organization_id: Text
    ) -> Decision:
        """:func:`~enrollkit.access.decide_for_organization` on committed state."""
        return decide_for_organization(
            self.runtime.reading(), user_id=user_id, action=action, organization_id=organization_id
        )

    # -- employer associations (RO-5, RO-6) ------------------------------------------------

    @boundary
    def associations_of(self, *, user_id: Text) -> tuple[Association, ...]:
        """Every association of a user, any state."""
        with self.runtime.transaction() as tx:
            return tuple(tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_USER, user_id))

    @boundary
    def members(self, employer: Employer) -> tuple[Association, ...]:
        """Every association with an employer, any state."""
        with self.runtime.transaction() as tx:
            return tuple(tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_EMPLOYER, employer.key))

    @boundary
    def association(self, association_id: Text) -> Association:
        """Return the association or raise NotFoundError."""
        return self.runtime.load(ASSOCIATIONS, association_id, what="association")

    # -- staff invitations (RO-7) ----------------------------------------------------------

    @boundary
    def invitations_for(self, *, email: Text) -> tuple[Invitation, ...]:
        """Every invitation sent to an e-mail address (any case)."""
        with self.runtime.transaction() as tx:
            return tuple(tx.repo(INVITATIONS).find(INVITATIONS_BY_EMAIL, normalize_email(email)))

    @boundary
    def invitation(self, invitation_id: Text) -> Invitation:
        """Return the invitation or raise NotFoundError."""
        return self.runtime.load(INVITATIONS, invitation_id, what="invitation")

    # -- connections (CO-1..CO-6, CO-9) ----------------------------------------------------

    @boundary
    def pending_for(self, *, actor: Principal) -> tuple[PendingConnection, ...]:
        """My Pending Connections (CO-9): every pending request the actor may approve,
        across all their profiles and organizations, soonest auto-rejection first, each
        with its days left (CO-5)."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            return pending_connections_for(tx, user_id=who, now=tx.now)

    @boundary
    def connection(self, connection_id: Text) -> Connection:
        """Return the connection as stored; ask ``effective_state(now)`` for its state."""
        return self.runtime.load(CONNECTIONS, connection_id, what="connection")

    @boundary
    def connection_state(self, connection_id: Text) -> ConnectionState:
        """The connection's state as of now: pending on day 30 reads expired (CO-5)."""
        with self.runtime.transaction() as tx:
            connection = require(tx.repo(CONNECTIONS), connection_id, what="connection")
            return connection.effective_state(tx.now)

    @boundary
    def connections_of(
        self, *, profile_id: Text | None = None, surrogate_id: Text | None = None
    ) -> Sequence[Connection]:
        """The connections of a provider profile, of a surrogate organization, or between them."""
        with self.runtime.transaction() as tx:
            repo = tx.repo(CONNECTIONS)
            if profile_id is not None and surrogate_id is not None:
                return tuple(connections_between(repo, surrogate_id, profile_id))
            if profile_id is not None:
                return tuple(repo.find(CONNECTIONS_BY_PROFILE, profile_id))
            if surrogate_id is not None:
                return tuple(repo.find(CONNECTIONS_BY_SURROGATE, surrogate_id))
        raise ValidationError(
            "connection.search_criteria", "Give a profile_id, a surrogate_id, or both."
        )
