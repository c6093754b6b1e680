"""The one state-machine type (DESIGN habit 6): properties of the kernel over arbitrary
tables, then every machine the library defines (AC-2, RO-6, RO-7, RO-9, CO-6, EN-4,
SG-2) and the docs' diagrams, which are each machine's ``mermaid()``."""

from __future__ import annotations

import re
from collections import Counter, deque
from enum import Enum
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from hypothesis import given

import enrollkit.access
import enrollkit.enrollment
import enrollkit.identity
import enrollkit.signatures
from enrollkit.access import (
    ASSOCIATION_MACHINE,
    CLAIM_MACHINE,
    CONNECTION_MACHINE,
    INVITATION_MACHINE,
    ConnectionEvent,
    ConnectionState,
)
from enrollkit.enrollment import APPLICATION_MACHINE, FINAL_STATUSES
from enrollkit.errors import InvalidTransitionError, ValidationError
from enrollkit.identity import ACCOUNT_MACHINE, AccountEvent, AccountStatus
from enrollkit.machine import StateMachine
from enrollkit.rules import RULES
from enrollkit.signatures import SIGNATURE_REQUEST_MACHINE
from tests.strategies import STEP_PAST, Phase, Step, state_machines

AnyMachine = StateMachine[Any, Any]

DOCS = Path(__file__).resolve().parents[1] / "docs"
_MERMAID = re.compile(r"```mermaid\n(.*?)\n```", re.DOTALL)


class Other(Enum):
    """Members of neither enum of the generated machines."""

    PHASE = "phase"
    STEP = "step"


def _label(state: Enum) -> str:
    label = getattr(state, "label", None)
    return label if isinstance(label, str) else str(state.value)


def _assert_table_rules(machine: AnyMachine) -> None:
    """``next`` and ``allows`` answer from the table for every (state, event) pair, and
    refuse everything else with the machine's stable code and a message naming the state
    and the event's past tense (ER-1)."""
    for state in machine.states:
        for event in machine.events:
            target = machine.transitions.get((state, event))
            assert machine.allows(state, event) is (target is not None)
            if target is not None:
                assert machine.next(state, event) is target
                continue
            with pytest.raises(InvalidTransitionError) as info:
                machine.next(state, event, subject_id="x-1")
            error = info.value
            assert error.code == machine.code.replace("{event}", event.value)
            assert error.fields == {"state": state.value, "event": event.value, "subject_id": "x-1"}
            assert error.message.startswith(f"This {machine.name} is {_label(state)}; ")
            assert f"it cannot be {machine.past[event]} ({machine.rule})." in error.message
            assert error.message.endswith(machine.advice or ".")


class TestKernel:
    @given(state_machines())
    def test_er_1_next_agrees_with_the_table_and_refuses_the_rest(
        self, machine: StateMachine[Phase, Step]
    ) -> None:
        """Every pair in the table moves to its target; every other pair is refused with
        the stable code, the state's label and the event's past tense."""
        _assert_table_rules(machine)

    @given(state_machines())
    def test_terminal_states_have_no_outgoing_events(
        self, machine: StateMachine[Phase, Step]
    ) -> None:
        """A state is terminal exactly when no row leaves it; events_from lists each
        state's events in table order, none for a terminal state."""
        for state in Phase:
            expected = tuple(event for source, event in machine.transitions if source is state)
            assert machine.events_from(state) == expected
            assert (state in machine.terminal) is (expected == ())

    @given(state_machines())
    def test_mermaid_lists_every_transition_once(self, machine: StateMachine[Phase, Step]) -> None:
        """The diagram has one entry arrow per initial state, every row of the table once
        (in table order), one exit arrow per terminal state, and nothing else."""
        lines = machine.mermaid().split("\n")
        assert lines[0] == "stateDiagram-v2"
        counts = Counter(lines[1:])
        rows = [
            f"    {s.value} --> {t.value}: {e.value}" for (s, e), t in machine.transitions.items()
        ]
        assert all(counts[row] == 1 for row in rows)
        assert [line for line in lines if line in set(rows)] == rows
        entries = [line for line in lines if line.startswith("    [*] --> ")]
        assert len(entries) == len(machine.initial)
        for state, line in zip(machine.initial, entries, strict=True):
            label = machine.entry_labels.get(state)
            assert line == f"    [*] --> {state.value}" + (f": {label}" if label else "")
        exits = {line for line in lines if line.endswith(" --> [*]")}
        assert exits == {f"    {state.value} --> [*]" for state in machine.terminal}
        assert len(lines) == 1 + len(machine.initial) + len(rows) + len(machine.terminal)

    @given(state_machines())
    def test_the_table_is_a_read_only_copy(self, machine: StateMachine[Phase, Step]) -> None:
        """Neither the table nor the machine can be changed after it is made."""
        with pytest.raises(TypeError):
            cast(Any, machine.transitions)[(Phase.NEW, Step.START)] = Phase.DONE
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            machine.rule = "CO-1"  # type: ignore[misc]

    def test_a_table_changed_after_the_machine_is_made_changes_nothing(self) -> None:
        """The machine copies the table it is given."""
        table = {(Phase.NEW, Step.START): Phase.OPEN}
        machine = _machine(transitions=table)
        table[(Phase.OPEN, Step.FINISH)] = Phase.DONE
        assert not machine.allows(Phase.OPEN, Step.FINISH)
        assert machine.terminal == frozenset(Phase) - {Phase.NEW}

    @pytest.mark.parametrize(
        ("changes", "problem"),
        [
            ({"transitions": {(Phase.NEW, Step.START): Other.PHASE}}, "foreign state"),
            ({"transitions": {(Phase.NEW, Other.STEP): Phase.OPEN}}, "foreign event"),
            ({"past": {Step.START: "started"}}, "without a past tense"),
            ({"initial": ()}, "no initial state"),
            ({"initial": (Other.PHASE,)}, "initial state is not Phase"),
            ({"entry_labels": {Phase.DONE: "begun"}}, "not initial"),
            ({"rule": ""}, "cannot be empty"),
        ],
    )
    def test_er_1_an_inconsistent_definition_is_refused(
        self, changes: dict[str, Any], problem: str
    ) -> None:
        """A machine contradicting itself is refused when made, saying what is wrong."""
        with pytest.raises(ValidationError) as info:
            _machine(**changes)
        assert info.value.code == "machine.invalid"
        assert problem in info.value.message

    def test_an_aggregate_may_give_a_richer_message(self) -> None:
        """refusal(message=) keeps the machine's code and fields with the aggregate's words."""
        error = _machine(code="ticket.{event}_refused").refusal(
            Phase.DONE, Step.START, message="Ask again.", ticket_id="t-1"
        )
        assert (error.code, error.message) == ("ticket.start_refused", "Ask again.")
        assert error.fields == {"state": "done", "event": "start", "ticket_id": "t-1"}


def _machine(**changes: Any) -> StateMachine[Phase, Step]:
    definition: dict[str, Any] = {
        "name": "ticket",
        "rule": "HOST-1",
        "states": Phase,
        "events": Step,
        "transitions": {(Phase.NEW, Step.START): Phase.OPEN},
        "past": STEP_PAST,
        "initial": (Phase.NEW,),
    }
    return cast(StateMachine[Phase, Step], StateMachine(**{**definition, **changes}))


#: Every machine of the library and the docs page showing its diagram.
ALL_MACHINES: list[tuple[AnyMachine, str]] = [
    (ACCOUNT_MACHINE, "identity.md"),
    (ASSOCIATION_MACHINE, "access.md"),
    (INVITATION_MACHINE, "access.md"),
    (CLAIM_MACHINE, "access.md"),
    (CONNECTION_MACHINE, "access.md"),
    (APPLICATION_MACHINE, "enrollment.md"),
    (SIGNATURE_REQUEST_MACHINE, "signatures.md"),
]
#: The same as test parameters, named by rule: "AC-2 account", "CO-6 connection".
MACHINES = [pytest.param(m, page, id=f"{m.rule} {m.name}") for m, page in ALL_MACHINES]


class TestEveryMachine:
    def test_co_9_a_refusal_names_the_state_by_its_label(self) -> None:
        """An expired connection is refused as "rejected (no answer in 30 days)" (CO-9)."""
        with pytest.raises(InvalidTransitionError) as info:
            CONNECTION_MACHINE.next(
                ConnectionState.EXPIRED, ConnectionEvent.APPROVE, connection_id="conn-1"
            )
        assert info.value.code == "connection.invalid_transition"
        assert info.value.message == (
            "This connection is rejected (no answer in 30 days); it cannot be approved (CO-6)."
        )
        assert info.value.fields == {
            "state": "expired",
            "event": "approve",
            "connection_id": "conn-1",
        }

    def test_ac_2_the_code_can_name_the_event(self) -> None:
        """The account machine's codes name the refused event, as they always did."""
        error = ACCOUNT_MACHINE.refusal(AccountStatus.DISABLED, AccountEvent.HELP_DESK_RESET)
        assert error.code == "account.help_desk_reset_not_allowed"
        assert error.message == (
            "This account is disabled; it cannot be reset by the help desk (AC-2)."
        )

    @pytest.mark.parametrize(("machine", "page"), MACHINES)
    def test_its_rule_is_catalogued(self, machine: AnyMachine, page: str) -> None:
        """Each machine cites a rule of the catalogue (AC-2, RO-6, RO-7, RO-9, CO-6, EN-4,
        SG-2)."""
        assert machine.rule in RULES

    @pytest.mark.parametrize(("machine", "page"), MACHINES)
    def test_next_agrees_with_its_table(self, machine: AnyMachine, page: str) -> None:
        """Every (state, event) pair of every machine follows its table (ER-1 refusals)."""
        _assert_table_rules(machine)

    @pytest.mark.parametrize(("machine", "page"), MACHINES)
    def test_every_state_is_reachable(self, machine: AnyMachine, page: str) -> None:
        """No state of the enum is dead data: each is reached from an initial state."""
        seen, queue = set(machine.initial), deque(machine.initial)
        while queue:
            state = queue.popleft()
            for event in machine.events_from(state):
                target = machine.next(state, event)
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        assert seen == set(cast("type[Enum]", machine.states))

    @pytest.mark.parametrize(("machine", "page"), MACHINES)
    def test_the_enums_terminal_states_are_the_machines(
        self, machine: AnyMachine, page: str
    ) -> None:
        """Where a state enum says ``is_terminal`` (CO-6, RO-6, RO-9), it says what the
        machine derives."""
        for state in machine.states:
            assert getattr(state, "is_terminal", state in machine.terminal) is (
                state in machine.terminal
            )

    def test_en_4_final_statuses_are_the_terminal_states(self) -> None:
        """The application's final statuses (the machine's terminal states) are approved,
        denied, rejected and withdrawn."""
        assert {s.value for s in FINAL_STATUSES} == {"approved", "denied", "rejected", "withdrawn"}

    def test_every_exported_machine_is_listed_here(self) -> None:
        """The domain packages export exactly the machines this file checks."""
        exported = {
            id(value)
            for package in (
                enrollkit.identity,
                enrollkit.access,
                enrollkit.enrollment,
                enrollkit.signatures,
            )
            for value in (getattr(package, name) for name in package.__all__)
            if isinstance(value, StateMachine)
        }
        assert exported == {id(machine) for machine, _page in ALL_MACHINES}


class TestDocsDiagrams:
    @pytest.mark.parametrize(("machine", "page"), MACHINES)
    def test_the_page_shows_the_machines_diagram(self, machine: AnyMachine, page: str) -> None:
        """The page's Mermaid block for the machine is exactly ``machine.mermaid()`` (the
        docs and the table cannot drift)."""
        assert machine.mermaid() in _MERMAID.findall((DOCS / page).read_text(encoding="utf-8"))

    def test_every_state_diagram_in_the_docs_is_a_machines(self) -> None:
        """No page shows a state diagram that no machine renders (a stale copy)."""
        rendered = {machine.mermaid() for machine, _page in ALL_MACHINES}
        for page in sorted(DOCS.glob("*.md")):
            for block in _MERMAID.findall(page.read_text(encoding="utf-8")):
                if block.startswith("stateDiagram"):
                    assert block in rendered, page.name


class TestTheTableForm:
    """A machine written as its table reads back as the same machine (every shipped
    machine is written so), and a table that does not read is refused."""

    def test_a_table_that_does_not_read_is_refused(self) -> None:
        """A bad header, a bad line, an unknown value or two past tenses: machine.invalid."""
        good_header = "connection (CO-6), starts pending"
        tables = [
            "connection, starts pending\npending approve -> approved : approved",
            f"{good_header}\npending approve approved",
            f"{good_header}\npending approve -> nowhere : approved",
            f"{good_header}\npending approve -> approved : approved\n"
            "approved approve -> approved : okayed",
            "connection (CO-6), starts nowhere\npending approve -> approved : approved",
        ]
        for table in tables:
            with pytest.raises(ValidationError) as info:
                StateMachine.from_table(ConnectionState, ConnectionEvent, table)
            assert info.value.code == "machine.invalid", table

    def test_the_table_form_equals_the_data_form(self) -> None:
        """from_table gives the machine the constructor gives for the same rows."""
        table = StateMachine.from_table(
            ConnectionState,
            ConnectionEvent,
            """
            connection (CO-6), starts pending
            pending   approve   -> approved   : approved
            pending   reject    -> rejected   : rejected
            pending   expire    -> expired    : expired
            pending   withdraw  -> withdrawn  : withdrawn
            approved  remove    -> removed    : removed
            """,
        )
        data = StateMachine(
            name="connection",
            rule="CO-6",
            states=ConnectionState,
            events=ConnectionEvent,
            transitions=dict(CONNECTION_MACHINE.transitions),
            past=dict(table.past),
            initial=(ConnectionState.PENDING,),
        )
        assert (table.transitions, table.initial, table.code) == (
            data.transitions,
            data.initial,
            data.code,
        )
        assert table.mermaid() == data.mermaid()
        assert table.transitions == CONNECTION_MACHINE.transitions
