"""The in-memory storage adapter: fast, thread-safe, process-local.

For tests, demos and hosts that keep state elsewhere. It keeps the same
contract as the SQLite and PostgreSQL adapters: units of work commit all or
nothing (ST-1), saves are versioned (ST-2), unique indexes hold, the audit
chain is appended at commit (AU-1), a collection whose declared indexes
change has its index entries rebuilt.

It stands on the adapter kit (:mod:`enrollkit.adapters.kit`): the storage is
the backend of the kit's buffered units of work and keeps only what is
committed. It has no ``begin()``: a unit's :func:`~enrollkit.storage.flush`
leaves its writes where they are, in the unit (one copy, moved into the store at
commit), since memory is where they would go anyway. Aggregates are frozen attrs objects, so the adapter stores them as
they are: nothing a caller holds can change what is stored.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from enrollkit import audit
from enrollkit.adapters import kit
from enrollkit.audit import AuditEntry, ChainHead, ChainVerification, DomainEvent
from enrollkit.errors import StorageError
from enrollkit.storage import (
    Aggregate,
    Collection,
    Index,
    Lookup,
    duplicate_error,
    missing_error,
    stale_version_error,
    unique_error,
)

__all__ = ["MemoryAuditLog", "MemoryStorage"]

A = TypeVar("A", bound=Aggregate)


#: Entries changed in one index by one commit above which each touched key (and the
#: ordered pairs) is rebuilt once instead of changed entry by entry.
_REBUILD_AT = 128
#: The ids under one key are a sorted tuple up to this many, a sorted list above.
_TUPLE_MAX = 8

#: The ids under one key: the id itself, or several in a sorted tuple or list.
_Ids = str | tuple[str, ...] | list[str]


class _IndexStore:
    """Committed entries of one index: key -> its ids; when ordered, every (key, id)
    entry sorted, as two parallel lists of keys and ids.

    The ids under a key take as little memory as their number allows: one id is held as
    itself, a few as a sorted tuple, more as a sorted list (8 bytes an id, where a set
    takes 30 to 100). The ordered entries take two list slots each (16 bytes, where a
    list of (key, id) tuples takes 64). A write into a large list shifts it, a fast
    memory move.
    """

    __slots__ = ("by_key", "ordered_ids", "ordered_keys")

    def __init__(self, *, ordered: bool) -> None:
        self.by_key: dict[str, _Ids] = {}
        self.ordered_keys: list[str] | None = [] if ordered else None  #: None: not ordered
        self.ordered_ids: list[str] = []

    def change(self, removed: list[tuple[str, str]], added: list[tuple[str, str]]) -> None:
        """Remove then add (key, id) entries; large batches rebuild each touched key and the
        ordered pairs once (a commit expiring 30k deadlines must not shift a 1M-entry list
        30k times; a shift is a fast memory move, a rebuild a Python-speed pass: the
        break-even is about a hundred entries whatever the index size)."""
        if len(removed) + len(added) <= _REBUILD_AT:
            for key, obj_id in removed:
                self.remove(key, obj_id)
            for key, obj_id in added:
                self.add(key, obj_id)
            return
        gone: dict[str, set[str]] = {}
        for key, obj_id in removed:
            gone.setdefault(key, set()).add(obj_id)
        new: dict[str, set[str]] = {}
        for key, obj_id in added:
            new.setdefault(key, set()).add(obj_id)
        for key in gone.keys() | new.keys():
            self._merge(key, gone.get(key, set()), new.get(key, set()))
        if self.ordered_keys is None:
            return
        pairs = list(zip(self.ordered_keys, self.ordered_ids, strict=True))
        if removed:
            dropped = set(removed)
            pairs = [pair for pair in pairs if pair not in dropped]
        pairs.extend(added)
        pairs.sort()  # two sorted runs: a linear merge
        self.ordered_keys = [key for key, _ in pairs]
        self.ordered_ids = [obj_id for _, obj_id in pairs]

    def _merge(self, key: str, gone: set[str], new: set[str]) -> None:
        """Remove the ids *gone* from *key*, then add the ids *new*, in one pass (a few into
        a long list: in place, a shift being cheaper than a rebuild)."""
        if isinstance(self.by_key.get(key), list) and len(gone) + len(new) <= _TUPLE_MAX:
            for obj_id in gone:
                self._remove_id(key, obj_id)
            for obj_id in new:
                self._add_id(key, obj_id)
            return
        kept = [obj_id for obj_id in self.ids(key) if obj_id not in gone]
        fresh = sorted(obj_id for obj_id in new if not _holds(kept, obj_id))
        kept.extend(fresh)
        kept.sort()  # two sorted runs: a linear merge
        if not kept:
            self.by_key.pop(key, None)
        elif len(kept) == 1:
            self.by_key[key] = kept[0]
        else:
            self.by_key[key] = tuple(kept) if len(kept) <= _TUPLE_MAX else kept

    def add(self, key: str, obj_id: str) -> None:
        """Add the entry (key, id); adding it again changes nothing."""
        self._add_id(key, obj_id)
        if self.ordered_keys is not None:
            position, found = self._ordered_position(key, obj_id)
            if not found:
                self.ordered_keys.insert(position, key)
                self.ordered_ids.insert(position, obj_id)

    def remove(self, key: str, obj_id: str) -> None:
        """Remove the entry (key, id) if it is there."""
        self._remove_id(key, obj_id)
        if self.ordered_keys is not None:
            position, found = self._ordered_position(key, obj_id)
            if found:
                del self.ordered_keys[position]
                del self.ordered_ids[position]

    def _add_id(self, key: str, obj_id: str) -> None:
        by_key = self.by_key
        current = by_key.get(key)
        if current is None:
            by_key[key] = obj_id
        elif isinstance(current, str):
            if obj_id < current:
                by_key[key] = (obj_id, current)
            elif obj_id != current:
                by_key[key] = (current, obj_id)
        else:
            position = bisect.bisect_left(current, obj_id)
            if position < len(current) and current[position] == obj_id:
                pass
            elif isinstance(current, list):
                current.insert(position, obj_id)
            elif len(current) < _TUPLE_MAX:
                by_key[key] = (*current[:position], obj_id, *current[position:])
            else:
                grown = list(current)
                grown.insert(position, obj_id)
                by_key[key] = grown

    def _remove_id(self, key: str, obj_id: str) -> None:
        by_key = self.by_key
        current = by_key.get(key)
        if isinstance(current, str):
            if current == obj_id:
                del by_key[key]
        elif current is not None:
            position = bisect.bisect_left(current, obj_id)
            if position < len(current) and current[position] == obj_id:
                if len(current) == 2:
                    by_key[key] = current[1 - position]
                elif isinstance(current, list):
                    del current[position]
                else:
                    by_key[key] = current[:position] + current[position + 1 :]

    def _ordered_position(self, key: str, obj_id: str) -> tuple[int, bool]:
        """Where the entry (key, id) is or would go in the ordered entries, and whether it
        is there."""
        keys, ids = self.ordered_keys, self.ordered_ids
        assert keys is not None
        low = bisect.bisect_left(keys, key)
        high = bisect.bisect_right(keys, key, low)
        position = bisect.bisect_left(ids, obj_id, low, high)
        return position, position < high and ids[position] == obj_id

    def ids(self, key: str) -> Iterable[str]:
        """The ids under *key*, sorted."""
        current = self.by_key.get(key)
        if current is None:
            return ()
        if isinstance(current, str):
            return (current,)
        return current

    def range(self, start: str | None, stop: str | None) -> list[tuple[str, str]]:
        """The ordered (key, id) entries with ``start <= key < stop``, by key then id."""
        keys, ids = self.ordered_keys, self.ordered_ids
        assert keys is not None
        low = 0 if start is None else bisect.bisect_left(keys, start)
        high = len(keys) if stop is None else bisect.bisect_left(keys, stop)
        return list(zip(keys[low:high], ids[low:high], strict=True))


def _holds(ids: list[str], obj_id: str) -> bool:
    """Whether the sorted *ids* hold *obj_id*."""
    position = bisect.bisect_left(ids, obj_id)
    return position < len(ids) and ids[position] == obj_id


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
            return audit.verify_chain(
                storage._entries, head=storage._head, key=storage._audit_key, anchor=anchor
            )


class MemoryStorage(kit.BufferedStorage):
    """Aggregates and the audit chain in this process's memory.

    ``audit_key`` (bytes, at least 32) keys the audit chain with HMAC-SHA-256
    (AU-1); without it the chain is plain SHA-256.

    >>> storage = MemoryStorage()
    >>> storage.audit.verify().ok
    True
    """

    def __init__(self, *, audit_key: bytes | None = None) -> None:
        self._audit_key = audit.check_audit_key(audit_key)
        self._lock = threading.RLock()
        self._collections: dict[str, Collection[Any]] = {}
        self._data: dict[str, dict[str, Any]] = {}
        self._indexes: dict[tuple[str, str], _IndexStore] = {}
        self._entries: list[AuditEntry] = []
        self._by_subject: dict[str, list[int]] = {}
        self._head: ChainHead | None = None
        self._audit = MemoryAuditLog(self)
        self._memory_reader: _MemoryReader | None = None
        self._closed = False
        #: Counts the changes to committed state (commits, rebuilt indexes): a reader's
        #: ``committed_version``, so answers remembered at one count are known current.
        self._version = 0

    def __repr__(self) -> str:
        counts = {name: len(rows) for name, rows in self._data.items()}
        keyed = ", keyed audit" if self._audit_key is not None else ""
        return f"MemoryStorage({counts}, audit_entries={len(self._entries)}{keyed})"

    @property
    def audit(self) -> MemoryAuditLog:
        """The committed audit chain."""
        return self._audit

    # -- the backend of the buffered units ---------------------------------------------------

    #: Memory holds any text: readers skip the per-key check.
    holds_any_text = True

    def storable(self, text: str) -> bool:
        """Memory holds any text."""
        return True

    def register(self, collection: Collection[Any]) -> None:
        """Know *collection*; rebuild its index entries when its declared indexes changed
        (index evolution)."""
        known = self._collections.get(collection.name)
        if known is collection:
            return
        with self._lock:
            known = self._collections.get(collection.name)
            if known is not None and known.type is not collection.type:
                raise StorageError(
                    "storage.collection_mismatch",
                    f"Two collections of different types are both named {collection.name!r}.",
                    collection=collection.name,
                )
            rows = self._data.setdefault(collection.name, {})
            if known is None or known != collection:
                self._rebuild(collection, rows)
            self._collections[collection.name] = collection

    def _rebuild(self, collection: Collection[Any], rows: dict[str, Any]) -> None:
        """Build every index of *collection* over *rows*, then swap them in: a refused
        build (a unique index over duplicates) leaves the old entries as they were."""
        name = collection.name
        built: dict[tuple[str, str], _IndexStore] = {}
        for index in collection.indexes:
            store = _IndexStore(ordered=index.ordered)
            entries = [
                (key, obj_id) for obj_id, obj in rows.items() for key in kit.index_keys(index, obj)
            ]
            if index.unique and len({key for key, _ in entries}) != len(entries):
                raise unique_error(name, index.name)
            store.change([], entries)
            built[(name, index.name)] = store
        for stale in [key for key in self._indexes if key[0] == name]:
            del self._indexes[stale]
        self._indexes.update(built)
        self._version += 1

    def load(self, collection: Collection[Any], obj_id: str) -> Any | None:
        """The committed aggregate, or None."""
        return self._data[collection.name].get(obj_id)

    def find(self, collection: Collection[Any], index: Index[Any], key: str) -> list[Any]:
        """Committed aggregates holding *key* in *index*, ordered by id."""
        rows = self._data[collection.name]
        with self._lock:  # the ids are kept sorted
            return [
                rows[obj_id] for obj_id in self._indexes[(collection.name, index.name)].ids(key)
            ]

    def find_ids(self, collection: Collection[Any], index: Index[Any], key: str) -> list[str]:
        """The ids of the committed aggregates holding *key* in *index*, ordered."""
        with self._lock:
            return list(self._indexes[(collection.name, index.name)].ids(key))

    def reader(self) -> _MemoryReader:
        """The committed state, read without a unit of work: dictionary lookups under the
        storage's lock (the read path of access decisions)."""
        reader = self._memory_reader
        if reader is None:
            reader = self._memory_reader = _MemoryReader(self)
        return reader

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """Every lookup answered under the storage's lock: one consistent read."""
        return self.reader().fetch(lookups)

    def find_range(
        self, collection: Collection[Any], index: Index[Any], start: str | None, stop: str | None
    ) -> list[tuple[str, Any]]:
        """Committed ``(key, aggregate)`` pairs with ``start <= key < stop``, by key then id."""
        rows = self._data[collection.name]
        with self._lock:
            pairs = self._indexes[(collection.name, index.name)].range(start, stop)
            return [(key, rows[obj_id]) for key, obj_id in pairs]

    def apply(self, writes: kit.Writes, events: Sequence[DomainEvent]) -> None:
        """Apply every write and append every event, or raise and apply none."""
        with self._lock:
            # Validate everything first, then apply: nothing is half-written.
            for (name, obj_id), (_collection, _obj, base, _keys) in writes.items():
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
            for (name, obj_id), (_collection, obj, _base, keys) in writes.items():
                rows = self._data[name]
                old = rows.get(obj_id)
                for index, new_keys in keys:
                    old_keys = kit.index_keys(index, old) if old is not None else ()
                    if old_keys == new_keys:
                        continue
                    removed, added = changes.setdefault((name, index.name), ([], []))
                    removed.extend((key, obj_id) for key in old_keys)
                    added.extend((key, obj_id) for key in new_keys)
                rows[obj_id] = obj
            for store_name, (removed, added) in changes.items():
                self._indexes[store_name].change(removed, added)
            if events:
                entries = audit.chain(events, after=self._head, key=self._audit_key)
                for entry in entries:
                    self._by_subject.setdefault(entry.event.subject, []).append(entry.seq)
                self._entries.extend(entries)
                self._head = ChainHead(count=len(self._entries), last_hash=entries[-1].hash)
            if writes:
                self._version += 1  # last: a reader seeing it sees every write

    def _check_unique_on_commit(self, writes: kit.Writes) -> None:
        claimed: dict[tuple[str, str, str], str] = {}
        for (name, obj_id), (_collection, _obj, _base, keys) in writes.items():
            for index, index_keys_ in keys:
                if not index.unique:
                    continue
                store = self._indexes[(name, index.name)]
                for key in index_keys_:
                    owner = claimed.setdefault((name, index.name, key), obj_id)
                    if owner != obj_id:
                        raise unique_error(name, index.name)
                    for other in store.ids(key):
                        if other != obj_id and (name, other) not in writes:
                            raise unique_error(name, index.name)


class _MemoryReader(kit.CommittedReader):
    """The kit's reader with :meth:`fetch` as plain dictionary lookups: a collection or
    index not seen yet is registered (index evolution) and checked declared first."""

    __slots__ = ("_storage",)

    def __init__(self, storage: MemoryStorage) -> None:
        super().__init__(storage)
        self._storage = storage

    @property
    def committed_version(self) -> int | None:
        """A number that changes whenever committed aggregates change (every commit that
        writes, every index rebuilt), ``None`` once the storage is closed: answers that
        depend only on committed state can be remembered under it."""
        storage = self._storage
        return None if storage._closed else storage._version

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """The committed answer to each lookup, all read under the storage's lock."""
        storage = self._storage
        if storage._closed:
            raise kit.closed_error()
        data, indexes, known = storage._data, storage._indexes, storage._collections
        answers: list[Sequence[Any]] = []
        with storage._lock:
            for collection, index, key in lookups:
                name = collection.name
                if known.get(name) is not collection:
                    storage.register(collection)
                rows = data[name]
                if index is None:
                    obj = rows.get(key)
                    answers.append(() if obj is None else (obj,))
                    continue
                store = indexes.get((name, index.name))
                if store is None:
                    collection.declares(index)  # raises storage.unknown_index
                    raise AssertionError(index.name)  # pragma: no cover - declared, not built
                ids = store.by_key.get(key)
                if ids is None:
                    answers.append(())
                elif isinstance(ids, str):
                    answers.append((rows[ids],))
                else:
                    answers.append([rows[i] for i in ids])  # kept in id order
        return answers
