"""RO-1..RO-4: roles, the permission matrix and the grant rules, as data."""

from __future__ import annotations

import pytest

from enrollkit.access import (
    APPROVERS,
    GRANTABLE_ROLES,
    MANAGERS,
    PERMISSIONS,
    VERIFIED_ROLES,
    Action,
    EmployerKind,
    Role,
    can_grant,
    can_manage,
    permits,
    render_matrix_markdown,
    require_grantable,
    roles_permitting,
)
from enrollkit.errors import ValidationError

# RO-2 exactly as the rulebook states it: represent, manage staff, connections, act on behalf.
RULEBOOK_RO_2 = [
    ("Individual Provider", Role.INDIVIDUAL_PROVIDER, (True, True, True, True)),
    ("Authorized Official", Role.AUTHORIZED_OFFICIAL, (True, True, True, True)),
    ("Access Manager", Role.ACCESS_MANAGER, (True, True, True, True)),
    ("Staff End User", Role.STAFF_END_USER, (False, False, False, True)),
    ("Surrogate", Role.SURROGATE, (False, False, False, True)),
]
COLUMNS = (
    Action.REPRESENT_ORGANIZATION,
    Action.MANAGE_STAFF,
    Action.MANAGE_CONNECTIONS,
    Action.ACT_ON_BEHALF,
)


class TestMatrix:
    def test_ro_1_the_five_roles(self) -> None:
        """RO-1: IP, AO, AM (formerly DO), SEU and Surrogate, and nothing else."""
        assert {r.value for r in Role} == {"IP", "AO", "AM", "SEU", "SUR"}
        assert set(PERMISSIONS) == set(Role)

    @pytest.mark.parametrize(("label", "role", "row"), RULEBOOK_RO_2, ids=lambda v: str(v))
    def test_ro_2_matrix_row_matches_the_rulebook(
        self, label: str, role: Role, row: tuple[bool, ...]
    ) -> None:
        """RO-2: each row of the rulebook's table is the matrix's row for that role."""
        assert role.label == label
        assert tuple(permits(role, action) for action in COLUMNS) == row

    def test_ro_2_matrix_has_exactly_the_rulebook_columns(self) -> None:
        """RO-2: the matrix knows the four actions of the rulebook's columns."""
        assert set(Action) == set(COLUMNS)

    def test_ro_2_rendered_table_shows_every_cell(self) -> None:
        """The docs table is rendered from the matrix: one line per role, yes/no per action."""
        lines = render_matrix_markdown().splitlines()
        assert len(lines) == 2 + len(Role)
        for (_label, role, row), line in zip(RULEBOOK_RO_2, lines[2:], strict=True):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[0] == f"{role.label} ({role.value})"
            assert cells[1:] == ["yes" if v else "no" for v in row]

    def test_ro_2_roles_permitting_reads_the_matrix(self) -> None:
        """roles_permitting is the matrix's column."""
        assert roles_permitting(Action.MANAGE_STAFF) == {
            Role.INDIVIDUAL_PROVIDER,
            Role.AUTHORIZED_OFFICIAL,
            Role.ACCESS_MANAGER,
        }
        assert roles_permitting(Action.ACT_ON_BEHALF) == set(Role)


class TestGrantRules:
    def test_ro_3_who_approves_each_role(self) -> None:
        """RO-3: SEU by an AO or AM (or the IP for own staff), AM by an AO (or the IP for
        own staff, RO-5 amended), AO by no user."""
        assert APPROVERS[Role.STAFF_END_USER] >= {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER}
        assert APPROVERS[Role.ACCESS_MANAGER] == {
            Role.AUTHORIZED_OFFICIAL,
            Role.INDIVIDUAL_PROVIDER,
        }
        assert APPROVERS[Role.AUTHORIZED_OFFICIAL] == frozenset()
        assert {Role.AUTHORIZED_OFFICIAL} == VERIFIED_ROLES

    def test_ro_4_no_one_grants_a_role_they_could_not_approve(self) -> None:
        """RO-4: an AM cannot grant AM; SEU and Surrogate grant nothing; nobody grants AO."""
        assert not can_grant(Role.ACCESS_MANAGER, Role.ACCESS_MANAGER)
        assert can_grant(Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER)
        for role in Role:
            assert not can_grant(Role.STAFF_END_USER, role)
            assert not can_grant(Role.SURROGATE, role)
            assert not can_grant(role, Role.AUTHORIZED_OFFICIAL)

    def test_ro_4_every_approver_may_manage_staff(self) -> None:
        """RO-4 agrees with RO-2: every approver or manager role permits managing staff."""
        for table in (APPROVERS, MANAGERS):
            for granters in table.values():
                assert all(permits(g, Action.MANAGE_STAFF) for g in granters)

    def test_ro_6_managers_of_each_role(self) -> None:
        """RO-6 with RO-4: an AM ends staff, never an AM or an AO; an AO ends anyone."""
        assert can_manage(Role.ACCESS_MANAGER, Role.STAFF_END_USER)
        assert not can_manage(Role.ACCESS_MANAGER, Role.ACCESS_MANAGER)
        assert not can_manage(Role.ACCESS_MANAGER, Role.AUTHORIZED_OFFICIAL)
        assert can_manage(Role.AUTHORIZED_OFFICIAL, Role.AUTHORIZED_OFFICIAL)

    def test_ro_5_employers_hold_only_their_roles(self) -> None:
        """RO-5 (amended)/RO-7: organizations hold AO, AM, SEU; an IP's staff are Access
        Managers or Staff End Users, never AOs."""
        assert GRANTABLE_ROLES[EmployerKind.INDIVIDUAL_PROVIDER] == {
            Role.ACCESS_MANAGER,
            Role.STAFF_END_USER,
        }
        with pytest.raises(ValidationError) as info:
            require_grantable(EmployerKind.INDIVIDUAL_PROVIDER, Role.AUTHORIZED_OFFICIAL)
        assert info.value.code == "association.role_not_grantable"
        with pytest.raises(ValidationError):
            require_grantable(EmployerKind.ORGANIZATION, Role.SURROGATE)
