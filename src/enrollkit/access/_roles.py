"""Roles, actions, systems and the permission matrix, as data (Rules RO-1..RO-4).

One table answers "may a holder of role R do action A" for the whole
library (RO-2); two more say who may grant or approve a role (RO-3, RO-4) and
who may manage (modify or end) an association holding it. Services and the
decision function ask these tables; nothing re-derives a permission inline,
and the docs render the matrix from :data:`PERMISSIONS`.

>>> permits(Role.STAFF_END_USER, Action.ACT_ON_BEHALF)
True
>>> permits(Role.STAFF_END_USER, Action.MANAGE_STAFF)
False
>>> sorted(r.value for r in approvers_of(Role.ACCESS_MANAGER))  # the IP: on their own profile
['AO', 'IP']
>>> can_grant(Role.ACCESS_MANAGER, Role.ACCESS_MANAGER)
False
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from enrollkit.errors import ValidationError
from enrollkit.machine import IdentityEnum

__all__ = [
    "APPROVERS",
    "GRANTABLE_ROLES",
    "MANAGERS",
    "PERMISSIONS",
    "VERIFIED_ROLES",
    "Action",
    "EmployerKind",
    "Role",
    "System",
    "approvers_of",
    "can_grant",
    "can_manage",
    "permits",
    "render_grant_rules_markdown",
    "render_matrix_markdown",
    "require_grantable",
    "roles_permitting",
]


class System(IdentityEnum):
    """The CMS systems a connection can cover (CO-2)."""

    PECOS = "PECOS"
    NPPES = "NPPES"
    EHR = "EHR"


class Role(IdentityEnum):
    """The I&A roles (RO-1). Access Manager was called Delegated Official in older material."""

    INDIVIDUAL_PROVIDER = "IP"
    AUTHORIZED_OFFICIAL = "AO"
    ACCESS_MANAGER = "AM"
    STAFF_END_USER = "SEU"
    SURROGATE = "SUR"

    @property
    def label(self) -> str:
        """The role's full name: ``"Access Manager"``."""
        return _LABELS[self]


class Action(IdentityEnum):
    """What a user asks to do for an organization or a provider profile (RO-2 columns)."""

    REPRESENT_ORGANIZATION = "represent_organization"
    MANAGE_STAFF = "manage_staff"
    MANAGE_CONNECTIONS = "manage_connections"
    ACT_ON_BEHALF = "act_on_behalf"  #: view and update enrollment data

    @property
    def label(self) -> str:
        """The matrix column heading: ``"manage staff"``."""
        return _LABELS[self]


#: The permission matrix's headings (RO-2): each role's full name (a row) and each
#: action's column heading.
_LABELS: Final[Mapping[Role | Action, str]] = {
    Role.INDIVIDUAL_PROVIDER: "Individual Provider",
    Role.AUTHORIZED_OFFICIAL: "Authorized Official",
    Role.ACCESS_MANAGER: "Access Manager",
    Role.STAFF_END_USER: "Staff End User",
    Role.SURROGATE: "Surrogate",
    Action.REPRESENT_ORGANIZATION: "represent organization",
    Action.MANAGE_STAFF: "manage staff",
    Action.MANAGE_CONNECTIONS: "approve/manage connections",
    Action.ACT_ON_BEHALF: "act on behalf of provider",
}


class EmployerKind(IdentityEnum):
    """Whom an association is with: an organization, or an individual provider's own
    profile (an IP's staff, RO-7)."""

    ORGANIZATION = "organization"
    INDIVIDUAL_PROVIDER = "individual_provider"


_ALL: Final = frozenset(Action)

#: Rule RO-2: the permission matrix, role -> the actions it permits.
PERMISSIONS: Final[Mapping[Role, frozenset[Action]]] = MappingProxyType(
    {
        Role.INDIVIDUAL_PROVIDER: _ALL,
        Role.AUTHORIZED_OFFICIAL: _ALL,
        Role.ACCESS_MANAGER: _ALL,
        Role.STAFF_END_USER: frozenset({Action.ACT_ON_BEHALF}),
        Role.SURROGATE: frozenset({Action.ACT_ON_BEHALF}),
    }
)

#: Rules RO-3 and RO-4: who may approve a request for (or grant by invitation) a role.
#: The AO role has no human approver: it is granted only by the external
#: verification (the :class:`~enrollkit.access.AuthorizedOfficialVerifier` port).
#: The IP approves only staff of their own profile (an IP holds no employer role):
#: Access Managers and Staff End Users (RO-5 amended); only the IP grants AM there.
APPROVERS: Final[Mapping[Role, frozenset[Role]]] = MappingProxyType(
    {
        Role.AUTHORIZED_OFFICIAL: frozenset(),
        Role.ACCESS_MANAGER: frozenset({Role.AUTHORIZED_OFFICIAL, Role.INDIVIDUAL_PROVIDER}),
        Role.STAFF_END_USER: frozenset(
            {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, Role.INDIVIDUAL_PROVIDER}
        ),
    }
)

#: Roles granted only through the verifier port (RO-3).
VERIFIED_ROLES: Final = frozenset({Role.AUTHORIZED_OFFICIAL})

#: Rule RO-6 (with RO-4): who may modify or end someone else's association holding a role.
#: An AM cannot touch an AM or AO; an AO can end another AO (RO-5 still keeps one); an
#: IP manages the AMs and SEUs of their own profile.
MANAGERS: Final[Mapping[Role, frozenset[Role]]] = MappingProxyType(
    {
        Role.AUTHORIZED_OFFICIAL: frozenset({Role.AUTHORIZED_OFFICIAL}),
        Role.ACCESS_MANAGER: frozenset({Role.AUTHORIZED_OFFICIAL, Role.INDIVIDUAL_PROVIDER}),
        Role.STAFF_END_USER: frozenset(
            {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, Role.INDIVIDUAL_PROVIDER}
        ),
    }
)

#: Which roles an association with each kind of employer can hold (RO-5, RO-7).
GRANTABLE_ROLES: Final[Mapping[EmployerKind, frozenset[Role]]] = MappingProxyType(
    {
        EmployerKind.ORGANIZATION: frozenset(
            {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, Role.STAFF_END_USER}
        ),
        # RO-5 (amended): an IP's office manager is usually an Access Manager.
        EmployerKind.INDIVIDUAL_PROVIDER: frozenset({Role.ACCESS_MANAGER, Role.STAFF_END_USER}),
    }
)


def permits(role: Role, action: Action) -> bool:
    """Return whether *role* permits *action* (Rule RO-2)."""
    return action in PERMISSIONS[role]


def roles_permitting(action: Action) -> frozenset[Role]:
    """Return every role whose matrix row permits *action* (RO-2)."""
    return frozenset(role for role, actions in PERMISSIONS.items() if action in actions)


def approvers_of(role: Role) -> frozenset[Role]:
    """Return the roles that may approve or grant *role* (RO-3); empty for verified roles."""
    return APPROVERS.get(role, frozenset())


def can_grant(granter: Role, role: Role) -> bool:
    """Return whether a holder of *granter* may grant or approve *role* (RO-3, RO-4).

    Nobody grants a role they could not approve: an AM never grants AM, an SEU
    or a Surrogate grants nothing, and only the verifier grants AO.
    """
    return granter in approvers_of(role) and permits(granter, Action.MANAGE_STAFF)


def can_manage(manager: Role, role: Role) -> bool:
    """Return whether a holder of *manager* may modify or end an association in *role*."""
    return manager in MANAGERS.get(role, frozenset()) and permits(manager, Action.MANAGE_STAFF)


def require_grantable(kind: EmployerKind, role: Role) -> None:
    """Raise ValidationError unless an employer of *kind* can hold *role* at all (RO-1, RO-5):
    organizations have AOs, AMs and SEUs; an individual provider has AMs and SEUs."""
    if role not in GRANTABLE_ROLES[kind]:
        allowed = ", ".join(r.value for r in Role if r in GRANTABLE_ROLES[kind])
        raise ValidationError(
            "association.role_not_grantable",
            f"An association with an {kind.value.replace('_', ' ')} holds one of {allowed}; "
            f"{role.label} is not one of them (RO-1, RO-5).",
            role=role.value,
            employer_kind=kind.value,
        )


def render_matrix_markdown() -> str:
    """The RO-2 matrix as a Markdown table (the docs page shows exactly this)."""
    actions = list(Action)
    lines = [
        "| role | " + " | ".join(a.label for a in actions) + " |",
        "|---|" + "---|" * len(actions),
    ]
    for role in Role:
        cells = ["yes" if permits(role, a) else "no" for a in actions]
        lines.append(f"| {role.label} ({role.value}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_grant_rules_markdown() -> str:
    """RO-3/RO-4/RO-6 as a Markdown table: who grants and who manages each employer role."""

    def phrase(roles: frozenset[Role]) -> str:
        return ", ".join(r.value for r in Role if r in roles) or "nobody"

    lines = ["| role | granted or approved by | modified or ended by |", "|---|---|---|"]
    for role in Role:
        if role not in APPROVERS:
            continue
        granted = phrase(approvers_of(role))
        if role in VERIFIED_ROLES:
            granted = "the verifier only (help desk)"
        lines.append(f"| {role.label} ({role.value}) | {granted} | {phrase(MANAGERS[role])} |")
    return "\n".join(lines)
