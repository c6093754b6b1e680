"""One kernel type for every state machine of the library (DESIGN habit 6).

A :class:`StateMachine` is data: a read-only transition table
``{(state, event): new state}`` over a state enum and an event enum, the
past tense of each event (for messages), the state(s) an aggregate starts in
and the rule the table implements. Aggregates ask it for the next state
(:meth:`~StateMachine.next`); the documentation's diagram is
:meth:`~StateMachine.mermaid` of the same table, and the tests read the same
table. Terminal states (those nothing leaves) are derived, never listed.

An aggregate keeps its own richer refusals (an expired request with its
date, a response deadline that passed) and asks the machine for everything
else. The library's machines are ``ACCOUNT_MACHINE`` (AC-2),
``ASSOCIATION_MACHINE`` (RO-6), ``INVITATION_MACHINE`` (RO-7),
``CLAIM_MACHINE`` (RO-9), ``CONNECTION_MACHINE`` (CO-6),
``APPLICATION_MACHINE`` (EN-4) and ``SIGNATURE_REQUEST_MACHINE`` (SG-2),
each exported by its package.

Each machine is written as its table, one transition a line, as a person reads
it (:meth:`StateMachine.from_table`; the constructor takes the same as data). A
host can describe its own (here with its own rule ID):

>>> from enum import Enum
>>> class Ticket(Enum):
...     OPEN = "open"
...     ANSWERED = "answered"
...     CLOSED = "closed"
>>> class TicketEvent(Enum):
...     ANSWER = "answer"
...     CLOSE = "close"
>>> TICKETS = StateMachine.from_table(
...     Ticket,
...     TicketEvent,
...     '''
...     ticket (HOST-1), starts open
...     open      answer  -> answered  : answered
...     open      close   -> closed    : closed
...     answered  close   -> closed    : closed
...     ''',
... )
>>> TICKETS.next(Ticket.OPEN, TicketEvent.ANSWER)
<Ticket.ANSWERED: 'answered'>
>>> TICKETS.events_from(Ticket.OPEN), TICKETS.terminal
((<TicketEvent.ANSWER: 'answer'>, <TicketEvent.CLOSE: 'close'>), frozenset({<Ticket.CLOSED: 'closed'>}))
>>> TICKETS.next(Ticket.CLOSED, TicketEvent.ANSWER, ticket_id="t-1")
Traceback (most recent call last):
...
enrollkit.errors.InvalidTransitionError: This ticket is closed; it cannot be answered (HOST-1).
>>> print(TICKETS.mermaid())
stateDiagram-v2
    [*] --> open
    open --> answered: answer
    open --> closed: close
    answered --> closed: close
    closed --> [*]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final, Generic, TypeVar

import attrs

from enrollkit.errors import InvalidTransitionError, ValidationError

__all__ = ["IdentityEnum", "StateMachine"]


class IdentityEnum(Enum):
    """An enum hashed by identity. Its members are singletons compared by identity, so
    this hash agrees with equality; it runs in C, where Enum's own hashes the member's
    name in Python (states and events are looked up on every transition, roles and
    systems on every access decision)."""

    __hash__ = object.__hash__


S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)

#: Where a machine's error code names the refused event.
_EVENT_PLACEHOLDER: Final = "{event}"


def _label(state: Enum) -> str:
    """The state as people read it: its ``label`` when the enum has one, else its value."""
    label = getattr(state, "label", None)
    return label if isinstance(label, str) else str(state.value)


_HEADER: Final = re.compile(r"(?P<name>[\w ]+?) \((?P<rule>[A-Z]+-\d+)\), starts (?P<initial>.+)")
_ROW: Final = re.compile(
    r"(?P<source>\w+)\s+(?P<event>\w+)\s+->\s+(?P<target>\w+)\s*:\s*(?P<past>.+)"
)


def _invalid(what: str, problems: list[str]) -> ValidationError:
    return ValidationError(
        "machine.invalid",
        f"The {what} state machine is inconsistent: " + "; ".join(problems) + ".",
        machine=what,
        problems=problems,
    )


@attrs.frozen(kw_only=True, eq=False)
class StateMachine(Generic[S, E]):
    """A state machine as data: the transition table of one aggregate and the rule it
    implements, generic over the aggregate's state and event enums.

    Build it once, at module level, and ask it: :meth:`next` (the new state, or an
    :class:`~enrollkit.errors.InvalidTransitionError`), :meth:`allows`,
    :meth:`events_from`, :attr:`terminal`, :meth:`mermaid`. A definition that
    contradicts itself (a pair of foreign enums, an event without its past tense,
    no initial state) is refused with a :class:`~enrollkit.errors.ValidationError`
    (``machine.invalid``) when the machine is made.
    """

    #: The aggregate as messages name it: ``"connection"``, ``"signature request"``.
    name: str
    #: The rule the table implements, cited in every refusal: ``"CO-6"``.
    rule: str
    #: The state enum.
    states: type[S]
    #: The event enum.
    events: type[E]
    #: ``{(state, event): new state}``, read-only, in the order given (the diagram's
    #: order). A pair that is absent is refused.
    transitions: Mapping[tuple[S, E], S]
    #: Each event in the past tense, for messages: ``"approved"``, ``"withdrawn"``.
    past: Mapping[E, str] = attrs.field(repr=False)
    #: The state(s) a new aggregate starts in.
    initial: tuple[S, ...]
    #: The diagram's label on the arrow into an initial state (how it begins), if any.
    entry_labels: Mapping[S, str] = attrs.field(factory=dict, repr=False)
    #: The stable code of a refusal; ``{event}`` in it becomes the event's value. By
    #: default ``"<name>.invalid_transition"`` (spaces as underscores).
    code: str = attrs.field()
    #: A sentence appended to every refusal, saying what to do: ``"Reload it ..."``.
    advice: str = attrs.field(default="", repr=False)
    #: The states nothing leaves (derived from the table).
    terminal: frozenset[S] = attrs.field(init=False, repr=False)
    _outgoing: Mapping[S, tuple[E, ...]] = attrs.field(init=False, repr=False)

    @code.default
    def _default_code(self) -> str:
        return f"{self.name.replace(' ', '_')}.invalid_transition"

    def __attrs_post_init__(self) -> None:
        # Read-only copies, in the order given (the diagram keeps it): nothing a caller
        # still holds can change the machine.
        freeze = object.__setattr__
        freeze(self, "transitions", MappingProxyType(dict(self.transitions)))
        freeze(self, "past", MappingProxyType(dict(self.past)))
        freeze(self, "entry_labels", MappingProxyType(dict(self.entry_labels)))
        freeze(self, "initial", tuple(self.initial))
        problems = self._problems()
        if problems:
            raise _invalid(self.name, problems)
        outgoing: dict[S, list[E]] = {state: [] for state in self.states}
        for source, event in self.transitions:
            outgoing[source].append(event)
        freeze(self, "_outgoing", MappingProxyType({s: tuple(e) for s, e in outgoing.items()}))
        freeze(self, "terminal", frozenset(s for s, events in outgoing.items() if not events))

    def _problems(self) -> list[str]:
        states, events = self.states, self.events
        problems: list[str] = []
        for (source, event), target in self.transitions.items():
            if not isinstance(source, states) or not isinstance(target, states):
                problems.append(f"the row {(source, event)!r} -> {target!r} has a foreign state")
            if not isinstance(event, events):
                problems.append(f"the row {(source, event)!r} has a foreign event")
        missing = [event.value for event in events if not self.past.get(event)]
        if missing:
            problems.append(f"events without a past tense: {missing}")
        if not self.initial:
            problems.append("no initial state")
        if any(not isinstance(state, states) for state in self.initial):
            problems.append(f"an initial state is not {states.__name__}: {self.initial!r}")
        if any(state not in self.initial for state in self.entry_labels):
            problems.append("an entry label is for a state that is not initial")
        if not self.name or not self.rule or not self.code:
            problems.append("the name, rule and code cannot be empty")
        return problems

    @classmethod
    def from_table(
        cls,
        states: type[S],
        events: type[E],
        table: str,
        *,
        entry_labels: Mapping[S, str] | None = None,
        code: str | None = None,
        advice: str = "",
    ) -> StateMachine[S, E]:
        """A machine written as its table, one transition a line, as a person reads it::

            connection (CO-6), starts pending
            pending   approve   -> approved   : approved
            approved  remove    -> removed    : removed

        The first line names the aggregate, the rule and the initial state(s) (several
        separated by ``or``); each further line is ``state event -> new state : the event
        in the past tense``, states and events by their values. An event on several lines
        says its past tense the same way each time. A table that does not read so, or
        names a value its enums lack, is ``machine.invalid``.
        """
        lines = [line.strip() for line in table.strip().splitlines() if line.strip()]
        problems: list[str] = []
        header = _HEADER.fullmatch(lines[0]) if lines else None
        if header is None:
            raise _invalid("its table", ["the first line reads 'name (RULE-n), starts state'"])
        transitions: dict[tuple[S, E], S] = {}
        past: dict[E, str] = {}
        for line in lines[1:]:
            row = _ROW.fullmatch(line)
            if row is None:
                problems.append(f"the line {line!r} is not 'state event -> state : past'")
                continue
            try:
                source, event = states(row["source"]), events(row["event"])
                target = states(row["target"])
            except ValueError as exc:
                problems.append(f"the line {line!r} names an unknown value ({exc})")
                continue
            if past.setdefault(event, row["past"]) != row["past"]:
                problems.append(f"{event.value!r} has two past tenses")
            transitions[(source, event)] = target
        try:
            initial = tuple(states(value) for value in header["initial"].split(" or "))
        except ValueError as exc:
            problems.append(f"the initial state is unknown ({exc})")
            initial = ()
        if problems:
            raise _invalid(header["name"], problems)
        return cls(
            name=header["name"],
            rule=header["rule"],
            states=states,
            events=events,
            transitions=transitions,
            past=past,
            initial=initial,
            entry_labels=entry_labels or {},
            advice=advice,
            **({"code": code} if code is not None else {}),
        )

    # -- asking ----------------------------------------------------------------------------

    def next(self, state: S, event: E, /, **fields: object) -> S:
        """The state after *event* in *state*, or the machine's
        :class:`~enrollkit.errors.InvalidTransitionError` (:meth:`refusal`) when the table
        has no such row. *fields* (the aggregate's id) join the error's fields."""
        try:
            return self.transitions[(state, event)]
        except KeyError:
            raise self._refusal(state, event, None, fields) from None

    def allows(self, state: S, event: E, /) -> bool:
        """Whether the table has a row for *event* in *state*."""
        return (state, event) in self.transitions

    def events_from(self, state: S, /) -> tuple[E, ...]:
        """The events *state* allows, in table order (none for a terminal state)."""
        return self._outgoing.get(state, ())

    def refusal(
        self, state: S, event: E, /, *, message: str | None = None, **fields: object
    ) -> InvalidTransitionError:
        """The error refusing *event* in *state*: the machine's stable code, the fields
        ``state`` and ``event`` (values) plus *fields*, and a message naming the state
        (its ``label`` when the enum has one) and the event in the past tense, citing the
        rule. An aggregate with a richer explanation passes it as *message*."""
        return self._refusal(state, event, message, fields)

    def _refusal(
        self, state: S, event: E, message: str | None, fields: Mapping[str, object]
    ) -> InvalidTransitionError:
        if message is None:
            message = (
                f"This {self.name} is {_label(state)}; it cannot be "
                f"{self.past.get(event, str(event.value))} ({self.rule})."
            )
            if self.advice:
                message = f"{message} {self.advice}"
        return InvalidTransitionError(
            self.code.replace(_EVENT_PLACEHOLDER, str(event.value)),
            message,
            **{"state": state.value, "event": event.value, **fields},
        )

    def mermaid(self) -> str:
        """The machine as a Mermaid ``stateDiagram-v2``: an entry arrow per initial state,
        one arrow per row of the table (in its order) labelled with the event, then an
        exit arrow per terminal state (in the enum's order). The docs show exactly this."""
        lines = ["stateDiagram-v2"]
        for state in self.initial:
            label = self.entry_labels.get(state)
            lines.append(f"    [*] --> {state.value}" + (f": {label}" if label else ""))
        lines.extend(
            f"    {source.value} --> {target.value}: {event.value}"
            for (source, event), target in self.transitions.items()
        )
        lines.extend(
            f"    {state.value} --> [*]" for state in self.states if state in self.terminal
        )
        return "\n".join(lines)
