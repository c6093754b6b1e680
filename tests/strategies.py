"""Hypothesis strategies for the kernel's tests: arbitrary state machines.

The machines are built over two small enums of the tests' own, so a property
holds for any table, not only for the seven the library defines.
"""

from __future__ import annotations

from enum import Enum

from hypothesis import strategies as st

from enrollkit.machine import StateMachine


class Phase(Enum):
    """States of a generated machine; two of them carry a people-facing label."""

    NEW = "new"
    OPEN = "open"
    HELD = "held"
    DONE = "done"
    GONE = "gone"
    VOID = "void"

    @property
    def label(self) -> str:
        """Words for some states, the value for the rest (as ConnectionState does)."""
        return {"held": "on hold", "void": "void (never used)"}.get(self.value, self.value)


class Step(Enum):
    """Events of a generated machine."""

    START = "start"
    HOLD = "hold"
    FINISH = "finish"
    DROP = "drop"
    RESET = "reset"


#: The past tense of every step, as a machine must have it.
STEP_PAST = {step: f"{step.value}ped" for step in Step}

rows = st.dictionaries(
    st.tuples(st.sampled_from(Phase), st.sampled_from(Step)),
    st.sampled_from(Phase),
    max_size=len(Phase) * len(Step),
)


@st.composite
def state_machines(draw: st.DrawFn) -> StateMachine[Phase, Step]:
    """A consistent machine over :class:`Phase` and :class:`Step`: any table, one or
    more initial states, maybe entry labels, a code with or without ``{event}``."""
    initial = tuple(draw(st.lists(st.sampled_from(Phase), min_size=1, max_size=3, unique=True)))
    labelled = draw(st.lists(st.sampled_from(initial), unique=True))
    return StateMachine(
        name=draw(st.sampled_from(["ticket", "work item"])),
        rule=draw(st.sampled_from(["HOST-1", "HOST-2"])),
        states=Phase,
        events=Step,
        transitions=draw(rows),
        past=STEP_PAST,
        initial=initial,
        entry_labels={state: f"begin as {state.value}" for state in labelled},
        code=draw(st.sampled_from(["ticket.invalid_transition", "ticket.{event}_refused"])),
        advice=draw(st.sampled_from(["", "Reload it."])),
    )
