"""Access use cases: one method, one transaction (RO-3..RO-9, CO-1..CO-6, CO-10, NPI-4).

Each command acts for an authenticated principal (AC-8), loads what it
needs through indexes, asks the decision functions
(:mod:`enrollkit.access._decisions`) whether the actor may act, applies a pure
transition, records an event for every state change (AU-1) and commits. No
method re-derives a permission: a refusal is the decision's denial raised as
:class:`~enrollkit.errors.NotPermittedError`, so it names the missing fact
and who can supply it (CO-8). The reads (lookups, decisions, My Pending
Connections) are :class:`~enrollkit.access.AccessReads`, which the service
builds on; this module holds the commands.

Invariants that span aggregates hold when racing transactions commit, on
every adapter: an organization's last active AO cannot leave (RO-5: every
departure of an AO guards the organization, see
:func:`enrollkit.storage.guard`), and one request at most is pending between
a surrogate and a profile (CO-10: a unique index on pending requests). The
loser of a race runs again and gets the domain's answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Annotated, Final

import attrs

from enrollkit.access._associations import (
    ASSOCIATIONS,
    ASSOCIATIONS_ACTIVE_ROLE,
    ASSOCIATIONS_BY_EMPLOYER,
    ASSOCIATIONS_LIVE,
    Association,
    AssociationState,
    Employer,
    Grant,
    GrantBasis,
)
from enrollkit.access._claims import CLAIMS, ClaimState, ProfileClaim
from enrollkit.access._connections import (
    CONNECTIONS,
    CONNECTIONS_BY_PROFILE,
    CONNECTIONS_PENDING_DEADLINE,
    Connection,
    ConnectionEvent,
    ConnectionState,
    Side,
    connections_between,
    systems_label,
    systems_of,
)
from enrollkit.access._decisions import (
    GrantKind,
    decide,
    decide_connection,
    decide_for_organization,
    decide_grant,
    decide_manage,
    decide_role_change,
)
from enrollkit.access._invitations import (
    INVITATIONS,
    INVITATIONS_BY_EMPLOYER,
    Invitation,
    InvitationPolicy,
    InvitationState,
    generate_pin,
    normalize_email,
    normalize_pin,
)
from enrollkit.access._organizations import (
    ORGANIZATIONS,
    ORGANIZATIONS_BY_NPI,
    PROFILES,
    PROFILES_BY_NPI,
    Organization,
    ProviderProfile,
)
from enrollkit.access._reads import AccessReads
from enrollkit.access._roles import (
    VERIFIED_ROLES,
    Action,
    EmployerKind,
    Role,
    System,
    require_grantable,
)
from enrollkit.access._verification import (
    AuthorizedOfficialVerifier,
    InMemoryProofer,
    InMemoryVerifier,
    NpiRegistry,
    ProviderProofer,
    Verification,
    VerificationStatus,
)
from enrollkit.boundary import Limit, Text
from enrollkit.errors import (
    ConflictError,
    EnrollkitError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
    a_or_an,
)
from enrollkit.notify import Contacts, Notification
from enrollkit.npi import EIN, NPI, NPIType
from enrollkit.principals import Principal, PrincipalKind
from enrollkit.runtime import Runtime, Transaction, use_case
from enrollkit.storage import compose_key, guard, require, save_many, time_key

__all__ = ["AccessService", "ClaimOutcome", "OrganizationRegistration", "ProfileTransfer"]

#: RO-7 as shipped: the invitation policy a service uses unless given another.
_INVITATIONS: Final = InvitationPolicy()
_CLAIM_ACTORS: Final = frozenset({PrincipalKind.ACCOUNT, PrincipalKind.HELP_DESK})


@attrs.frozen
class OrganizationRegistration:
    """What registering an organization created: the organization, its Type 2 profile
    (when it has an NPI) and the registrant's AO association (active once verified)."""

    organization: Organization
    profile: ProviderProfile | None
    association: Association


@attrs.frozen
class ProfileTransfer:
    """A profile handed to its proven holder (RO-9): what ended with the former
    controller, and the approved connections the new owner should review."""

    profile_id: str
    previous_owner_id: str
    ended_associations: tuple[str, ...]
    revoked_invitations: tuple[str, ...]
    closed_connections: tuple[str, ...]
    connections_to_review: tuple[Connection, ...]

    def event_data(self) -> dict[str, object]:
        """The ``profile.transferred`` event's account of it: ids only."""
        return {
            "previous_owner_id": self.previous_owner_id,
            "connections_to_review": [c.id for c in self.connections_to_review],
            "ended_associations": list(self.ended_associations),
            "revoked_invitations": list(self.revoked_invitations),
            "closed_connections": list(self.closed_connections),
        }


@attrs.frozen
class ClaimOutcome:
    """Where a claim of an individual profile stands (RO-9): the claim, the profile its
    verified claimant owns, and the transfer when it was taken from someone else."""

    claim: ProfileClaim
    profile: ProviderProfile | None = None
    transfer: ProfileTransfer | None = None


def _systems(systems: Iterable[System]) -> list[str]:
    return [s.value for s in System if s in set(systems)]


def _save_association(
    tx: Transaction, changed: Association, event: str, *, actor: str | None, **data: object
) -> Association:
    """:meth:`Transaction.save` for an association: its events name its role."""
    return tx.save(ASSOCIATIONS, changed, event, actor=actor, role=changed.role.value, **data)


#: The fact an ``association.approved`` event names its grant's reference by, per basis.
_REFERENCE_FACT: Final = {GrantBasis.VERIFIER: "reference", GrantBasis.INVITATION: "invitation_id"}


def _approval_facts(grant: Grant) -> dict[str, object]:
    """What an ``association.approved`` event says beside the role, in the words of its
    *grant*: on what basis, with which role of the approver's (RO-3, RO-4), and the
    verifier's reference or the invitation (RO-7). The approver is the event's actor
    (no one for the verifier)."""
    facts: dict[str, object] = {"basis": grant.basis.value}
    if grant.by_role is not None:
        facts["approver_role"] = grant.by_role.value
    if grant.basis in _REFERENCE_FACT:
        facts[_REFERENCE_FACT[grant.basis]] = grant.reference
    return facts


def _save_approval(tx: Transaction, association: Association, grant: Grant) -> Association:
    """Approve the pending *association* on *grant*, save it and record that (RO-3, RO-4)."""
    return _save_association(
        tx,
        association.approve(now=tx.now, grant=grant),
        "association.approved",
        actor=grant.by,
        **_approval_facts(grant),
    )


def _asks_for_another(principal: Principal, requester_id: str) -> bool:
    """RO-3, RO-9: whether *principal* asks the verifier or the proofing port about
    someone else's request. The requester may ask again, and so may a help-desk operator
    recording the outcome (the principal is one of ``_CLAIM_ACTORS``); no other account."""
    return principal.kind is PrincipalKind.ACCOUNT and principal.id != requester_id


class AccessService(AccessReads):
    """The access use cases over a :class:`~enrollkit.runtime.Runtime`, and the reads
    of :class:`~enrollkit.access.AccessReads` (lookups and decisions).

    ``verifier`` answers AO verifications (RO-3) and ``proofer`` the identity
    proofing of individual providers (RO-9); by default in-memory ports that
    leave every request pending until the host records an outcome
    (``service.verifier.approve(...)``). ``nppes`` is where claimed NPIs are
    checked (Type 1 and active, RO-9).
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        verifier: AuthorizedOfficialVerifier | None = None,
        proofer: ProviderProofer | None = None,
        nppes: NpiRegistry | None = None,
        contacts: Contacts | None = None,
        invitation_policy: InvitationPolicy = _INVITATIONS,
    ) -> None:
        super().__init__(runtime)
        self.verifier: AuthorizedOfficialVerifier = verifier or InMemoryVerifier()
        self.proofer: ProviderProofer = proofer or InMemoryProofer()
        self.nppes = nppes
        self.invitation_policy = invitation_policy
        #: The accounts' own e-mail addresses (the facade wires the identity package's):
        #: an invitation is accepted only by the account its address belongs to (RO-7).
        #: ``None``: the e-mail typed with the PIN is all that is compared.
        self.contacts = contacts

    def __repr__(self) -> str:
        return f"AccessService(verifier={self.verifier!r}, proofer={self.proofer!r})"

    # -- organizations and profiles (NPI-3, NPI-4, CO-1, RO-9) ----------------------------

    @use_case
    def register_organization(
        self,
        *,
        actor: Principal,
        legal_name: Text,
        npi: NPI | Text | None = None,
        ein: EIN | Text | None = None,
    ) -> OrganizationRegistration:
        """Register an organization (with a Type 2 NPI, or none: NPI-4) and request the AO
        role for the actor, which the verifier decides (RO-3). With an NPI, the
        organization's Type 2 provider profile is created too (CO-1)."""
        parsed_npi = NPI.parse(npi) if npi is not None else None
        parsed_ein = EIN.parse(ein) if ein is not None else None
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            if parsed_npi is not None:
                self._check_npi_free(tx, parsed_npi)
            new = Organization(tx.new_id("org"), legal_name, npi=parsed_npi, ein=parsed_ein)
            org = tx.add(
                ORGANIZATIONS,
                new,
                "organization.registered",
                actor=who,
                legal_name=new.legal_name,
                npi=str(new.npi) if new.npi else None,
                ein=str(new.ein) if new.ein else None,
            )
            profile = None
            if parsed_npi is not None:
                profile = self._add_profile(
                    tx,
                    ProviderProfile(
                        tx.new_id("prof"),
                        parsed_npi,
                        NPIType.ORGANIZATION,
                        org.legal_name,
                        owner_id=None,
                        organization_id=org.id,
                    ),
                    who,
                )
            association = self._request(
                tx, who, Employer.organization(org.id), Role.AUTHORIZED_OFFICIAL
            )
            tx.commit()
        return OrganizationRegistration(org, profile, association)

    @use_case
    def claim_individual_profile(
        self, *, actor: Principal, npi: NPI | Text, legal_name: Text
    ) -> ClaimOutcome:
        """Claim the Type 1 profile of *npi* as its individual provider (RO-9).

        NPPES must show the NPI as Type 1 and active. The claim grants nothing until the
        identity proofing port confirms the actor is that provider; then the actor owns
        the profile (created, or transferred from whoever held it). Ask again later
        with :meth:`verify_profile_claim` while it is pending."""
        parsed = NPI.parse(npi)
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            self._check_individual_npi(parsed)
            held = tx.repo(PROFILES).find(PROFILES_BY_NPI, parsed.value)
            if held and held[0].owner_id == who:
                raise ConflictError(
                    "profile.already_yours",
                    f"You are already the individual provider of NPI {parsed} (profile "
                    f"{held[0].id}).",
                    profile_id=held[0].id,
                )
            if held and held[0].npi_type is not NPIType.INDIVIDUAL:
                raise ValidationError(
                    "profile.npi_not_individual",
                    f"NPI {parsed} is registered as an organization's profile; only a Type 1 "
                    "NPI is claimed by its provider (RO-9).",
                    npi=parsed.value,
                )
            claims = tx.repo(CLAIMS)
            live = claims.find(CLAIMS.index("pending_npi_claimant"), compose_key(parsed.value, who))
            if live:
                raise ConflictError(
                    "profile.claim_pending",
                    f"Your claim {live[0].id} of NPI {parsed} is still with identity proofing; "
                    "ask again with verify_profile_claim (RO-9).",
                    claim_id=live[0].id,
                )
            claim = tx.add(
                CLAIMS,
                ProfileClaim(
                    tx.new_id("claim"),
                    parsed,
                    who,
                    legal_name,
                    ClaimState.PENDING,
                    requested_at=tx.now,
                ),
                "profile.claimed",
                actor=who,
                npi=parsed.value,
                profile_id=held[0].id if held else None,
            )
            outcome = self._apply_proofing(tx, claim, who)
            tx.commit()
        return outcome

    @use_case
    def verify_profile_claim(self, *, actor: Principal, claim_id: Text) -> ClaimOutcome:
        """Ask the proofing port again about a pending claim (RO-9): the claimant, or a
        help-desk operator recording the outcome, may ask."""
        with self.runtime.transaction() as tx:
            principal = tx.act(actor, kinds=_CLAIM_ACTORS)
            claim = require(tx.repo(CLAIMS), claim_id, what="profile claim")
            if _asks_for_another(principal, claim.claimant_id):
                raise NotPermittedError(
                    "claim.not_yours",
                    "Only the claimant (or the help desk) asks about a claim (RO-9).",
                    claim_id=claim.id,
                )
            if claim.state is not ClaimState.PENDING:
                raise InvalidTransitionError(
                    "claim.decided",
                    f"This claim is already {claim.state.value} (RO-9).",
                    claim_id=claim.id,
                    state=claim.state.value,
                )
            self._check_individual_npi(claim.npi)
            outcome = self._apply_proofing(tx, claim, principal.audit_id)
            tx.commit()
        return outcome

    def _check_individual_npi(self, npi: NPI) -> None:
        """RO-9: NPPES must show *npi* as an active Type 1 NPI."""
        if self.nppes is None:
            raise ValidationError(
                "profile.no_registry",
                "Claims of individual profiles are checked against NPPES (RO-9); give the "
                "access service an NPPES directory (nppes=...).",
            )
        record = self.nppes.lookup(npi)
        if record is None:
            raise ValidationError(
                "profile.npi_unknown",
                f"NPPES has no record of NPI {npi}; check the number (RO-9).",
                npi=npi.value,
            )
        if record.npi_type is not NPIType.INDIVIDUAL:
            raise ValidationError(
                "profile.npi_not_individual",
                f"NPPES does not show NPI {npi} as a Type 1 (individual) NPI; an "
                "organization's NPI is registered with the organization (RO-9).",
                npi=npi.value,
            )
        if not record.active:
            raise ValidationError(
                "profile.npi_inactive",
                f"NPPES shows NPI {npi} as deactivated; reactivate it in NPPES first (RO-9).",
                npi=npi.value,
            )

    def _apply_proofing(self, tx: Transaction, claim: ProfileClaim, actor: str) -> ClaimOutcome:
        outcome = self.proofer.proof(claim.npi, claim.claimant_id)
        if outcome.status is VerificationStatus.REJECTED:
            rejected = tx.save(
                CLAIMS,
                claim.reject(now=tx.now, reason=outcome.reason),
                "profile.claim_rejected",
                actor=actor,
                npi=claim.npi.value,
                reason=outcome.reason,
            )
            return ClaimOutcome(rejected)
        if outcome.status is not VerificationStatus.VERIFIED:
            return ClaimOutcome(claim)
        profiles = tx.repo(PROFILES)
        held = profiles.find(PROFILES_BY_NPI, claim.npi.value)
        transfer: ProfileTransfer | None = None
        if not held:
            self._check_npi_free(tx, claim.npi)
            profile = self._add_profile(
                tx,
                ProviderProfile(
                    tx.new_id("prof"),
                    claim.npi,
                    NPIType.INDIVIDUAL,
                    claim.legal_name,
                    owner_id=claim.claimant_id,
                    organization_id=None,
                ),
                actor,
            )
        elif held[0].owner_id == claim.claimant_id:
            profile = held[0]
        else:
            profile, transfer = self._transfer(tx, held[0], claim.claimant_id, actor)
        verified = tx.save(
            CLAIMS,
            claim.verify(now=tx.now, profile_id=profile.id, reference=outcome.reference),
            "profile.claim_verified",
            actor=actor,
            npi=claim.npi.value,
            profile_id=profile.id,
            reference=outcome.reference,
        )
        return ClaimOutcome(verified, profile, transfer)

    def _transfer(
        self, tx: Transaction, profile: ProviderProfile, owner: str, actor: str
    ) -> tuple[ProviderProfile, ProfileTransfer]:
        """RO-9's recovery: the proven holder takes the profile over; the staff,
        invitations and requests of the former controller end; approved connections
        stay, listed for review."""
        previous = profile.owner_id or ""
        moved = tx.repo(PROFILES).save(attrs.evolve(profile, owner_id=owner))
        employer = Employer.individual_provider(profile.id)
        now = tx.now
        ended: list[str] = []
        why = "profile_transferred"
        for association in tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_EMPLOYER, employer.key):
            if association.state is AssociationState.ACTIVE:
                closing = association.end(now=now, actor=actor)
            elif association.state is AssociationState.PENDING:
                closing = association.reject(now=now, actor=actor)
            else:
                continue
            _save_association(tx, closing, "association.ended", actor=actor, reason=why)
            ended.append(association.id)
        revoked: list[str] = []
        for invitation in tx.repo(INVITATIONS).find(INVITATIONS_BY_EMPLOYER, employer.key):
            if invitation.effective_state(now) is InvitationState.SENT:
                revoking = invitation.revoke(now)
                tx.save(INVITATIONS, revoking, "invitation.revoked", actor=actor, reason=why)
                revoked.append(invitation.id)
        closed: list[str] = []
        review: list[Connection] = []
        for connection in tx.repo(CONNECTIONS).find(CONNECTIONS_BY_PROFILE, profile.id):
            state = connection.effective_state(now)
            if state is ConnectionState.APPROVED:
                review.append(connection)
            elif state is ConnectionState.PENDING and connection.initiator is Side.PROVIDER:
                withdrawing = connection.withdraw(now=now, actor=actor)
                tx.save(CONNECTIONS, withdrawing, "connection.withdrawn", actor=actor, reason=why)
                closed.append(connection.id)
        transfer = ProfileTransfer(
            profile.id, previous, tuple(ended), tuple(revoked), tuple(closed), tuple(review)
        )
        tx.record(
            "profile.transferred",
            subject=profile.id,
            actor=actor,
            owner_id=owner,
            **transfer.event_data(),
        )
        return moved, transfer

    def _check_npi_free(self, tx: Transaction, npi: NPI) -> None:
        if tx.repo(PROFILES).find(PROFILES_BY_NPI, npi.value) or tx.repo(ORGANIZATIONS).find(
            ORGANIZATIONS_BY_NPI, npi.value
        ):
            raise ConflictError(
                "profile.npi_taken",
                f"NPI {npi} is already registered; find its profile or organization instead "
                "(the provider of a Type 1 NPI claims it with claim_individual_profile).",
                npi=npi.value,
            )

    def _add_profile(
        self, tx: Transaction, profile: ProviderProfile, actor: str
    ) -> ProviderProfile:
        return tx.add(
            PROFILES,
            profile,
            "profile.registered",
            actor=actor,
            npi=profile.npi.value,
            npi_type=profile.npi_type.value,
            owner_id=profile.owner_id,
            organization_id=profile.organization_id,
        )

    # -- employer associations (RO-3..RO-6) ---------------------------------------------

    @use_case
    def request_association(
        self, *, actor: Principal, employer: Employer, role: Role
    ) -> Association:
        """The actor asks to hold *role* with *employer* (RO-6). Pending until an eligible
        approver decides (RO-3); an AO request goes to the verifier at once."""
        with self.runtime.transaction() as tx:
            association = self._request(tx, tx.act(actor).id, employer, role)
            tx.commit()
        return association

    def _request(
        self, tx: Transaction, user_id: str, employer: Employer, role: Role
    ) -> Association:
        self._check_employer(tx, employer, user_id)
        require_grantable(employer.kind, role)
        self._check_no_live(tx, user_id, employer)
        association = tx.add(
            ASSOCIATIONS,
            Association(
                tx.new_id("asc"),
                user_id,
                employer,
                role,
                AssociationState.PENDING,
                requested_at=tx.now,
            ),
            "association.requested",
            actor=user_id,
            employer_kind=employer.kind.value,
            employer_id=employer.id,
            role=role.value,
        )
        if role in VERIFIED_ROLES:
            association = self._apply_verification(tx, association)
        return association

    def _check_employer(self, tx: Transaction, employer: Employer, user_id: str) -> None:
        if employer.kind is EmployerKind.ORGANIZATION:
            require(tx.repo(ORGANIZATIONS), employer.id, what="organization")
            return
        profile = require(tx.repo(PROFILES), employer.id, what="provider profile")
        if profile.npi_type is not NPIType.INDIVIDUAL:
            raise ValidationError(
                "association.employer_profile",
                f"{profile.label} is an organization's profile; associate with its "
                "organization instead.",
                profile_id=profile.id,
            )
        if profile.owner_id == user_id:
            raise ValidationError(
                "association.own_profile",
                "You are the individual provider of this profile; you need no staff role "
                "with yourself (CO-7).",
                profile_id=profile.id,
            )

    def _check_no_live(self, tx: Transaction, user_id: str, employer: Employer) -> None:
        live = tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_LIVE, compose_key(user_id, employer.key))
        if live:
            raise ConflictError(
                "association.exists",
                f"You already have {a_or_an(live[0].state.value)} {live[0].role.label} association "
                f"({live[0].id}) with this employer; ask to modify its role or cancel it first.",
                association_id=live[0].id,
            )

    def _apply_verification(self, tx: Transaction, association: Association) -> Association:
        org = require(tx.repo(ORGANIZATIONS), association.employer.id, what="organization")
        outcome: Verification = self.verifier.verify(org, association.user_id)
        if outcome.status is VerificationStatus.VERIFIED:
            grant = Grant(GrantBasis.VERIFIER, None, None, tx.now, reference=outcome.reference)
            association = _save_approval(tx, association, grant)
        elif outcome.status is VerificationStatus.REJECTED:
            association = _save_association(
                tx,
                association.reject(now=tx.now, actor=None),
                "association.rejected",
                actor=None,
                basis=GrantBasis.VERIFIER.value,
                reason=outcome.reason,
            )
        return association

    @use_case
    def verify_authorized_official(self, *, actor: Principal, association_id: Text) -> Association:
        """Ask the verifier again about a pending AO request (RO-3); returns it as decided.
        The requester, or a help-desk operator recording the outcome, may ask."""
        with self.runtime.transaction() as tx:
            principal = tx.act(actor, kinds=_CLAIM_ACTORS)
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            if _asks_for_another(principal, association.user_id):
                raise NotPermittedError(
                    "association.not_yours",
                    "Only the requester (or the help desk) asks the verifier again (RO-3).",
                    association_id=association_id,
                )
            if association.role not in VERIFIED_ROLES:
                raise ValidationError(
                    "association.not_verified_role",
                    f"Only {', '.join(r.label for r in VERIFIED_ROLES)} requests go to the "
                    "verifier; approve this one as an AO or AM.",
                    association_id=association_id,
                )
            if association.state is not AssociationState.PENDING:
                raise InvalidTransitionError(
                    "association.not_pending",
                    f"This association is {association.state.value}; only a pending AO "
                    "request is verified.",
                    association_id=association_id,
                )
            association = self._apply_verification(tx, association)
            tx.commit()
        return association

    @use_case
    def approve_association(self, *, actor: Principal, association_id: Text) -> Association:
        """Approve a pending role request (RO-3, RO-4): SEU by an AO/AM (or the IP), AM
        by an AO; AO requests go to the verifier instead."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            path = decide_grant(
                tx, user_id=who, employer=association.employer, role=association.role
            ).require()
            grant = Grant(GrantBasis.ROLE, who, path.role, tx.now)
            association = _save_approval(tx, association, grant)
            tx.commit()
        return association

    @use_case
    def reject_association(self, *, actor: Principal, association_id: Text) -> Association:
        """Reject a pending role request; the same people who could approve it may (RO-3)."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            decide_grant(
                tx, user_id=who, employer=association.employer, role=association.role
            ).require()
            rejected = association.reject(now=tx.now, actor=who)
            association = _save_association(tx, rejected, "association.rejected", actor=who)
            tx.commit()
        return association

    @use_case
    def modify_role(self, *, actor: Principal, association_id: Text, role: Role) -> Association:
        """Give an active association another role (RO-6), as
        :func:`~enrollkit.access.decide_role_change` allows: the actor manages the current
        role and grants the new one (RO-4); AO comes only from the verifier (RO-3); the
        last AO keeps the role (RO-5)."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            path = decide_role_change(
                tx, user_id=who, association=association, role=role, verifier=self.verifier
            ).require()
            if path.kind is GrantKind.VERIFICATION:
                grant = Grant(GrantBasis.VERIFIER, None, None, tx.now, reference=path.reference)
            else:
                grant = Grant(GrantBasis.ROLE, who, path.role, tx.now)
            if association.role is not role:
                self._keep_an_ao(tx, association)
            association = tx.save(
                ASSOCIATIONS,
                association.modify_role(role=role, grant=grant),
                "association.role_modified",
                actor=who,
                previous_role=association.role.value,
                role=role.value,
                basis=grant.basis.value,
            )
            tx.commit()
        return association

    @use_case
    def cancel_association(self, *, actor: Principal, association_id: Text) -> Association:
        """The actor withdraws their request or leaves the employer (RO-6); the last AO of
        an organization cannot leave (RO-5), also when two AOs leave at once."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            if association.user_id != who:
                raise NotPermittedError(
                    "association.not_yours",
                    "Only the user of an association cancels it; an AO or AM ends it instead "
                    "(RO-6).",
                    association_id=association_id,
                )
            self._keep_an_ao(tx, association)
            cancelled = association.cancel(now=tx.now)
            association = _save_association(tx, cancelled, "association.cancelled", actor=who)
            tx.commit()
        return association

    @use_case
    def end_association(self, *, actor: Principal, association_id: Text) -> Association:
        """Disassociate a user from the employer (RO-6): an AO or AM for staff, an AO for
        AMs and AOs (RO-4); never the last AO (RO-5)."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            decide_manage(tx, user_id=who, association=association).require()
            self._keep_an_ao(tx, association)
            ended = association.end(now=tx.now, actor=who)
            association = _save_association(tx, ended, "association.ended", actor=who)
            tx.commit()
        return association

    def _keep_an_ao(self, tx: Transaction, association: Association) -> None:
        """Rule RO-5: an organization keeps at least one active AO, at commit.

        The organization is guarded first (its version moves), so of two AOs leaving at
        the same moment the second commit is stale; its retry counts one AO left and
        is refused here."""
        if not association.is_active or association.role is not Role.AUTHORIZED_OFFICIAL:
            return
        if association.employer.kind is not EmployerKind.ORGANIZATION:
            return
        organizations = tx.repo(ORGANIZATIONS)
        guard(organizations, require(organizations, association.employer.id, what="organization"))
        key = compose_key(association.employer.key, Role.AUTHORIZED_OFFICIAL.value)
        if len(tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_ACTIVE_ROLE, key)) <= 1:
            raise InvalidTransitionError(
                "association.last_authorized_official",
                "This is the organization's last active Authorized Official; an organization "
                "keeps at least one (RO-5). Have another AO verified first.",
                association_id=association.id,
                organization_id=association.employer.id,
            )

    # -- staff invitations (RO-7) --------------------------------------------------------

    @use_case
    def invite(
        self,
        *,
        actor: Principal,
        employers: Employer | Iterable[Employer],
        name: Text,
        email: Text,
        role: Role,
    ) -> Invitation:
        """Invite a person by name, e-mail and role (RO-7), for one employer or several of
        the actor's employers with one PIN (RO-7 amended). The actor must be able to grant
        the role with each (RO-3, RO-4). The PIN is sent in the notification's ``secret``
        only."""
        policy = self.invitation_policy
        chosen = (employers,) if isinstance(employers, Employer) else tuple(employers)
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            for employer in chosen:
                self._check_employer(tx, employer, user_id="")
                decide_grant(tx, user_id=who, employer=employer, role=role).require()
            pin = generate_pin(policy.pin_length)
            new = Invitation(
                tx.new_id("inv"),
                chosen,
                role,
                name=name,
                email=email,
                pin_hash=self.runtime.hasher.hash(pin),
                invited_by=who,
                sent_at=tx.now,
                expires_at=tx.now + policy.lifetime,
                max_attempts=policy.max_attempts,
            )
            invitation = tx.add(
                INVITATIONS,
                new,
                "invitation.sent",
                actor=who,
                employers=[{"kind": e.kind.value, "id": e.id} for e in new.employers],
                role=role.value,
                email=new.email,
                expires_at=new.expires_at.isoformat(),
            )
            tx.notify(
                Notification(
                    invitation.email,
                    "access.invitation",
                    {
                        "name": invitation.name,
                        "employer": ", ".join(
                            self._employer_name(tx, e) for e in invitation.employers
                        ),
                        "role": role.label,
                        "invitation_id": invitation.id,
                        "expires_at": invitation.expires_at.isoformat(),
                    },
                    secret=pin,
                )
            )
            tx.commit()
        return invitation

    def _employer_name(self, tx: Transaction, employer: Employer) -> str:
        if employer.kind is EmployerKind.ORGANIZATION:
            return require(tx.repo(ORGANIZATIONS), employer.id, what="organization").legal_name
        return require(tx.repo(PROFILES), employer.id, what="provider profile").legal_name

    @use_case
    def accept_invitation(
        self,
        *,
        actor: Principal,
        invitation_id: Text,
        email: Text,
        pin: Annotated[str, Limit(chars=64)],
    ) -> tuple[Association, ...]:
        """Accept with the invited e-mail (any case) and the PIN (RO-7): the actor's
        association with every employer of the invitation is active at once, or none is.
        A wrong PIN counts toward the lock; the PIN works once."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            invitation = require(tx.repo(INVITATIONS), invitation_id, what="invitation")
            invitation.check_open(tx.now)
            if normalize_email(email) != invitation.email:
                raise NotPermittedError(
                    "invitation.wrong_email",
                    "This invitation was sent to another e-mail address; sign in with the "
                    "account whose e-mail received it, or ask for a new invitation (RO-7).",
                    invitation_id=invitation_id,
                )
            own = self.contacts.email_of(tx, who) if self.contacts is not None else None
            if own is not None and normalize_email(own) != invitation.email:
                # RO-7: the invited address is the account's; a PIN and an address passed
                # on to someone else accept nothing.
                raise NotPermittedError(
                    "invitation.other_account",
                    "This invitation was sent to another e-mail address than your "
                    "account's; the invited person accepts it signed in with their own "
                    "account, or asks for a new invitation to your address (RO-7).",
                    invitation_id=invitation_id,
                )
            if not self.runtime.hasher.verify(invitation.pin_hash, normalize_pin(pin)):
                failed = invitation.wrong_pin(tx.now)
                locked = failed.state is InvitationState.LOCKED
                tx.save(
                    INVITATIONS,
                    failed,
                    "invitation.locked" if locked else "invitation.wrong_pin",
                    actor=who,
                    failed_attempts=failed.failed_attempts,
                    attempts_left=failed.attempts_left,
                )
                tx.commit()
                if locked:
                    raise NotPermittedError(
                        "invitation.locked",
                        "Wrong PIN. This invitation is now locked after "
                        f"{failed.failed_attempts} wrong PINs (RO-7); ask for a new invitation.",
                        invitation_id=invitation_id,
                    )
                raise NotPermittedError(
                    "invitation.wrong_pin",
                    f"Wrong PIN; {failed.attempts_left} tries left before this invitation "
                    "locks (RO-7). Check the PIN in the invitation e-mail.",
                    invitation_id=invitation_id,
                    attempts_left=failed.attempts_left,
                )
            activated: list[Association] = []
            for employer in invitation.employers:
                # RO-4: the inviter must still be allowed to grant the role now.
                path = decide_grant(
                    tx, user_id=invitation.invited_by, employer=employer, role=invitation.role
                ).require()
                self._check_employer(tx, employer, who)
                self._check_no_live(tx, who, employer)
                grant = Grant(
                    GrantBasis.INVITATION,
                    invitation.invited_by,
                    path.role,
                    tx.now,
                    reference=invitation.id,
                )
                association = tx.add(
                    ASSOCIATIONS,
                    Association(
                        tx.new_id("asc"),
                        who,
                        employer,
                        invitation.role,
                        AssociationState.ACTIVE,
                        requested_at=invitation.sent_at,
                        grant=grant,
                        decided_at=tx.now,
                        decided_by=invitation.invited_by,
                    ),
                    "association.approved",
                    actor=grant.by,
                    role=invitation.role.value,
                    **_approval_facts(grant),
                )
                activated.append(association)
            tx.save(
                INVITATIONS,
                invitation.accept(tx.now, user_id=who, association_ids=[a.id for a in activated]),
                "invitation.accepted",
                actor=who,
                associations=[a.id for a in activated],
            )
            tx.commit()
        return tuple(activated)

    @use_case
    def revoke_invitation(self, *, actor: Principal, invitation_id: Text) -> Invitation:
        """Revoke an invitation before it is accepted; anyone who could send it (grant its
        role with every one of its employers) may (RO-7)."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            invitation = require(tx.repo(INVITATIONS), invitation_id, what="invitation")
            for employer in invitation.employers:
                decide_grant(tx, user_id=who, employer=employer, role=invitation.role).require()
            invitation = tx.save(
                INVITATIONS, invitation.revoke(tx.now), "invitation.revoked", actor=who
            )
            tx.commit()
        return invitation

    # -- connections (CO-1..CO-6, CO-10) -------------------------------------------------

    @use_case
    def request_connection(
        self,
        *,
        actor: Principal,
        surrogate_id: Text,
        profile_id: Text,
        systems: Iterable[System],
    ) -> Connection:
        """The surrogate side asks to act for a provider profile in *systems* (CO-3, the
        usual way). The actor is an AO or AM of the surrogate organization."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            decide_for_organization(
                tx, user_id=who, action=Action.MANAGE_CONNECTIONS, organization_id=surrogate_id
            ).require()
            connection = self._new_connection(
                tx, who, surrogate_id, profile_id, systems, Side.SURROGATE
            )
            tx.commit()
        return connection

    @use_case
    def add_surrogate(
        self,
        *,
        actor: Principal,
        profile_id: Text,
        surrogate_id: Text,
        systems: Iterable[System],
    ) -> Connection:
        """The provider side adds a surrogate to its profile (CO-3); the surrogate's AO or
        AM approves. The actor is the IP or an AO/AM of the profile's organization."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            decide(
                tx, user_id=who, action=Action.MANAGE_CONNECTIONS, profile_id=profile_id
            ).require()
            require(tx.repo(ORGANIZATIONS), surrogate_id, what="organization")
            connection = self._new_connection(
                tx, who, surrogate_id, profile_id, systems, Side.PROVIDER
            )
            tx.commit()
        return connection

    def _new_connection(
        self,
        tx: Transaction,
        actor_id: str,
        surrogate_id: str,
        profile_id: str,
        systems: Iterable[System],
        initiator: Side,
    ) -> Connection:
        requested = systems_of(systems)
        profile = require(tx.repo(PROFILES), profile_id, what="provider profile")
        if profile.organization_id == surrogate_id:
            raise ValidationError(
                "connection.self",
                "An organization needs no connection to its own profile: its staff act for "
                "it through their association (CO-7).",
                profile_id=profile_id,
            )
        repo = tx.repo(CONNECTIONS)
        existing = connections_between(repo, surrogate_id, profile_id)
        covered: set[System] = set()
        for c in existing:
            state = c.effective_state(tx.now)
            if state is ConnectionState.PENDING and c.initiator is initiator:
                raise ConflictError(
                    "connection.pending_exists",
                    f"Connection {c.id}, opened from the same side between these two, is "
                    f"already pending until {c.deadline.date().isoformat()}; wait for its "
                    "answer or withdraw it first (CO-10).",
                    connection_id=c.id,
                )
            if state is ConnectionState.EXPIRED and c.state is ConnectionState.PENDING:
                # Rejected as of day 30 (CO-5): record it, which frees CO-10's pending key.
                tx.save(
                    CONNECTIONS,
                    c.expire(now=tx.now),
                    "connection.expired",
                    actor=None,
                    deadline=c.deadline.isoformat(),
                )
            if state is ConnectionState.APPROVED:
                covered |= c.approved_systems
        if requested and requested <= covered:
            raise ConflictError(
                "connection.already_covered",
                f"Approved connections already cover {systems_label(requested)} (CO-2).",
                systems=_systems(requested),
            )
        new = Connection(
            tx.new_id("conn"),
            surrogate_id=surrogate_id,
            profile_id=profile_id,
            requested_systems=requested,
            approved_systems=frozenset(),
            initiator=initiator,
            requested_by=actor_id,
            requested_at=tx.now,
            state=ConnectionState.PENDING,
        )
        return tx.add(
            CONNECTIONS,
            new,
            "connection.requested",
            actor=actor_id,
            surrogate_id=surrogate_id,
            profile_id=profile_id,
            initiator=initiator.value,
            systems=_systems(requested),
            deadline=new.deadline.isoformat(),
        )

    @use_case
    def approve_connection(
        self,
        *,
        actor: Principal,
        connection_id: Text,
        systems: Iterable[System] | None = None,
    ) -> Connection:
        """Approve a pending connection, for all requested systems or a subset (CO-4). Never
        after its 30-day deadline (CO-5)."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            connection = self._approve(tx, who, connection_id, systems)
            tx.commit()
        return connection

    def _approve(
        self, tx: Transaction, who: str, connection_id: str, systems: Iterable[System] | None
    ) -> Connection:
        connection = require(tx.repo(CONNECTIONS), connection_id, what="connection")
        decide_connection(
            tx, user_id=who, connection=connection, event=ConnectionEvent.APPROVE
        ).require()
        approved = connection.approve(now=tx.now, actor=who, systems=systems)
        return tx.save(
            CONNECTIONS,
            approved,
            "connection.approved",
            actor=who,
            systems=_systems(approved.approved_systems),
        )

    @use_case
    def approve_selected(
        self,
        *,
        actor: Principal,
        selections: Annotated[Mapping[Text, Iterable[System] | None], Limit(items=1000)],
    ) -> tuple[Connection, ...]:
        """Approve All Selected (CO-9): approve every chosen request, each for its chosen
        systems (``None``: all it asked for), in one unit of work: all or none. If any
        one cannot be approved, nothing is, and the error names that request."""
        if not selections:
            raise ValidationError(
                "connection.none_selected",
                "Select at least one pending connection to approve (CO-9).",
            )
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            approved: list[Connection] = []
            for connection_id in sorted(selections):  # one lock order for racing batches
                try:
                    approved.append(
                        self._approve(tx, who, connection_id, selections[connection_id])
                    )
                except ConflictError:
                    raise
                except EnrollkitError as exc:
                    raise type(exc)(
                        exc.code,
                        f"Nothing was approved: {connection_id} cannot be. {exc.message} "
                        "Deselect it and approve the others again (CO-9).",
                        **{**exc.fields, "connection_id": connection_id},
                    ) from exc
            tx.commit()
        return tuple(approved)

    @use_case
    def reject_connection(self, *, actor: Principal, connection_id: Text) -> Connection:
        """Reject a pending connection (CO-4)."""
        return self._close(actor, connection_id, ConnectionEvent.REJECT)

    @use_case
    def withdraw_connection(self, *, actor: Principal, connection_id: Text) -> Connection:
        """The initiating side withdraws its pending request (CO-6)."""
        return self._close(actor, connection_id, ConnectionEvent.WITHDRAW)

    @use_case
    def remove_connection(self, *, actor: Principal, connection_id: Text) -> Connection:
        """Either side ends an approved connection (CO-6)."""
        return self._close(actor, connection_id, ConnectionEvent.REMOVE)

    def _close(self, actor: Principal, connection_id: str, event: ConnectionEvent) -> Connection:
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            connection = require(tx.repo(CONNECTIONS), connection_id, what="connection")
            decide_connection(tx, user_id=who, connection=connection, event=event).require()
            if event is ConnectionEvent.REJECT:
                connection = connection.reject(now=tx.now, actor=who)
            elif event is ConnectionEvent.WITHDRAW:
                connection = connection.withdraw(now=tx.now, actor=who)
            else:
                connection = connection.remove(now=tx.now, actor=who)
            connection = tx.save(
                CONNECTIONS, connection, f"connection.{connection.state.value}", actor=who
            )
            tx.commit()
        return connection

    @use_case
    def sweep_expired_connections(
        self, *, limit: Annotated[int, Limit(low=1, high=10_000_000)] | None = None
    ) -> tuple[Connection, ...]:
        """Record the day-30 expiry of overdue pending requests as events (CO-5).

        A maintenance job the host may run (its events have no actor: the system):
        reads already see the requests expired. Reads the ordered deadline index up
        to now, so it touches only what is due, and saves them in bulk
        (:func:`~enrollkit.storage.save_many`). A use case like the others: when a
        concurrent sweep (or request, CO-10) recorded an expiry first, it runs again
        and records only what is still due (ST-2).
        """
        with self.runtime.transaction() as tx:
            now = tx.now
            repo = tx.repo(CONNECTIONS)
            stop = time_key(now + timedelta(microseconds=1))
            due = repo.find_range(CONNECTIONS_PENDING_DEADLINE, stop=stop)
            if limit is not None:
                due = due[:limit]
            # Set-based: every due request expires in one bulk save (a store that can
            # rewrites only the index entries the expiry changes), one event each (AU-1).
            expired = save_many(repo, [connection.expire(now=now) for connection in due])
            for stored in expired:
                tx.record(
                    "connection.expired",
                    subject=stored.id,
                    actor=None,
                    deadline=stored.deadline.isoformat(),
                )
            tx.commit()
        return tuple(expired)
