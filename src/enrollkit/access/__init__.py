"""Access: roles, employers, staff invitations, surrogacy connections, decisions.

What a user may do (rules RO-*, CO-*), as opposed to who the user is
(:mod:`enrollkit.identity`: accounts and authentication, rules PW-*, AC-*).
Actors are account ids (strings); access never loads accounts to decide.

The one question every use case asks is :func:`decide` (CO-7, CO-8).
"""

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
from enrollkit.access.service import AccessService, OrganizationRegistration
from enrollkit.access.verification import (
    AuthorizedOfficialVerifier,
    InMemoryVerifier,
    Verification,
    VerificationStatus,
)

__all__ = [
    "APPROVERS",
    "ASSOCIATIONS",
    "ASSOCIATION_TRANSITIONS",
    "CONNECTIONS",
    "CONNECTION_TRANSITIONS",
    "INVITATIONS",
    "ORGANIZATIONS",
    "PENDING_LIFETIME",
    "PERMISSIONS",
    "PIN_ALPHABET",
    "PROFILES",
    "AccessService",
    "Action",
    "Association",
    "AssociationEvent",
    "AssociationState",
    "AuthorizedOfficialVerifier",
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
    "InMemoryVerifier",
    "Invitation",
    "InvitationPolicy",
    "InvitationState",
    "Organization",
    "OrganizationRegistration",
    "ProviderProfile",
    "Role",
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
    "decide_signing_authority",
    "employer_of",
    "normalize_legal_name",
    "permits",
    "render_matrix_markdown",
    "roles_held",
]
