"""Domain events and the hash-chained, append-only audit log (Rule AU-1).

Every state change emits a :class:`DomainEvent`. A unit of work appends its
events to the audit log when it commits; each :class:`AuditEntry` carries the
hash of the previous entry, so :func:`verify_chain` detects any edited,
removed, inserted or reordered entry and names the first broken one.

Without a key an entry's hash is the SHA-256 of its canonical JSON. Anyone who
can write the database can then edit an entry and recompute every later hash;
with a host-held *key* (bytes, at least :data:`MIN_AUDIT_KEY_BYTES`) the hash
is an HMAC-SHA-256 over the same bytes, which nobody without the key can
recompute (AU-1, amended). A chain verifies only with the key it was written
with: a keyed chain checked without its key (or with another one) is reported
broken at its first entry, and so is an unkeyed chain checked with a key.

A :class:`ChainHead` exported earlier (an *anchor*) is checked with
``verify_chain(..., anchor=head)``: the log must still hold that entry with
that hash, so a truncated or rebuilt log is caught even without a key.

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
>>> key = bytes(range(32))  # a host keeps its key out of the database
>>> keyed = chain(events, key=key)
>>> verify_chain(keyed, key=key).ok, verify_chain(keyed).ok
(True, False)
>>> anchor = ChainHead(count=1, last_hash=keyed[0].hash)  # exported after the first entry
>>> verify_chain(keyed, key=key, anchor=anchor).ok
True

Secrets never enter an event: :class:`DomainEvent` refuses data keys that
name one (``password``, ``pin``, ``one_time_code``, ...), so a careless
``data={"pin": pin}`` fails loudly in the first test that runs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol, TypeAlias

import attrs

from enrollkit.clock import ensure_utc
from enrollkit.errors import ValidationError

__all__ = [
    "GENESIS_HASH",
    "MIN_AUDIT_KEY_BYTES",
    "SECRET_KEYS",
    "AuditEntry",
    "AuditLog",
    "ChainHead",
    "ChainVerification",
    "DomainEvent",
    "JSONValue",
    "chain",
    "check_audit_key",
    "entry_hash",
    "verify_chain",
]

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

#: The ``prev_hash`` of the first entry of every chain.
GENESIS_HASH: Final = "0" * 64

#: The shortest audit key accepted: 32 bytes, the output size of SHA-256 (RFC 2104).
MIN_AUDIT_KEY_BYTES: Final = 32

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
    """What an entry's hash covers: ``json.dumps`` of ``{seq, prev, name, subject, actor,
    at, data}`` with sorted keys, no spaces, ASCII (:func:`_canonical_text` builds the
    same text field by field)."""
    return _canonical_text(seq, event, prev_hash, event.at.isoformat()).encode("ascii")


#: Strings as ``json.dumps(..., ensure_ascii=True)`` writes them.
_json_string: Final = json.encoder.encode_basestring_ascii
#: Event data as ``json.dumps`` with the canonical options writes it inside the document.
_data_encoder: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)


def _canonical_text(seq: int, event: DomainEvent, prev_hash: str, at: str) -> str:
    """The canonical JSON text of an entry, its keys in sorted order (actor, at, data,
    name, prev, seq, subject), each value written as ``json.dumps`` writes it; *at* is
    ``event.at.isoformat()``."""
    actor = event.actor
    if (
        type(event.name) is not str
        or type(event.subject) is not str
        or not (actor is None or type(actor) is str)
    ):  # the fields typed otherwise than declared: json.dumps itself
        document = {
            "seq": seq,
            "prev": prev_hash,
            "name": event.name,
            "subject": event.subject,
            "actor": actor,
            "at": at,
            "data": event.data,
        }
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    return (
        '{"actor":'
        + ("null" if actor is None else _json_string(actor))
        + ',"at":'
        + _json_string(at)
        + ',"data":'
        + _data_encoder.encode(event.data)
        + ',"name":'
        + _json_string(event.name)
        + ',"prev":'
        + _json_string(prev_hash)
        + ',"seq":'
        + int.__repr__(seq)
        + ',"subject":'
        + _json_string(event.subject)
        + "}"
    )


def check_audit_key(key: object) -> bytes | None:
    """Return *key* as bytes (``None`` stays ``None``), or refuse it with a ValidationError.

    The key is never placed in the error: only its type or its length.
    """
    if key is None:
        return None
    if not isinstance(key, bytes | bytearray):
        raise ValidationError(
            "audit.key_type",
            f"The audit key is bytes (at least {MIN_AUDIT_KEY_BYTES}); got a "
            f"{type(key).__name__}. Read it as bytes, e.g. bytes.fromhex(text).",
        )
    if len(key) < MIN_AUDIT_KEY_BYTES:
        raise ValidationError(
            "audit.key_too_short",
            f"The audit key has {len(key)} bytes; an HMAC-SHA-256 key needs at least "
            f"{MIN_AUDIT_KEY_BYTES} random bytes (secrets.token_bytes({MIN_AUDIT_KEY_BYTES})).",
            length=len(key),
            minimum=MIN_AUDIT_KEY_BYTES,
        )
    return bytes(key)


def _digest(payload: bytes, key: bytes | None) -> str:
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.digest(key, payload, "sha256").hex()


def _same(stored: object, expected: str) -> bool:
    """Compare two digests in constant time (a stored value of any shape is just unequal)."""
    if not isinstance(stored, str):
        return False
    return hmac.compare_digest(
        stored.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def entry_hash(seq: int, event: DomainEvent, prev_hash: str, *, key: bytes | None = None) -> str:
    """The hex digest of an entry's canonical JSON (content and predecessor's hash):
    SHA-256 without *key*, HMAC-SHA-256 with it (AU-1)."""
    return _digest(_canonical(seq, event, prev_hash), check_audit_key(key))


def chain(
    events: Iterable[DomainEvent], *, after: ChainHead | None = None, key: bytes | None = None
) -> list[AuditEntry]:
    """Link *events* into entries continuing the chain whose head is *after*,
    hashed with *key* when given (it must be the key the chain was written with)."""
    key = check_audit_key(key)
    seq = after.count if after else 0
    prev = after.last_hash if after else GENESIS_HASH
    entries: list[AuditEntry] = []
    moment: datetime | None = None
    at = ""
    for event in events:
        if event.at is not moment:  # a unit's events share their moment: written once
            moment = event.at
            at = moment.isoformat()
        digest = _digest(_canonical_text(seq, event, prev, at).encode("ascii"), key)
        entries.append(AuditEntry(seq=seq, event=event, prev_hash=prev, hash=digest))
        prev = digest
        seq += 1
    return entries


def _check_anchor(anchor: object) -> ChainHead:
    if isinstance(anchor, ChainHead):
        count: object = anchor.count
        last_hash: object = anchor.last_hash
        if (
            isinstance(count, int)
            and not isinstance(count, bool)
            and count >= 1
            and isinstance(last_hash, str)
        ):
            return anchor
    raise ValidationError(
        "audit.bad_anchor",
        "An anchor is a ChainHead exported from a log that held at least one entry "
        "(count >= 1, last_hash a hex digest), as audit.head() returns it.",
    )


def _broken(checked: int, index: int, reason: str) -> ChainVerification:
    return ChainVerification(ok=False, checked=checked, first_broken=index, reason=reason)


def verify_chain(
    entries: Sequence[AuditEntry],
    *,
    head: ChainHead | None = None,
    key: bytes | None = None,
    anchor: ChainHead | None = None,
) -> ChainVerification:
    """Check every link of *entries* (from the genesis), given *head* the length, and
    given *anchor* (a head exported earlier) that the log still holds that entry.

    *key* must be the key the chain was written with (``None`` for a plain SHA-256
    chain). Returns the index of the first entry that is not what the chain says it
    should be: its position, its link to the previous entry, or its own hash. A
    removed tail is reported at the index of the first missing entry; an anchor the
    log no longer matches, at the anchored entry (or the first missing one).
    Digests are compared in constant time.
    """
    key = check_audit_key(key)
    if anchor is not None:
        anchor = _check_anchor(anchor)
    prev = GENESIS_HASH
    for index, entry in enumerate(entries):
        if entry.seq != index:
            return _broken(
                index,
                index,
                f"entry {index} says it is entry {entry.seq}: an entry was removed, "
                "inserted or moved here",
            )
        if not _same(entry.prev_hash, prev):
            return _broken(
                index,
                index,
                f"entry {index} does not link to entry {index - 1}: "
                "the entry before it was changed, removed or replaced",
            )
        if not _same(entry.hash, _digest(_canonical(entry.seq, entry.event, prev), key)):
            how = (
                "its HMAC does not match the audit key: it was edited after it was "
                "written, or the log was written with another key or without one"
                if key is not None
                else "its SHA-256 does not match: it was edited after it was written, "
                "or the log is keyed and must be verified with its audit key"
            )
            return _broken(index, index, f"entry {index} is not as written: {how}")
        prev = entry.hash
    if head is not None and head.count != len(entries):
        return _broken(
            len(entries),
            min(head.count, len(entries)),
            f"the log holds {len(entries)} entries but its head records {head.count}: "
            "entries were removed from or added to the end",
        )
    if head is not None and not _same(head.last_hash, prev):
        return _broken(
            len(entries),
            len(entries),
            "the head's last hash is not the last entry's hash: "
            "the last entry was replaced, or the head was edited",
        )
    if anchor is not None:
        if anchor.count > len(entries):
            return _broken(
                len(entries),
                len(entries),
                f"the anchor records {anchor.count} entries but the log holds only "
                f"{len(entries)}: the log was truncated since the anchor was taken "
                "(or the anchor is not from this log)",
            )
        anchored = anchor.count - 1
        if not _same(entries[anchored].hash, anchor.last_hash):
            return _broken(
                len(entries),
                anchored,
                f"entry {anchored} is not the entry the anchor recorded (another hash): "
                "the log was rebuilt since the anchor was taken (or the anchor is not "
                "from this log)",
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

    def verify(self, *, anchor: ChainHead | None = None) -> ChainVerification:
        """Verify the whole committed chain against the stored head, with the storage's
        audit key, and, given *anchor* (a head exported earlier), that the log still
        holds that entry with that hash (AU-1)."""
        ...
