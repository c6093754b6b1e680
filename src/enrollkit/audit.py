"""Domain events and the hash-chained, append-only audit log (Rule AU-1).

Every state change emits a :class:`DomainEvent`. A unit of work appends its
events to the audit log when it commits; each :class:`AuditEntry` carries the
SHA-256 of the previous entry, so :func:`verify_chain` detects any edited,
removed, inserted or reordered entry and names the first broken one.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> events = [DomainEvent("account.registered", subject="u1", actor="u1", at=at),
...           DomainEvent("account.locked", subject="u1", actor=None, at=at, data={"failures": 3})]
>>> entries = chain(events)
>>> verify_chain(entries).ok
True
>>> import attrs
>>> tampered = [entries[0], attrs.evolve(entries[1], event=attrs.evolve(entries[1].event, data={"failures": 1}))]
>>> verify_chain(tampered).first_broken
1

Secrets never enter an event: :class:`DomainEvent` refuses data keys that
name one (``password``, ``pin``, ``one_time_code``, ...), so a careless
``data={"pin": pin}`` fails loudly in the first test that runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol, TypeAlias

import attrs

from enrollkit.clock import ensure_utc
from enrollkit.errors import ValidationError

__all__ = [
    "GENESIS_HASH",
    "SECRET_KEYS",
    "AuditEntry",
    "AuditLog",
    "ChainHead",
    "ChainVerification",
    "DomainEvent",
    "JSONValue",
    "chain",
    "entry_hash",
    "verify_chain",
]

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

#: The ``prev_hash`` of the first entry of every chain.
GENESIS_HASH: Final = "0" * 64

#: Data keys that name a secret; an event carrying one is refused (AC-6, DESIGN habit 8).
SECRET_KEYS: Final = frozenset(
    {
        "password",
        "new_password",
        "old_password",
        "current_password",
        "password_hash",
        "pin",
        "pin_hash",
        "one_time_code",
        "code_hash",
        "otp",
        "answer",
        "answers",
        "security_answer",
        "answer_hash",
        "secret",
        "token",
    }
)


def _check_json(value: object, path: str) -> None:
    if value is None or isinstance(value, str | bool | int | float):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(
                    "event.data_key",
                    f"Event data keys are strings; {path} has the key {key!r}.",
                    path=path,
                )
            if key.lower() in SECRET_KEYS:
                raise ValidationError(
                    "event.secret",
                    f"Event data must never carry a secret; {path}.{key} names one. "
                    "Record that the secret changed, not its value or hash.",
                    path=f"{path}.{key}",
                )
            _check_json(item, f"{path}.{key}")
        return
    raise ValidationError(
        "event.data_type",
        f"Event data is JSON-ready (str, int, float, bool, None, list, dict); "
        f"{path} is a {type(value).__name__}. Convert it first (e.g. str(npi), dt.isoformat()).",
        path=path,
    )


def _validate_data(instance: DomainEvent, _attribute: object, value: Mapping[str, Any]) -> None:
    _check_json(dict(value), "$")


def _utc(value: datetime) -> datetime:
    return ensure_utc(value, field="at")


@attrs.frozen
class DomainEvent:
    """Something that happened: ``name`` (``"connection.approved"``), the ``subject``
    aggregate's id, the ``actor`` (a user id, or ``None`` for the system), the time,
    and JSON-ready ``data`` with no secret in it."""

    name: str = attrs.field(validator=attrs.validators.min_len(1))
    subject: str = attrs.field(kw_only=True)
    actor: str | None = attrs.field(kw_only=True)
    at: datetime = attrs.field(kw_only=True, converter=_utc)
    data: Mapping[str, Any] = attrs.field(
        kw_only=True, factory=dict, validator=_validate_data, hash=False
    )


@attrs.frozen
class AuditEntry:
    """One link of the chain: the event, its position, the previous hash and its own hash."""

    seq: int
    event: DomainEvent
    prev_hash: str
    hash: str


@attrs.frozen
class ChainHead:
    """What a verifier needs to detect truncation: how many entries, and the last hash."""

    count: int
    last_hash: str


@attrs.frozen
class ChainVerification:
    """The verdict of :func:`verify_chain`: ``ok``, else the first broken index and why."""

    ok: bool
    checked: int
    first_broken: int | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok


def _canonical(seq: int, event: DomainEvent, prev_hash: str) -> bytes:
    document = {
        "seq": seq,
        "prev": prev_hash,
        "name": event.name,
        "subject": event.subject,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "data": event.data,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def entry_hash(seq: int, event: DomainEvent, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's content and its predecessor's hash."""
    return hashlib.sha256(_canonical(seq, event, prev_hash)).hexdigest()


def chain(events: Iterable[DomainEvent], *, after: ChainHead | None = None) -> list[AuditEntry]:
    """Link *events* into entries continuing the chain whose head is *after*."""
    seq = after.count if after else 0
    prev = after.last_hash if after else GENESIS_HASH
    entries: list[AuditEntry] = []
    for event in events:
        digest = entry_hash(seq, event, prev)
        entries.append(AuditEntry(seq=seq, event=event, prev_hash=prev, hash=digest))
        prev = digest
        seq += 1
    return entries


def verify_chain(
    entries: Sequence[AuditEntry], *, head: ChainHead | None = None
) -> ChainVerification:
    """Check every link of *entries* (from the genesis) and, given *head*, the length.

    Returns the index of the first entry that is not what the chain says it
    should be: its position, its link to the previous entry, or its own hash.
    A removed tail is reported at the index of the first missing entry.
    """
    prev = GENESIS_HASH
    for index, entry in enumerate(entries):
        if entry.seq != index:
            return ChainVerification(
                ok=False,
                checked=index,
                first_broken=index,
                reason=f"entry {index} says it is entry {entry.seq}: an entry was removed, "
                "inserted or moved here",
            )
        if entry.prev_hash != prev:
            return ChainVerification(
                ok=False,
                checked=index,
                first_broken=index,
                reason=f"entry {index} does not link to entry {index - 1}: "
                "the entry before it was changed, removed or replaced",
            )
        if entry_hash(entry.seq, entry.event, entry.prev_hash) != entry.hash:
            return ChainVerification(
                ok=False,
                checked=index,
                first_broken=index,
                reason=f"entry {index} was edited after it was written: its hash does not match",
            )
        prev = entry.hash
    if head is not None and (head.count != len(entries) or head.last_hash != prev):
        at = min(head.count, len(entries))
        return ChainVerification(
            ok=False,
            checked=len(entries),
            first_broken=at,
            reason=f"the log holds {len(entries)} entries but its head records {head.count}: "
            "entries were removed from or added to the end",
        )
    return ChainVerification(ok=True, checked=len(entries))


class AuditLog(Protocol):
    """Read access to a storage's committed audit chain (writes go through a unit of work)."""

    def head(self) -> ChainHead | None:
        """Return the chain's head, or ``None`` while the log is empty."""
        ...

    def entries(self, *, start: int = 0, stop: int | None = None) -> Sequence[AuditEntry]:
        """Return committed entries ``start <= seq < stop`` in order."""
        ...

    def for_subject(self, subject: str) -> Sequence[AuditEntry]:
        """Return the committed entries whose event's subject is *subject*, in order."""
        ...

    def verify(self) -> ChainVerification:
        """Verify the whole committed chain against the stored head (AU-1)."""
        ...
