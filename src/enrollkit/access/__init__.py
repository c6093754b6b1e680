"""Access: roles, employers, staff invitations, surrogacy connections, decisions.

What a user may do (rules RO-*, CO-*), as opposed to who the user is
(:mod:`enrollkit.identity`: accounts and authentication, rules PW-*, AC-*).
Use cases act for a :class:`~enrollkit.principals.Principal` (AC-8); decisions
are asked about account ids, and an unknown or disabled account is denied.

The one question every use case asks is :func:`decide` (CO-7, CO-8).
"""

from enrollkit.access._associations import *
from enrollkit.access._claims import *
from enrollkit.access._connections import *
from enrollkit.access._decisions import *
from enrollkit.access._invitations import *
from enrollkit.access._organizations import *
from enrollkit.access._reads import *
from enrollkit.access._roles import *
from enrollkit.access._scope import *
from enrollkit.access._service import *
from enrollkit.access._verification import *

__all__ = [
    "APPROVERS",
    "ASSOCIATIONS",
    "ASSOCIATION_MACHINE",
    "CLAIMS",
    "CLAIM_MACHINE",
    "CONNECTIONS",
    "CONNECTIONS_PENDING_DEADLINE",
    "CONNECTION_MACHINE",
    "GRANTABLE_ROLES",
    "INVITATIONS",
    "INVITATION_MACHINE",
    "MANAGERS",
    "MIN_PIN_LENGTH",
    "ORGANIZATIONS",
    "PENDING_LIFETIME",
    "PERMISSIONS",
    "PIN_ALPHABET",
    "PROFILES",
    "VERIFIED_ROLES",
    "AccessReads",
    "AccessService",
    "Action",
    "Association",
    "AssociationEvent",
    "AssociationState",
    "AuthorizedOfficialVerifier",
    "ClaimEvent",
    "ClaimOutcome",
    "ClaimState",
    "Connection",
    "ConnectionEvent",
    "ConnectionState",
    "Decision",
    "Denial",
    "Employer",
    "EmployerKind",
    "Fixer",
    "Grant",
    "GrantBasis",
    "GrantKind",
    "GrantPath",
    "InMemoryProofer",
    "InMemoryVerifier",
    "Invitation",
    "InvitationEvent",
    "InvitationPolicy",
    "InvitationState",
    "NpiRegistry",
    "NpiRegistryRecord",
    "Organization",
    "OrganizationRegistration",
    "PendingConnection",
    "ProfileClaim",
    "ProfileTransfer",
    "ProviderProfile",
    "ProviderProofer",
    "Role",
    "Scope",
    "Side",
    "System",
    "Verification",
    "VerificationStatus",
    "approvers_of",
    "can_grant",
    "can_manage",
    "decide",
    "decide_connection",
    "decide_for_organization",
    "decide_grant",
    "decide_manage",
    "decide_role_change",
    "decide_signing_authority",
    "employer_of",
    "normalize_legal_name",
    "pending_connections_for",
    "permits",
    "render_grant_rules_markdown",
    "render_matrix_markdown",
    "require_grantable",
    "roles_held",
    "roles_permitting",
    "scope_of",
]
