"""Access: roles, employers, staff invitations, surrogacy connections, decisions.

What a user may do (rules RO-*, CO-*), as opposed to who the user is
(:mod:`enrollkit.identity`: accounts and authentication, rules PW-*, AC-*).
Use cases act for a :class:`~enrollkit.principals.Principal` (AC-8); decisions
are asked about account ids, and an unknown or disabled account is denied.

The one question every use case asks is :func:`decide` (CO-7, CO-8).
"""

from enrollkit.access._reads import AccessReads
from enrollkit.access.associations import (
    ASSOCIATION_TRANSITIONS,
    ASSOCIATIONS,
    Association,
    AssociationEvent,
    AssociationState,
    Employer,
    Grant,
    GrantBasis,
)
from enrollkit.access.claims import CLAIMS, ClaimState, ProfileClaim
from enrollkit.access.connections import (
    CONNECTION_TRANSITIONS,
    CONNECTIONS,
    PENDING_LIFETIME,
    Connection,
    ConnectionEvent,
    ConnectionState,
    Side,
)
from enrollkit.access.decisions import (
    Decision,
    Denial,
    Fixer,
    GrantKind,
    GrantPath,
    decide,
    decide_connection,
    decide_for_organization,
    decide_grant,
    decide_manage,
    decide_role_change,
    decide_signing_authority,
    employer_of,
    roles_held,
)
from enrollkit.access.invitations import (
    INVITATIONS,
    PIN_ALPHABET,
    Invitation,
    InvitationPolicy,
    InvitationState,
)
from enrollkit.access.organizations import (
    ORGANIZATIONS,
    PROFILES,
    Organization,
    ProviderProfile,
    normalize_legal_name,
)
from enrollkit.access.roles import (
    APPROVERS,
    PERMISSIONS,
    Action,
    EmployerKind,
    Role,
    System,
    approvers_of,
    can_grant,
    permits,
    render_matrix_markdown,
)
from enrollkit.access.scope import PendingConnection, Scope, pending_connections_for, scope_of
from enrollkit.access.service import (
    AccessService,
    ClaimOutcome,
    OrganizationRegistration,
    ProfileTransfer,
)
from enrollkit.access.verification import (
    AuthorizedOfficialVerifier,
    InMemoryProofer,
    InMemoryVerifier,
    NpiRegistry,
    NpiRegistryRecord,
    ProviderProofer,
    Verification,
    VerificationStatus,
)

__all__ = [
    "APPROVERS",
    "ASSOCIATIONS",
    "ASSOCIATION_TRANSITIONS",
    "CLAIMS",
    "CONNECTIONS",
    "CONNECTION_TRANSITIONS",
    "INVITATIONS",
    "ORGANIZATIONS",
    "PENDING_LIFETIME",
    "PERMISSIONS",
    "PIN_ALPHABET",
    "PROFILES",
    "AccessReads",
    "AccessService",
    "Action",
    "Association",
    "AssociationEvent",
    "AssociationState",
    "AuthorizedOfficialVerifier",
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
    "render_matrix_markdown",
    "roles_held",
    "scope_of",
]
