"""The in-memory storage adapter: fast, thread-safe, process-local.

For tests, demos and hosts that keep state elsewhere. It keeps the same
contract as the SQLite and PostgreSQL adapters: units of work commit all or
nothing (ST-1), saves are versioned (ST-2), unique indexes hold, the audit
chain is appended at commit (AU-1).

Aggregates are frozen attrs objects, so the adapter stores them as they
are: nothing a caller holds can change what is stored.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar, cast

import attrs

from enrollkit.adapters._common import UnitOfWorkLifecycle, merge_range
from enrollkit.audit import (
    AuditEntry,
    ChainHead,
    ChainVerification,
    DomainEvent,
    chain,
    check_audit_key,
)
from enrollkit.audit import verify_chain as _verify_chain
from enrollkit.errors import StorageError
from enrollkit.storage import (
    Aggregate,
    Collection,
    Index,
    Repository,
    duplicate_error,
    missing_error,
    stale_version_error,
    unique_error,
)

__all__ = ["MemoryAuditLog", "MemoryStorage", "MemoryUnitOfWork"]

A = TypeVar("A", bound=Aggregate)


def _keys(index: Index[Any], obj: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(index.keys(obj)))


#: Entries changed in one ordered index by one commit above which it is rebuilt once.
_REBUILD_AT = 128


class _IndexStore:
    """Committed entries of one index: key -> id or set of ids; sorted pairs when ordered."""

    __slots__ = ("by_key", "pairs")

    def __init__(self, *, ordered: bool) -> None:
        self.by_key: dict[str, str | set[str]] = {}
        self.pairs: list[tuple[str, str]] | None = [] if ordered else None

    def change(self, removed: list[tuple[str, str]], added: list[tuple[str, str]]) -> None:
        """Remove then add (key, id) entries; large batches rebuild the ordered pairs once
        (a commit expiring 30k deadlines must not shift a 1M-entry list 30k times; a
        shift is a fast memory move, a rebuild a Python-speed pass: the break-even is
        about a hundred entries whatever the index size)."""
        pairs = self.pairs
        small = pairs is None or len(removed) + len(added) <= _REBUILD_AT
        for key, obj_id in removed:
            self.remove(key, obj_id, ordered=small)
        for key, obj_id in added:
            self.add(key, obj_id, ordered=small)
        if small or pairs is None:
            return
        if removed:
            gone = set(removed)
            pairs = [pair for pair in pairs if pair not in gone]
        pairs.extend(added)
        pairs.sort()  # two sorted runs: a linear merge
        self.pairs = pairs

    def add(self, key: str, obj_id: str, *, ordered: bool = True) -> None:
        current = self.by_key.get(key)
        if current is None:
            self.by_key[key] = obj_id
        elif isinstance(current, str):
            if current != obj_id:
                self.by_key[key] = {current, obj_id}
        else:
            current.add(obj_id)
        if ordered and self.pairs is not None:
            bisect.insort(self.pairs, (key, obj_id))

    def remove(self, key: str, obj_id: str, *, ordered: bool = True) -> None:
        current = self.by_key.get(key)
        if isinstance(current, str):
            if current == obj_id:
                del self.by_key[key]
        elif current is not None:
            current.discard(obj_id)
            if len(current) == 1:
                self.by_key[key] = next(iter(current))
            elif not current:
                del self.by_key[key]
        if ordered and self.pairs is not None:
            position = bisect.bisect_left(self.pairs, (key, obj_id))
            if position < len(self.pairs) and self.pairs[position] == (key, obj_id):
                del self.pairs[position]

    def ids(self, key: str) -> Iterable[str]:
        current = self.by_key.get(key)
        if current is None:
            return ()
        if isinstance(current, str):
            return (current,)
        return current

    def range(self, start: str | None, stop: str | None) -> list[tuple[str, str]]:
        assert self.pairs is not None
        low = 0 if start is None else bisect.bisect_left(self.pairs, (start, ""))
        high = len(self.pairs) if stop is None else bisect.bisect_left(self.pairs, (stop, ""))
        return self.pairs[low:high]


class MemoryAuditLog:
    """The committed audit chain of a :class:`MemoryStorage`."""

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage

    def head(self) -> ChainHead | None:
        """Return the chain's head, or ``None`` while empty."""
        return self._storage._head

    def entries(self, *, start: int = 0, stop: int | None = None) -> Sequence[AuditEntry]:
        """Return entries ``start <= seq < stop``."""
        with self._storage._lock:
            return tuple(self._storage._entries[start:stop])

    def for_subject(self, subject: str) -> Sequence[AuditEntry]:
        """Return the entries about *subject*, in order."""
        with self._storage._lock:
            entries = self._storage._entries
            return tuple(entries[i] for i in self._storage._by_subject.get(subject, ()))

    def verify(self, *, anchor: ChainHead | None = None) -> ChainVerification:
        """Verify the chain and its head with the storage's audit key and, given
        *anchor*, that the log still holds the anchored entry (AU-1)."""
        storage = self._storage
        with storage._lock:
            return _verify_chain(
                storage._entries, head=storage._head, key=storage._audit_key, anchor=anchor
            )


class MemoryStorage:
    """Aggregates and the audit chain in this process's memory.

    ``audit_key`` (bytes, at least 32) keys the audit chain with HMAC-SHA-256
    (AU-1); without it the chain is plain SHA-256.

    >>> storage = MemoryStorage()
    >>> storage.audit.verify().ok
    True
    """

    def __init__(self, *, audit_key: bytes | None = None) -> None:
        self._audit_key = check_audit_key(audit_key)
        self._lock = threading.RLock()
        self._collections: dict[str, Collection[Any]] = {}
        self._data: dict[str, dict[str, Any]] = {}
        self._indexes: dict[tuple[str, str], _IndexStore] = {}
        self._entries: list[AuditEntry] = []
        self._by_subject: dict[str, list[int]] = {}
        self._head: ChainHead | None = None
        self._audit = MemoryAuditLog(self)
        self._closed = False

    def __repr__(self) -> str:
        counts = {name: len(rows) for name, rows in self._data.items()}
        keyed = ", keyed audit" if self._audit_key is not None else ""
        return f"MemoryStorage({counts}, audit_entries={len(self._entries)}{keyed})"

    @property
    def audit(self) -> MemoryAuditLog:
        """The committed audit chain."""
        return self._audit

    def unit_of_work(self) -> MemoryUnitOfWork:
        """Return a new unit of work."""
        if self._closed:
            raise StorageError("storage.closed", "This storage was closed; open a new one.")
        return MemoryUnitOfWork(self)

    def close(self) -> None:
        """Mark the storage closed; later units of work are refused."""
        self._closed = True

    # -- internals used by units of work -------------------------------------------------

    def _register(self, collection: Collection[Any]) -> None:
        known = self._collections.get(collection.name)
        if known is collection:
            return
        with self._lock:
            known = self._collections.get(collection.name)
            if known is None:
                self._collections[collection.name] = collection
                self._data[collection.name] = {}
                for index in collection.indexes:
                    self._indexes[(collection.name, index.name)] = _IndexStore(
                        ordered=index.ordered
                    )
            elif known != collection:
                raise StorageError(
                    "storage.collection_mismatch",
                    f"Two different collections are both named {collection.name!r}.",
                    collection=collection.name,
                )

    def _committed(self, collection: Collection[Any], obj_id: str) -> Any:
        return self._data[collection.name].get(obj_id)

    def _apply(
        self,
        writes: dict[tuple[str, str], tuple[Collection[Any], Any, int | None]],
        events: list[DomainEvent],
    ) -> None:
        with self._lock:
            # Validate everything first, then apply: nothing is half-written.
            for (name, obj_id), (_collection, _obj, base) in writes.items():
                stored = self._data[name].get(obj_id)
                stored_version = None if stored is None else stored.version
                if stored_version != base:
                    if base is None:
                        raise duplicate_error(name, obj_id)
                    if stored_version is None:
                        raise missing_error(name, obj_id)
                    raise stale_version_error(name, obj_id, base, stored_version)
            self._check_unique_on_commit(writes)
            changes: dict[tuple[str, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]]
            changes = {}
            for (name, obj_id), (collection, obj, _base) in writes.items():
                rows = self._data[name]
                old = rows.get(obj_id)
                for index in collection.indexes:
                    old_keys = _keys(index, old) if old is not None else ()
                    new_keys = _keys(index, obj)
                    if old_keys == new_keys:
                        continue
                    removed, added = changes.setdefault((name, index.name), ([], []))
                    removed.extend((key, obj_id) for key in old_keys)
                    added.extend((key, obj_id) for key in new_keys)
                rows[obj_id] = obj
            for store_name, (removed, added) in changes.items():
                self._indexes[store_name].change(removed, added)
            if events:
                entries = chain(events, after=self._head, key=self._audit_key)
                for entry in entries:
                    self._by_subject.setdefault(entry.event.subject, []).append(entry.seq)
                self._entries.extend(entries)
                self._head = ChainHead(count=len(self._entries), last_hash=entries[-1].hash)

    def _check_unique_on_commit(
        self, writes: dict[tuple[str, str], tuple[Collection[Any], Any, int | None]]
    ) -> None:
        claimed: dict[tuple[str, str, str], str] = {}
        for (name, obj_id), (collection, obj, _base) in writes.items():
            for index in collection.indexes:
                if not index.unique:
                    continue
                store = self._indexes[(name, index.name)]
                for key in _keys(index, obj):
                    owner = claimed.setdefault((name, index.name, key), obj_id)
                    if owner != obj_id:
                        raise unique_error(name, index.name)
                    for other in store.ids(key):
                        if other != obj_id and (name, other) not in writes:
                            raise unique_error(name, index.name)


class _MemoryRepository(Repository[A]):
    __slots__ = ("_collection", "_uow")

    def __init__(self, uow: MemoryUnitOfWork, collection: Collection[A]) -> None:
        self._uow = uow
        self._collection = collection

    def get(self, obj_id: str) -> A | None:
        uow = self._uow
        uow._check_open()
        written = uow._writes.get((self._collection.name, obj_id))
        if written is not None:
            return cast(A, written[1])
        return cast("A | None", uow._storage._committed(self._collection, obj_id))

    def add(self, obj: A) -> A:
        uow = self._uow
        uow._check_open()
        name = self._collection.name
        _check_type(self._collection, obj)
        if obj.version != 0:
            raise StorageError(
                "storage.add_version",
                f"A new {name} record has version 0; got {obj.version}. Use save() for "
                "a record that was loaded.",
                collection=name,
                id=obj.id,
            )
        if self.get(obj.id) is not None:
            raise duplicate_error(name, obj.id)
        stored = attrs.evolve(cast(Any, obj), version=1)
        self._check_unique(stored)
        uow._writes[(name, obj.id)] = (self._collection, stored, None)
        return cast(A, stored)

    def save(self, obj: A) -> A:
        uow = self._uow
        uow._check_open()
        name = self._collection.name
        _check_type(self._collection, obj)
        key = (name, obj.id)
        written = uow._writes.get(key)
        current = (
            written[1] if written is not None else uow._storage._committed(self._collection, obj.id)
        )
        if current is None:
            raise missing_error(name, obj.id)
        if current.version != obj.version:
            raise stale_version_error(name, obj.id, obj.version, current.version)
        stored = attrs.evolve(cast(Any, obj), version=obj.version + 1)
        self._check_unique(stored)
        base = written[2] if written is not None else current.version
        uow._writes[key] = (self._collection, stored, base)
        return cast(A, stored)

    def _check_unique(self, obj: Any) -> None:
        for index in self._collection.indexes:
            if not index.unique:
                continue
            for key in _keys(index, obj):
                if any(other.id != obj.id for other in self.find(index, key)):
                    raise unique_error(self._collection.name, index.name)

    def _overlay(self) -> list[Any]:
        name = self._collection.name
        return [obj for (coll, _id), (_c, obj, _b) in self._uow._writes.items() if coll == name]

    def find(self, index: Index[A], key: str) -> Sequence[A]:
        uow = self._uow
        uow._check_open()
        storage = uow._storage
        name = self._collection.name
        store = storage._indexes.get((name, index.name))
        if store is None:
            raise self._unknown(index)
        found: dict[str, Any] = {}
        rows = storage._data[name]
        with storage._lock:
            for obj_id in store.ids(key):
                found[obj_id] = rows[obj_id]
        for obj in self._overlay():
            if key in _keys(index, obj):
                found[obj.id] = obj
            else:
                found.pop(obj.id, None)
        return [found[obj_id] for obj_id in sorted(found)]

    def find_range(
        self, index: Index[A], *, start: str | None = None, stop: str | None = None
    ) -> Sequence[A]:
        uow = self._uow
        uow._check_open()
        storage = uow._storage
        name = self._collection.name
        store = storage._indexes.get((name, index.name))
        if store is None:
            raise self._unknown(index)
        if store.pairs is None:
            raise StorageError(
                "storage.unordered_index",
                f"Index {index.name!r} of {name} is not ordered; declare it ordered=True "
                "to query ranges.",
                collection=name,
                index=index.name,
            )
        rows = storage._data[name]
        with storage._lock:
            pairs = [(key, rows[obj_id]) for key, obj_id in store.range(start, stop)]
        return merge_range(pairs, self._overlay(), lambda obj: _keys(index, obj), start, stop)

    def _unknown(self, index: Index[A]) -> StorageError:
        return StorageError(
            "storage.unknown_index",
            f"Collection {self._collection.name!r} has no index {index.name!r}.",
            collection=self._collection.name,
            index=index.name,
        )


def _check_type(collection: Collection[Any], obj: object) -> None:
    if not isinstance(obj, collection.type):
        raise StorageError(
            "storage.wrong_type",
            f"Collection {collection.name!r} stores {collection.type.__name__}; "
            f"got {type(obj).__name__}.",
            collection=collection.name,
        )


class MemoryUnitOfWork(UnitOfWorkLifecycle):
    """A unit of work over :class:`MemoryStorage`: buffered writes, applied at commit."""

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self._writes: dict[tuple[str, str], tuple[Collection[Any], Any, int | None]] = {}
        self._events: list[DomainEvent] = []
        self._state = "new"

    def repository(self, collection: Collection[A]) -> Repository[A]:
        """Return *collection*'s repository bound to this unit of work."""
        self._check_open()
        self._storage._register(collection)
        return _MemoryRepository(self, collection)

    def record(self, *events: DomainEvent) -> None:
        """Queue events for the audit chain."""
        self._check_open()
        for event in events:
            if not isinstance(event, DomainEvent):
                raise StorageError(
                    "storage.not_an_event",
                    f"record() takes DomainEvent objects; got {type(event).__name__}.",
                )
        self._events.extend(events)

    def commit(self) -> None:
        """Apply every write and event, or raise and apply none."""
        self._check_open()
        try:
            self._storage._apply(self._writes, self._events)
        except BaseException:
            self.rollback()
            raise
        self._state = "committed"
        self._writes = {}
        self._events = []

    def rollback(self) -> None:
        """Discard every write and event."""
        self._writes = {}
        self._events = []
        self._state = "rolled back"
