"""Access use cases: one method, one transaction (RO-3..RO-7, CO-1..CO-6, NPI-4).

Each method loads what it needs through indexes, asks the decision
functions (:mod:`enrollkit.access.decisions`) whether the actor may act,
applies a pure transition, records an event for every state change (AU-1)
and commits. No method re-derives a permission: a refusal is the decision's
denial raised as :class:`~enrollkit.errors.NotPermittedError`, so it names
the missing fact and who can supply it (CO-8).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

import attrs

from enrollkit.access.associations import (
    ASSOCIATIONS,
    ASSOCIATIONS_ACTIVE_ROLE,
    ASSOCIATIONS_BY_EMPLOYER,
    ASSOCIATIONS_BY_USER,
    ASSOCIATIONS_LIVE,
    Association,
    AssociationState,
    Employer,
    Grant,
    GrantBasis,
)
from enrollkit.access.connections import (
    CONNECTIONS,
    CONNECTIONS_BY_PROFILE,
    CONNECTIONS_BY_SURROGATE,
    CONNECTIONS_BY_SURROGATE_PROFILE,
    CONNECTIONS_PENDING_DEADLINE,
    Connection,
    ConnectionEvent,
    ConnectionState,
    Side,
    systems_label,
    systems_of,
)
from enrollkit.access.decisions import (
    Decision,
    decide,
    decide_connection,
    decide_for_organization,
    decide_grant,
    decide_manage,
)
from enrollkit.access.invitations import (
    INVITATIONS,
    INVITATIONS_BY_EMAIL,
    Invitation,
    InvitationPolicy,
    InvitationState,
    generate_pin,
    normalize_email,
    normalize_pin,
)
from enrollkit.access.organizations import (
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
from enrollkit.access.roles import (
    VERIFIED_ROLES,
    Action,
    EmployerKind,
    Role,
    System,
    require_grantable,
)
from enrollkit.access.verification import (
    AuthorizedOfficialVerifier,
    InMemoryVerifier,
    Verification,
    VerificationStatus,
)
from enrollkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.notify import Notification
from enrollkit.npi import EIN, NPI, NPIType
from enrollkit.runtime import Runtime, Transaction
from enrollkit.storage import compose_key, require, time_key

__all__ = ["AccessService", "OrganizationRegistration"]


@attrs.frozen
class OrganizationRegistration:
    """What registering an organization created: the organization, its Type 2 profile
    (when it has an NPI) and the registrant's AO association (active once verified)."""

    organization: Organization
    profile: ProviderProfile | None
    association: Association


def _systems(systems: Iterable[System]) -> list[str]:
    return [s.value for s in System if s in set(systems)]


class AccessService:
    """The access use cases over a :class:`~enrollkit.runtime.Runtime`.

    ``verifier`` answers AO verifications (RO-3); by default an
    :class:`InMemoryVerifier` that leaves every AO request pending until the
    host records an outcome (``service.verifier.approve(...)``).
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        verifier: AuthorizedOfficialVerifier | None = None,
        invitation_policy: InvitationPolicy | None = None,
    ) -> None:
        self.runtime = runtime
        self.verifier: AuthorizedOfficialVerifier = verifier or InMemoryVerifier()
        self.invitation_policy = invitation_policy or InvitationPolicy()

    def __repr__(self) -> str:
        return f"AccessService(verifier={self.verifier!r})"

    # -- organizations and profiles (NPI-3, NPI-4, CO-1) ---------------------------------

    def register_organization(
        self,
        *,
        actor_id: str,
        legal_name: str,
        npi: NPI | str | None = None,
        ein: EIN | str | None = None,
    ) -> OrganizationRegistration:
        """Register an organization (with a Type 2 NPI, or none: NPI-4) and request the AO
        role for *actor_id*, which the verifier decides (RO-3). With an NPI, the
        organization's Type 2 provider profile is created too (CO-1)."""
        parsed_npi = NPI.parse(npi) if npi is not None else None
        parsed_ein = EIN.parse(ein) if ein is not None else None
        with self.runtime.transaction() as tx:
            if parsed_npi is not None:
                self._check_npi_free(tx, parsed_npi)
            org = tx.repo(ORGANIZATIONS).add(
                Organization(tx.new_id("org"), legal_name, npi=parsed_npi, ein=parsed_ein)
            )
            tx.record(
                "organization.registered",
                subject=org.id,
                actor=actor_id,
                legal_name=org.legal_name,
                npi=str(org.npi) if org.npi else None,
                ein=str(org.ein) if org.ein else None,
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
                    actor_id,
                )
            association = self._request(
                tx, actor_id, Employer.organization(org.id), Role.AUTHORIZED_OFFICIAL
            )
            tx.commit()
        return OrganizationRegistration(org, profile, association)

    def register_individual_profile(
        self, *, actor_id: str, npi: NPI | str, legal_name: str
    ) -> ProviderProfile:
        """Register *actor_id*'s own Type 1 profile: they are its individual provider (CO-1)."""
        parsed = NPI.parse(npi)
        with self.runtime.transaction() as tx:
            self._check_npi_free(tx, parsed)
            profile = self._add_profile(
                tx,
                ProviderProfile(
                    tx.new_id("prof"),
                    parsed,
                    NPIType.INDIVIDUAL,
                    legal_name,
                    owner_id=actor_id,
                    organization_id=None,
                ),
                actor_id,
            )
            tx.commit()
        return profile

    def _check_npi_free(self, tx: Transaction, npi: NPI) -> None:
        if tx.repo(PROFILES).find(PROFILES_BY_NPI, npi.value) or tx.repo(ORGANIZATIONS).find(
            ORGANIZATIONS_BY_NPI, npi.value
        ):
            raise ConflictError(
                "profile.npi_taken",
                f"NPI {npi} is already registered; find its profile or organization instead.",
                npi=npi.value,
            )

    def _add_profile(
        self, tx: Transaction, profile: ProviderProfile, actor: str
    ) -> ProviderProfile:
        stored = tx.repo(PROFILES).add(profile)
        tx.record(
            "profile.registered",
            subject=stored.id,
            actor=actor,
            npi=stored.npi.value,
            npi_type=stored.npi_type.value,
            owner_id=stored.owner_id,
            organization_id=stored.organization_id,
        )
        return stored

    def find_organizations(
        self,
        *,
        npi: NPI | str | None = None,
        legal_name: str | None = None,
        ein: EIN | str | None = None,
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

    def organization(self, organization_id: str) -> Organization:
        """Return the organization or raise NotFoundError."""
        with self.runtime.transaction() as tx:
            return require(tx.repo(ORGANIZATIONS), organization_id, what="organization")

    def profile(self, profile_id: str) -> ProviderProfile:
        """Return the provider profile or raise NotFoundError."""
        with self.runtime.transaction() as tx:
            return require(tx.repo(PROFILES), profile_id, what="provider profile")

    def find_profile(self, npi: NPI | str) -> ProviderProfile | None:
        """Return the profile with this NPI, or None."""
        with self.runtime.transaction() as tx:
            found = tx.repo(PROFILES).find(PROFILES_BY_NPI, NPI.parse(npi).value)
        return found[0] if found else None

    def profiles_of(
        self, *, owner_id: str | None = None, organization_id: str | None = None
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

    # -- decisions ------------------------------------------------------------------------

    def decide(
        self, *, user_id: str, action: Action, profile_id: str, system: System = System.PECOS
    ) -> Decision:
        """:func:`~enrollkit.access.decide` in its own read-only transaction (CO-7, CO-8)."""
        with self.runtime.transaction() as tx:
            return decide(tx, user_id=user_id, action=action, profile_id=profile_id, system=system)

    def decide_for_organization(
        self, *, user_id: str, action: Action, organization_id: str
    ) -> Decision:
        """:func:`~enrollkit.access.decide_for_organization` in its own transaction."""
        with self.runtime.transaction() as tx:
            return decide_for_organization(
                tx, user_id=user_id, action=action, organization_id=organization_id
            )

    # -- employer associations (RO-3..RO-6) ---------------------------------------------

    def request_association(self, *, user_id: str, employer: Employer, role: Role) -> Association:
        """Ask to hold *role* with *employer* (RO-6). Pending until an eligible approver
        decides (RO-3); an AO request goes to the verifier at once."""
        with self.runtime.transaction() as tx:
            association = self._request(tx, user_id, employer, role)
            tx.commit()
        return association

    def _request(
        self, tx: Transaction, user_id: str, employer: Employer, role: Role
    ) -> Association:
        self._check_employer(tx, employer, user_id)
        require_grantable(employer.kind, role)
        self._check_no_live(tx, user_id, employer)
        association = tx.repo(ASSOCIATIONS).add(
            Association(
                tx.new_id("asc"),
                user_id,
                employer,
                role,
                AssociationState.PENDING,
                requested_at=tx.now,
            )
        )
        tx.record(
            "association.requested",
            subject=association.id,
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
                f"You already have a {live[0].state.value} {live[0].role.label} association "
                f"({live[0].id}) with this employer; ask to modify its role or cancel it first.",
                association_id=live[0].id,
            )

    def _apply_verification(self, tx: Transaction, association: Association) -> Association:
        org = require(tx.repo(ORGANIZATIONS), association.employer.id, what="organization")
        outcome: Verification = self.verifier.verify(org, association.user_id)
        if outcome.status is VerificationStatus.VERIFIED:
            grant = Grant(GrantBasis.VERIFIER, None, None, tx.now, reference=outcome.reference)
            association = tx.repo(ASSOCIATIONS).save(association.approve(now=tx.now, grant=grant))
            tx.record(
                "association.approved",
                subject=association.id,
                actor=None,
                role=association.role.value,
                basis=GrantBasis.VERIFIER.value,
                reference=outcome.reference,
            )
        elif outcome.status is VerificationStatus.REJECTED:
            association = tx.repo(ASSOCIATIONS).save(association.reject(now=tx.now, actor=None))
            tx.record(
                "association.rejected",
                subject=association.id,
                actor=None,
                role=association.role.value,
                basis=GrantBasis.VERIFIER.value,
                reason=outcome.reason,
            )
        return association

    def verify_authorized_official(self, *, association_id: str) -> Association:
        """Ask the verifier again about a pending AO request (RO-3); returns it as decided."""
        with self.runtime.transaction() as tx:
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
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

    def approve_association(self, *, actor_id: str, association_id: str) -> Association:
        """Approve a pending role request (RO-3, RO-4): SEU by an AO/AM (or the IP), AM
        by an AO; AO requests go to the verifier instead."""
        with self.runtime.transaction() as tx:
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            path = decide_grant(
                tx, user_id=actor_id, employer=association.employer, role=association.role
            ).require()
            grant = Grant(GrantBasis.ROLE, actor_id, path.role, tx.now)
            association = tx.repo(ASSOCIATIONS).save(association.approve(now=tx.now, grant=grant))
            tx.record(
                "association.approved",
                subject=association.id,
                actor=actor_id,
                role=association.role.value,
                basis=GrantBasis.ROLE.value,
                approver_role=path.role.value,
            )
            tx.commit()
        return association

    def reject_association(self, *, actor_id: str, association_id: str) -> Association:
        """Reject a pending role request; the same people who could approve it may (RO-3)."""
        with self.runtime.transaction() as tx:
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            decide_grant(
                tx, user_id=actor_id, employer=association.employer, role=association.role
            ).require()
            association = tx.repo(ASSOCIATIONS).save(association.reject(now=tx.now, actor=actor_id))
            tx.record(
                "association.rejected",
                subject=association.id,
                actor=actor_id,
                role=association.role.value,
            )
            tx.commit()
        return association

    def modify_role(self, *, actor_id: str, association_id: str, role: Role) -> Association:
        """Give an active association another role (RO-6): the actor must be able to manage
        the current role and grant the new one (RO-4); AO comes only from the verifier
        (RO-3); the last AO keeps the role (RO-5)."""
        with self.runtime.transaction() as tx:
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            path = decide_manage(tx, user_id=actor_id, association=association).require()
            if role in VERIFIED_ROLES:
                org = require(tx.repo(ORGANIZATIONS), association.employer.id, what="organization")
                outcome = self.verifier.verify(org, association.user_id)
                if outcome.status is not VerificationStatus.VERIFIED:
                    decide_grant(
                        tx, user_id=actor_id, employer=association.employer, role=role
                    ).require()
                grant = Grant(GrantBasis.VERIFIER, None, None, tx.now, reference=outcome.reference)
            else:
                path = decide_grant(
                    tx, user_id=actor_id, employer=association.employer, role=role
                ).require()
                grant = Grant(GrantBasis.ROLE, actor_id, path.role, tx.now)
            if association.role is not role:
                self._keep_an_ao(tx, association)
            previous = association.role
            association = tx.repo(ASSOCIATIONS).save(
                association.modify_role(role=role, grant=grant)
            )
            tx.record(
                "association.role_modified",
                subject=association.id,
                actor=actor_id,
                previous_role=previous.value,
                role=role.value,
                basis=grant.basis.value,
            )
            tx.commit()
        return association

    def cancel_association(self, *, user_id: str, association_id: str) -> Association:
        """The user withdraws their request or leaves the employer (RO-6); the last AO of an
        organization cannot leave (RO-5)."""
        with self.runtime.transaction() as tx:
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            if association.user_id != user_id:
                raise NotPermittedError(
                    "association.not_yours",
                    "Only the user of an association cancels it; an AO or AM ends it instead "
                    "(RO-6).",
                    association_id=association_id,
                )
            self._keep_an_ao(tx, association)
            association = tx.repo(ASSOCIATIONS).save(association.cancel(now=tx.now))
            tx.record(
                "association.cancelled",
                subject=association.id,
                actor=user_id,
                role=association.role.value,
            )
            tx.commit()
        return association

    def end_association(self, *, actor_id: str, association_id: str) -> Association:
        """Disassociate a user from the employer (RO-6): an AO or AM for staff, an AO for
        AMs and AOs (RO-4); never the last AO (RO-5)."""
        with self.runtime.transaction() as tx:
            association = require(tx.repo(ASSOCIATIONS), association_id, what="association")
            decide_manage(tx, user_id=actor_id, association=association).require()
            self._keep_an_ao(tx, association)
            association = tx.repo(ASSOCIATIONS).save(association.end(now=tx.now, actor=actor_id))
            tx.record(
                "association.ended",
                subject=association.id,
                actor=actor_id,
                role=association.role.value,
            )
            tx.commit()
        return association

    def _keep_an_ao(self, tx: Transaction, association: Association) -> None:
        """Rule RO-5: an organization keeps at least one active AO."""
        if not association.is_active or association.role is not Role.AUTHORIZED_OFFICIAL:
            return
        key = compose_key(association.employer.key, Role.AUTHORIZED_OFFICIAL.value)
        if len(tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_ACTIVE_ROLE, key)) <= 1:
            raise InvalidTransitionError(
                "association.last_authorized_official",
                "This is the organization's last active Authorized Official; an organization "
                "keeps at least one (RO-5). Have another AO verified first.",
                association_id=association.id,
                organization_id=association.employer.id,
            )

    def associations_of(self, *, user_id: str) -> tuple[Association, ...]:
        """Every association of a user, any state."""
        with self.runtime.transaction() as tx:
            return tuple(tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_USER, user_id))

    def members(self, employer: Employer) -> tuple[Association, ...]:
        """Every association with an employer, any state."""
        with self.runtime.transaction() as tx:
            return tuple(tx.repo(ASSOCIATIONS).find(ASSOCIATIONS_BY_EMPLOYER, employer.key))

    def association(self, association_id: str) -> Association:
        """Return the association or raise NotFoundError."""
        with self.runtime.transaction() as tx:
            return require(tx.repo(ASSOCIATIONS), association_id, what="association")

    # -- staff invitations (RO-7) --------------------------------------------------------

    def invite(
        self, *, actor_id: str, employer: Employer, name: str, email: str, role: Role
    ) -> Invitation:
        """Invite a person by name, e-mail and role (RO-7). The actor must be able to grant
        the role (RO-3, RO-4). The PIN is sent in the notification's ``secret`` only."""
        policy = self.invitation_policy
        with self.runtime.transaction() as tx:
            self._check_employer(tx, employer, user_id="")
            decide_grant(tx, user_id=actor_id, employer=employer, role=role).require()
            pin = generate_pin(policy.pin_length)
            invitation = tx.repo(INVITATIONS).add(
                Invitation(
                    tx.new_id("inv"),
                    employer,
                    role,
                    name=name,
                    email=email,
                    pin_hash=self.runtime.hasher.hash(pin),
                    invited_by=actor_id,
                    sent_at=tx.now,
                    expires_at=tx.now + policy.lifetime,
                    max_attempts=policy.max_attempts,
                )
            )
            tx.record(
                "invitation.sent",
                subject=invitation.id,
                actor=actor_id,
                employer_kind=employer.kind.value,
                employer_id=employer.id,
                role=role.value,
                email=invitation.email,
                expires_at=invitation.expires_at.isoformat(),
            )
            tx.notify(
                Notification(
                    invitation.email,
                    "access.invitation",
                    {
                        "name": invitation.name,
                        "employer": self._employer_name(tx, employer),
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

    def accept_invitation(
        self, *, user_id: str, invitation_id: str, email: str, pin: str
    ) -> Association:
        """Accept with the invited e-mail (any case) and the PIN (RO-7): the association is
        active at once. A wrong PIN counts toward the lock; the PIN works once."""
        with self.runtime.transaction() as tx:
            invitation = require(tx.repo(INVITATIONS), invitation_id, what="invitation")
            invitation.check_open(tx.now)
            if normalize_email(email) != invitation.email:
                raise NotPermittedError(
                    "invitation.wrong_email",
                    "This invitation was sent to another e-mail address; sign in with the "
                    "account whose e-mail received it, or ask for a new invitation (RO-7).",
                    invitation_id=invitation_id,
                )
            if not self.runtime.hasher.verify(invitation.pin_hash, normalize_pin(pin)):
                failed = tx.repo(INVITATIONS).save(invitation.wrong_pin(tx.now))
                locked = failed.state is InvitationState.LOCKED
                tx.record(
                    "invitation.locked" if locked else "invitation.wrong_pin",
                    subject=failed.id,
                    actor=user_id,
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
            # RO-4: the inviter must still be allowed to grant the role now.
            path = decide_grant(
                tx,
                user_id=invitation.invited_by,
                employer=invitation.employer,
                role=invitation.role,
            ).require()
            self._check_employer(tx, invitation.employer, user_id)
            self._check_no_live(tx, user_id, invitation.employer)
            grant = Grant(
                GrantBasis.INVITATION,
                invitation.invited_by,
                path.role,
                tx.now,
                reference=invitation.id,
            )
            association = tx.repo(ASSOCIATIONS).add(
                Association(
                    tx.new_id("asc"),
                    user_id,
                    invitation.employer,
                    invitation.role,
                    AssociationState.ACTIVE,
                    requested_at=invitation.sent_at,
                    grant=grant,
                    decided_at=tx.now,
                    decided_by=invitation.invited_by,
                )
            )
            tx.repo(INVITATIONS).save(
                invitation.accept(tx.now, user_id=user_id, association_id=association.id)
            )
            tx.record("invitation.accepted", subject=invitation.id, actor=user_id)
            tx.record(
                "association.approved",
                subject=association.id,
                actor=invitation.invited_by,
                role=association.role.value,
                basis=GrantBasis.INVITATION.value,
                approver_role=path.role.value,
                invitation_id=invitation.id,
            )
            tx.commit()
        return association

    def revoke_invitation(self, *, actor_id: str, invitation_id: str) -> Invitation:
        """Revoke an invitation before it is accepted; anyone who could send it may (RO-7)."""
        with self.runtime.transaction() as tx:
            invitation = require(tx.repo(INVITATIONS), invitation_id, what="invitation")
            decide_grant(
                tx, user_id=actor_id, employer=invitation.employer, role=invitation.role
            ).require()
            invitation = tx.repo(INVITATIONS).save(invitation.revoke(tx.now))
            tx.record("invitation.revoked", subject=invitation.id, actor=actor_id)
            tx.commit()
        return invitation

    def invitations_for(self, *, email: str) -> tuple[Invitation, ...]:
        """Every invitation sent to an e-mail address (any case)."""
        with self.runtime.transaction() as tx:
            return tuple(tx.repo(INVITATIONS).find(INVITATIONS_BY_EMAIL, normalize_email(email)))

    def invitation(self, invitation_id: str) -> Invitation:
        """Return the invitation or raise NotFoundError."""
        with self.runtime.transaction() as tx:
            return require(tx.repo(INVITATIONS), invitation_id, what="invitation")

    # -- connections (CO-1..CO-6) -------------------------------------------------------

    def request_connection(
        self, *, actor_id: str, surrogate_id: str, profile_id: str, systems: Iterable[System]
    ) -> Connection:
        """The surrogate side asks to act for a provider profile in *systems* (CO-3, the
        usual way). The actor is an AO or AM of the surrogate organization."""
        with self.runtime.transaction() as tx:
            decide_for_organization(
                tx, user_id=actor_id, action=Action.MANAGE_CONNECTIONS, organization_id=surrogate_id
            ).require()
            connection = self._new_connection(
                tx, actor_id, surrogate_id, profile_id, systems, Side.SURROGATE
            )
            tx.commit()
        return connection

    def add_surrogate(
        self, *, actor_id: str, profile_id: str, surrogate_id: str, systems: Iterable[System]
    ) -> Connection:
        """The provider side adds a surrogate to its profile (CO-3); the surrogate's AO or
        AM approves. The actor is the IP or an AO/AM of the profile's organization."""
        with self.runtime.transaction() as tx:
            decide(
                tx, user_id=actor_id, action=Action.MANAGE_CONNECTIONS, profile_id=profile_id
            ).require()
            require(tx.repo(ORGANIZATIONS), surrogate_id, what="organization")
            connection = self._new_connection(
                tx, actor_id, surrogate_id, profile_id, systems, Side.PROVIDER
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
        existing = repo.find(
            CONNECTIONS_BY_SURROGATE_PROFILE, compose_key(surrogate_id, profile_id)
        )
        covered: set[System] = set()
        for c in existing:
            state = c.effective_state(tx.now)
            if state is ConnectionState.PENDING:
                raise ConflictError(
                    "connection.pending_exists",
                    f"Connection {c.id} between these two is already pending until "
                    f"{c.deadline.date().isoformat()}; approve, reject or withdraw it first.",
                    connection_id=c.id,
                )
            if state is ConnectionState.APPROVED:
                covered |= c.approved_systems
        if requested and requested <= covered:
            raise ConflictError(
                "connection.already_covered",
                f"Approved connections already cover {systems_label(requested)} (CO-2).",
                systems=_systems(requested),
            )
        connection = repo.add(
            Connection(
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
        )
        tx.record(
            "connection.requested",
            subject=connection.id,
            actor=actor_id,
            surrogate_id=surrogate_id,
            profile_id=profile_id,
            initiator=initiator.value,
            systems=_systems(requested),
            deadline=connection.deadline.isoformat(),
        )
        return connection

    def approve_connection(
        self, *, actor_id: str, connection_id: str, systems: Iterable[System] | None = None
    ) -> Connection:
        """Approve a pending connection, for all requested systems or a subset (CO-4). Never
        after its 30-day deadline (CO-5)."""
        with self.runtime.transaction() as tx:
            connection = require(tx.repo(CONNECTIONS), connection_id, what="connection")
            decide_connection(
                tx, user_id=actor_id, connection=connection, event=ConnectionEvent.APPROVE
            ).require()
            connection = tx.repo(CONNECTIONS).save(
                connection.approve(now=tx.now, actor=actor_id, systems=systems)
            )
            tx.record(
                "connection.approved",
                subject=connection.id,
                actor=actor_id,
                systems=_systems(connection.approved_systems),
            )
            tx.commit()
        return connection

    def reject_connection(self, *, actor_id: str, connection_id: str) -> Connection:
        """Reject a pending connection (CO-4)."""
        return self._close(actor_id, connection_id, ConnectionEvent.REJECT)

    def withdraw_connection(self, *, actor_id: str, connection_id: str) -> Connection:
        """The initiating side withdraws its pending request (CO-6)."""
        return self._close(actor_id, connection_id, ConnectionEvent.WITHDRAW)

    def remove_connection(self, *, actor_id: str, connection_id: str) -> Connection:
        """Either side ends an approved connection (CO-6)."""
        return self._close(actor_id, connection_id, ConnectionEvent.REMOVE)

    def _close(self, actor_id: str, connection_id: str, event: ConnectionEvent) -> Connection:
        with self.runtime.transaction() as tx:
            connection = require(tx.repo(CONNECTIONS), connection_id, what="connection")
            decide_connection(tx, user_id=actor_id, connection=connection, event=event).require()
            if event is ConnectionEvent.REJECT:
                connection = connection.reject(now=tx.now, actor=actor_id)
            elif event is ConnectionEvent.WITHDRAW:
                connection = connection.withdraw(now=tx.now, actor=actor_id)
            else:
                connection = connection.remove(now=tx.now, actor=actor_id)
            connection = tx.repo(CONNECTIONS).save(connection)
            tx.record(f"connection.{connection.state.value}", subject=connection.id, actor=actor_id)
            tx.commit()
        return connection

    def sweep_expired_connections(self, *, limit: int | None = None) -> tuple[Connection, ...]:
        """Record the day-30 expiry of overdue pending requests as events (CO-5).

        Optional: reads already see them expired. Reads the ordered deadline
        index up to now, so it touches only what is due.
        """
        with self.runtime.transaction() as tx:
            now = tx.now
            repo = tx.repo(CONNECTIONS)
            stop = time_key(now + timedelta(microseconds=1))
            due = repo.find_range(CONNECTIONS_PENDING_DEADLINE, stop=stop)
            if limit is not None:
                due = due[:limit]
            expired: list[Connection] = []
            for connection in due:
                stored = repo.save(connection.expire(now=now))
                tx.record(
                    "connection.expired",
                    subject=stored.id,
                    actor=None,
                    deadline=stored.deadline.isoformat(),
                )
                expired.append(stored)
            tx.commit()
        return tuple(expired)

    def connection(self, connection_id: str) -> Connection:
        """Return the connection as stored; ask ``effective_state(now)`` for its state."""
        with self.runtime.transaction() as tx:
            return require(tx.repo(CONNECTIONS), connection_id, what="connection")

    def connection_state(self, connection_id: str) -> ConnectionState:
        """The connection's state as of now: pending on day 30 reads expired (CO-5)."""
        with self.runtime.transaction() as tx:
            connection = require(tx.repo(CONNECTIONS), connection_id, what="connection")
            return connection.effective_state(tx.now)

    def connections_of(
        self, *, profile_id: str | None = None, surrogate_id: str | None = None
    ) -> Sequence[Connection]:
        """The connections of a provider profile, of a surrogate organization, or between them."""
        with self.runtime.transaction() as tx:
            repo = tx.repo(CONNECTIONS)
            if profile_id is not None and surrogate_id is not None:
                return tuple(
                    repo.find(
                        CONNECTIONS_BY_SURROGATE_PROFILE, compose_key(surrogate_id, profile_id)
                    )
                )
            if profile_id is not None:
                return tuple(repo.find(CONNECTIONS_BY_PROFILE, profile_id))
            if surrogate_id is not None:
                return tuple(repo.find(CONNECTIONS_BY_SURROGATE, surrogate_id))
        raise ValidationError(
            "connection.search_criteria", "Give a profile_id, a surrogate_id, or both."
        )
