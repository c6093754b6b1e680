"""Buffered units of work: the one unit of work every adapter stands on (ST-1, ST-2).

A unit of work reads committed data from its :class:`Backend` ("read
committed": each query sees the latest commit) and buffers its writes in
memory; its reads see its own writes through an overlay. ``commit()`` hands
every write and event to the backend, which applies them atomically:
versioned updates (ST-2), inserts that fail on an existing id, index entries
computed once when the write was buffered, and the audit chain extended after
its head (AU-1). Buffering keeps database write locks short (only the commit
holds them), lets several units be open in one thread, and makes a commit
replayable: a busy or deadlocked commit is retried whole.

A backend is small: ``check_open``, ``storable``, ``register``, ``load``,
``find``, ``find_range``, ``fetch`` (inherited) and ``apply``. Pure reads skip the
unit of work: :meth:`BufferedStorage.reader` reads committed state directly. The in-memory adapter is one; the SQL
adapters get theirs from :mod:`enrollkit.adapters._sqlkit`. Both are public
through :mod:`enrollkit.adapters.kit`.

Flushing (bulk loads in bounded memory): a backend that also has ``begin()``
gives a unit an open write transaction of its own (a :class:`BackendTransaction`).
:meth:`BufferedUnitOfWork.flush` opens it at its first call and writes the
buffered writes into it, checked as a commit checks them, then drops them from
memory; from then on the unit reads through that transaction (its flushed rows
included) and ``commit()`` writes the rest, appends the events and commits it;
a rollback, an error or a crash discards it all (ST-1). A backend without
``begin()`` (the in-memory one) keeps buffering: ``flush()`` changes nothing there.
Optionally a backend (and its transaction) answers ``find_ids`` (the ids holding a
key, without reading the aggregates); otherwise the unit reads them with ``find``.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol, Self, TypeVar, cast

from enrollkit.audit import DomainEvent
from enrollkit.errors import (
    EnrollkitError,
    StorageError,
    ValidationError,
)
from enrollkit.serialization import from_data, to_data
from enrollkit.storage import (
    Aggregate,
    Collection,
    Index,
    Lookup,
    Repository,
    duplicate_error,
    missing_error,
    stale_version_error,
    unique_error,
)
from enrollkit.values import replace

A = TypeVar("A", bound=Aggregate)

#: An aggregate's keys, index by index: ((index, its distinct keys), ...).
Keys = tuple[tuple[Index[Any], tuple[str, ...]], ...]
#: (collection, the object as it will be stored, the stored version it replaces or None,
#: its index keys as computed once when it was buffered).
Write = tuple[Collection[Any], Any, int | None, Keys]
Writes = Mapping[tuple[str, str], Write]
#: (collection name, id) -> the index keys of the stored version an update replaces, as
#: the unit read it (see :class:`RewritesChangedKeys`).
BaseKeys = Mapping[tuple[str, str], Keys]


class BackendReads(Protocol):
    """What a unit of work reads through: a :class:`Backend` answers from committed state,
    a :class:`BackendTransaction` as of itself (its own flushed writes included)."""

    def register(self, collection: Collection[Any]) -> None:
        """Make sure the collection's stored index entries match its declared indexes
        (index evolution: rebuild them when the declared set changed since; inside a
        transaction, done in it)."""
        ...

    def load(self, collection: Collection[Any], obj_id: str) -> Any | None:
        """The aggregate, or None."""
        ...

    def find(self, collection: Collection[Any], index: Index[Any], key: str) -> list[Any]:
        """Aggregates holding *key* in *index*, ordered by id."""
        ...

    def find_range(
        self, collection: Collection[Any], index: Index[Any], start: str | None, stop: str | None
    ) -> list[tuple[str, Any]]:
        """``(key, aggregate)`` pairs with ``start <= key < stop``, by key then id."""
        ...

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """Answers to several lookups in one consistent read (see
        :meth:`enrollkit.storage.Reader.fetch`); the lookups are registered and their ids
        and keys storable. :class:`BufferedStorage` answers them one by one; a SQL
        backend in one statement."""
        ...

    # Optional (looked up with getattr):
    #   find_ids(collection, index, key) -> list[str]: the ids of find(), unread.


class Backend(BackendReads, Protocol):
    """What a store provides to the buffered units of work.

    Every method but :meth:`apply` reads committed data; :meth:`apply` writes a whole
    unit atomically. A backend never sees a half-built unit.
    """

    def check_open(self) -> None:
        """Raise StorageError ``storage.closed`` when the storage was closed."""
        ...

    def storable(self, text: str) -> bool:
        """Whether *text* (an id, an index key, event text) can be stored as is; the unit
        refuses what cannot with ``storage.text`` before anything is written."""
        ...

    def apply(self, writes: Writes, events: Sequence[DomainEvent]) -> None:
        """Apply the writes and append the events in one transaction, or raise and apply none."""
        ...

    # Optional (looked up with getattr, so a backend without it still is one):
    #   begin() -> BackendTransaction | None: a write transaction for a unit to flush
    #     into (None: this backend cannot; the unit keeps buffering).


class BackendTransaction(BackendReads, Protocol):
    """A backend's open write transaction for one unit of work (``Backend.begin()``): the
    unit flushes its writes into it and reads through it until it commits or rolls back.

    Reads answer as the backend's do, but as of this transaction: its own flushed writes
    included. Nothing it writes is visible to others before :meth:`commit`.
    """

    def write(self, writes: Writes) -> None:
        """Write *writes* now, checked as :meth:`Backend.apply` checks them (a stale
        version, an existing id, a taken unique key raise the errors of
        :mod:`enrollkit.storage`); on a refusal the unit rolls back."""
        ...

    def commit(self, writes: Writes, events: Sequence[DomainEvent]) -> None:
        """Write the last *writes*, append the *events* to the audit chain (AU-1) and
        commit; or raise having committed nothing."""
        ...

    def rollback(self) -> None:
        """Discard everything written; harmless after a commit or a failed commit."""
        ...


#: Where a unit of work reads: its backend, or its open transaction once it flushed.
Source = BackendReads


class UnitWrites(dict[tuple[str, str], Write]):
    """The writes of a unit of work as :meth:`Backend.apply` receives them, carrying the
    **base keys** of its updates: ``base_keys[(collection name, id)]`` are the index keys
    of the stored version an update replaces, as the unit read it.

    An optional capability: the units fill ``base_keys`` only for a backend that says
    ``rewrites_changed_keys = True``, which then rewrites only the index entries whose
    keys changed; every other backend gets them empty and can ignore them (a plain
    mapping of writes). The keys are those of the version the update's version check
    (ST-2) requires, so they are the stored entries whenever the update succeeds. An
    update without base keys has all its entries rewritten.
    """

    __slots__ = ("base_keys",)

    def __init__(self) -> None:
        super().__init__()
        self.base_keys: dict[tuple[str, str], Keys] = {}


def base_keys_of(writes: Writes) -> BaseKeys:
    """The base keys *writes* carry (see :class:`UnitWrites`); none for a plain mapping."""
    return getattr(writes, "base_keys", None) or {}


# -- helpers shared by the backends ----------------------------------------------------------


def index_keys(index: Index[Any], obj: Any) -> tuple[str, ...]:
    """The distinct keys of *obj* in *index*, in the order the index gives them."""
    given = index.keys(obj)
    if isinstance(given, list | tuple) and len(given) < 2:
        if not given:  # no key: not indexed
            return ()
        if type(given[0]) is str:  # the usual case, one key: as is
            return (given[0],)
    keys = tuple(dict.fromkeys(given))
    for key in keys:
        if not isinstance(key, str):
            raise ValidationError(
                "storage.index_key",
                f"Index {index.name!r} gave a {type(key).__name__} key; index keys are strings "
                "(use compose_key or time_key).",
                index=index.name,
            )
    return keys


#: ``json.dumps(..., separators=(",", ":"), ensure_ascii=True, allow_nan=False)``, built once.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def encode(obj: Any) -> str:
    """The JSON text stored for an aggregate, through the one converter (ST-4)."""
    try:
        return _ENCODER.encode(to_data(obj))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            "storage.unserializable",
            f"{type(obj).__name__} {getattr(obj, 'id', '?')!r} cannot be stored as JSON: {exc}. "
            "Use field types the converter handles (attrs classes, enums, tuples, datetimes...).",
            type=type(obj).__name__,
        ) from exc


#: The scanner behind ``json.loads`` (the C one where there is one), called directly.
_scan_once: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: str) -> Any:
    """``json.loads(text)``, without its whitespace and prefix checks when *text* is one
    JSON value from its first character to its last (what :func:`encode` writes); any
    other text goes to ``json.loads`` itself, for the same value or the same error."""
    try:
        value, end = _scan_once(text, 0)
    except Exception:  # json.loads below says what is wrong
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def decode(collection: Collection[A], text: str) -> A:
    """The aggregate stored as *text*; unreadable rows are a StorageError."""
    try:
        return from_data(_loads(text), collection.type)
    except (ValueError, EnrollkitError) as exc:
        raise StorageError(
            "storage.corrupt",
            f"A stored {collection.name} record cannot be read back ({exc}). The collection's "
            "type changed incompatibly, or the row was edited; migrate or restore it.",
            collection=collection.name,
        ) from exc


class DecodeCache:
    """Decoded aggregates of one storage, reused while their stored row is unchanged.

    Aggregates are immutable, so the object decoded from a row can be handed out
    again as long as the row is the same: entries are keyed by ``(collection, id,
    version)`` and hold the row's JSON text, which a hit compares with the text the
    database just returned (an identity check, then at worst a memory compare). The
    row itself is still read from the database every time, so a stale or edited row
    is never served from the cache: correctness never depends on it. Bounded (least
    recently used entries go first) and safe to share between threads. Objects a
    commit of this storage wrote are put in too, so they are never decoded at all.
    ``size=0`` turns the cache off.
    """

    __slots__ = ("_entries", "_lock", "hits", "misses", "size")

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValidationError(
                "storage.decode_cache_size",
                f"The decode cache size is a number of aggregates (0 turns it off); got {size!r}.",
            )
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, str, int], tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def decode(self, collection: Collection[A], obj_id: str, version: int, text: str) -> A:
        """The aggregate stored as *text* in row ``(collection, obj_id, version)``."""
        if not self.size:
            return decode(collection, text)
        key = (collection.name, obj_id, version)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == text:
                self._entries.move_to_end(key)
                self.hits += 1
                return cast(A, entry[1])
            self.misses += 1
        obj = decode(collection, text)
        self.put(collection, obj, text)
        return obj

    def put(self, collection: Collection[Any], obj: Any, text: str) -> None:
        """Remember *obj*, stored (or about to be) as *text* at ``obj.version``."""
        if not self.size:
            return
        key = (collection.name, obj.id, obj.version)
        with self._lock:
            self._entries[key] = (text, obj)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


def storable_text(value: str, *, forbids_nul: bool) -> bool:
    """Whether the database can hold *value* as text (UTF-8, and no NUL where forbidden)."""
    if forbids_nul and "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refuse_text(value: str, what: str) -> ValidationError:
    """The error for text the database cannot store."""
    return ValidationError(
        "storage.text",
        f"This storage cannot hold the {what} given (it contains a NUL character or an unpaired "
        "surrogate); remove those characters.",
        what=what,
    )


def closed_error() -> StorageError:
    """The error for using a closed storage."""
    return StorageError("storage.closed", "This storage was closed; open a new one.")


#: A planned row: collection, object, the version it replaces (None: new), its text, keys.
Planned = tuple[Collection[Any], Any, int | None, str, Keys]


def planned_rows(writes: Writes) -> list[Planned]:
    """The writes in a stable order (sorted by collection and id) with their JSON text.

    A stable order means concurrent commits lock rows in the same order, which
    keeps databases with row locks free of deadlocks between them.
    """
    return [
        (collection, obj, base, encode(obj), keys)
        for (_name, _id), (collection, obj, base, keys) in sorted(
            writes.items(), key=lambda kv: kv[0]
        )
    ]


class UnitOfWorkLifecycle:
    """``with``-block handling and the open check of a unit of work (ST-1).

    A unit of work is used once: ``new`` until entered, ``open`` inside its ``with``
    block, then ``committed`` or ``rolled back``. Leaving the block without a commit
    rolls back; using it afterwards is ``storage.uow_closed``, entering it again
    ``storage.uow_reused``. Subclasses implement :meth:`rollback`.
    """

    _state: str = "new"

    def __enter__(self) -> Self:
        if self._state != "new":
            raise StorageError(
                "storage.uow_reused", "A unit of work is used once; start a new one."
            )
        self._state = "open"
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._state == "open":
            self.rollback()

    def _check_open(self) -> None:
        if self._state != "open":
            raise StorageError(
                "storage.uow_closed",
                f"This unit of work is {self._state}; use it inside its 'with' block.",
            )

    def rollback(self) -> None:
        """Discard every write and event (each unit says how)."""
        raise NotImplementedError


def merge_range(
    pairs: list[tuple[str, Any]],
    overlay: Sequence[Any],
    keys_of: Callable[[Any], Iterable[str]],
    start: str | None,
    stop: str | None,
) -> list[A]:
    """Overlay a unit's own writes on committed ``(key, aggregate)`` *pairs* of a range
    ``start <= key < stop``; return the aggregates ordered by key then id, each once,
    at its lowest key in the range (the ordering rule of ``find_range``)."""
    if overlay:
        written = {obj.id for obj in overlay}
        pairs = [pair for pair in pairs if pair[1].id not in written]
        for obj in overlay:
            pairs.extend(
                (key, obj)
                for key in keys_of(obj)
                if (start is None or key >= start) and (stop is None or key < stop)
            )
        pairs.sort(key=lambda pair: (pair[0], pair[1].id))
    seen: set[str] = set()
    result: list[A] = []
    for _key, obj in pairs:
        if obj.id not in seen:
            seen.add(obj.id)
            result.append(obj)
    return result


# -- the unit of work and its repositories ---------------------------------------------------


def holders(held: str | set[str] | None) -> Iterable[str]:
    """The ids of one entry of a unit's own index keys (None, one id, or a set of them)."""
    if held is None:
        return ()
    return (held,) if isinstance(held, str) else held


#: Lookups per :meth:`Backend.fetch` in a bulk read (SQLite allows 500 parts in a compound
#: SELECT, and 32,766 parameters).
FETCH_BATCH: Final = 250


class BufferedRepository(Repository[A]):
    """A repository bound to a :class:`BufferedUnitOfWork`."""

    __slots__ = ("_collection", "_readable", "_uow")

    def __init__(self, uow: BufferedUnitOfWork, collection: Collection[A]) -> None:
        self._uow = uow
        self._collection = collection
        self._readable = uow._backend.storable

    def get(self, obj_id: str) -> A | None:
        """The aggregate as of this unit (its own writes first), or None."""
        uow = self._uow
        uow._check_open()
        written = uow._writes.get((self._collection.name, obj_id))
        if written is not None:
            return cast(A, written[1])
        if not self._readable(obj_id):
            return None
        found = uow._source.load(self._collection, obj_id)
        if found is not None:
            uow._saw(self._collection.name, (found,))
        return cast("A | None", found)

    def add(self, obj: A) -> A:
        """Buffer a new aggregate; it is stored at version 1 when the unit commits."""
        uow = self._uow
        uow._check_open()
        name = self._collection.name
        self._check_new(obj)
        if self.get(obj.id) is not None:
            raise duplicate_error(name, obj.id)
        stored = replace(obj, version=1)
        keys = self._keys(stored)
        self._check_unique(stored, keys)
        uow._buffer(self._collection, stored, None, keys)
        return stored

    def get_many(self, ids: Sequence[str]) -> list[A | None]:
        """Each aggregate of *ids* as of this unit (its own writes first), or None, in
        order: what the unit did not write is read in one :meth:`Backend.fetch` per
        :data:`FETCH_BATCH` ids (see :func:`enrollkit.storage.get_many`)."""
        uow = self._uow
        uow._check_open()
        collection = self._collection
        name = collection.name
        writes = uow._writes
        found: list[A | None] = [None] * len(ids)
        asked: list[int] = []
        for position, obj_id in enumerate(ids):
            written = writes.get((name, obj_id))
            if written is not None:
                found[position] = written[1]
            elif self._readable(obj_id):
                asked.append(position)
        absent: set[str] = set()
        for start in range(0, len(asked), FETCH_BATCH):
            part = asked[start : start + FETCH_BATCH]
            answers = uow._source.fetch([(collection, None, ids[p]) for p in part])
            for position, answer in zip(part, answers, strict=True):
                if answer:
                    obj = answer[0]
                    uow._saw(name, (obj,))
                    found[position] = obj
                else:
                    absent.add(ids[position])
        # Remembered for an add_many() of the same ids next (the usual bulk load): it
        # need not read them again; its flush or commit still refuses one taken since.
        uow._absent = (name, absent)
        return found

    def add_many(self, objs: Iterable[A]) -> list[A]:
        """Buffer new aggregates as :meth:`add` each would, checking their ids and unique
        keys in a few reads (one per :data:`FETCH_BATCH`) instead of one each; if one is
        refused, none is buffered (see :func:`enrollkit.storage.add_many`)."""
        uow = self._uow
        uow._check_open()
        collection = self._collection
        name = collection.name
        objs = list(objs)
        batch_ids: set[str] = set()
        for obj in objs:
            self._check_new(obj)
            if obj.id in batch_ids:
                raise duplicate_error(name, obj.id)
            batch_ids.add(obj.id)
        known_name, known_absent = uow._absent
        writes = uow._writes
        unread = [
            obj.id
            for obj in objs
            if known_name != name or obj.id not in known_absent or (name, obj.id) in writes
        ]
        for obj_id, existing in zip(unread, self.get_many(unread), strict=True):
            if existing is not None:
                raise duplicate_error(name, obj_id)
        stored = [replace(obj, version=1) for obj in objs]
        all_keys = [self._keys(obj) for obj in stored]
        # Unique keys: claimed within the batch, held by the unit's own writes, or by
        # committed aggregates the unit did not rewrite (what find() would answer).
        claims: dict[tuple[str, str], str] = {}
        lookups: list[Lookup] = []
        owners: list[tuple[str, str]] = []  #: (index, claiming id) of each lookup
        for obj, keys in zip(stored, all_keys, strict=True):
            for index, index_keys_ in keys:
                if not index.unique:
                    continue
                own = uow._own_keys.get((name, index.name), {})
                for key in index_keys_:
                    if claims.setdefault((index.name, key), obj.id) != obj.id or any(
                        other != obj.id for other in holders(own.get(key))
                    ):
                        raise unique_error(name, index.name)
                    lookups.append((collection, index, key))
                    owners.append((index.name, obj.id))
        written = uow._written.get(name, set())
        for start in range(0, len(lookups), FETCH_BATCH):
            part = lookups[start : start + FETCH_BATCH]
            claimed = owners[start : start + FETCH_BATCH]
            for (index_name, owner), held in zip(claimed, uow._source.fetch(part), strict=True):
                uow._saw(name, held)
                if any(h.id != owner and h.id not in written for h in held):
                    raise unique_error(name, index_name)
        for obj, keys in zip(stored, all_keys, strict=True):
            uow._buffer(collection, obj, None, keys)
        return stored

    def save(self, obj: A) -> A:
        """Buffer a change of a loaded aggregate (ST-2: refused at once if already stale)."""
        uow = self._uow
        uow._check_open()
        name = self._collection.name
        self._check_type(obj)
        key = (name, obj.id)
        written = uow._writes.get(key)
        if written is not None:
            current: int | None = written[1].version
        else:
            # The version this unit read (the commit checks it is still the stored one,
            # ST-2); else the stored version now. A bulk change (the sweep) reads once.
            current = uow._seen.get(key)
            if current is None:
                loaded = self.get(obj.id)
                current = None if loaded is None else loaded.version
        if current is None:
            raise missing_error(name, obj.id)
        if current != obj.version:
            raise stale_version_error(name, obj.id, obj.version, current)
        stored = replace(obj, version=obj.version + 1)
        keys = self._keys(stored)
        self._check_unique(stored, keys)
        if written is None:
            if uow._read is not None:  # the stored entries, for a backend that diffs them
                ref = uow._read.get(key)
                seen = None if ref is None else ref()
                if seen is not None and seen.version == current:
                    uow._writes.base_keys[key] = tuple(
                        (index, index_keys(index, seen)) for index in self._collection.indexes
                    )
            uow._buffer(self._collection, stored, current, keys)
        else:
            uow._buffer(self._collection, stored, written[2], keys)
        return stored

    def save_many(self, objs: Iterable[A]) -> list[A]:
        """Buffer changes of loaded aggregates as :meth:`save` each in turn would (ST-2),
        reading the versions this unit has not read yet in one :meth:`Backend.fetch` per
        :data:`FETCH_BATCH` ids (see :func:`enrollkit.storage.save_many`)."""
        uow = self._uow
        uow._check_open()
        name = self._collection.name
        objs = list(objs)
        writes, seen = uow._writes, uow._seen
        unread = [o.id for o in objs if (name, o.id) not in writes and (name, o.id) not in seen]
        if unread:
            self.get_many(unread)
        save = self.save
        return [save(obj) for obj in objs]

    def _check_new(self, obj: A) -> None:
        """Refuse what cannot be added: another type, a version other than 0, an id the
        database cannot hold."""
        self._check_type(obj)
        if obj.version != 0:
            name = self._collection.name
            raise StorageError(
                "storage.add_version",
                f"A new {name} record has version 0; got {obj.version}. Use save() for "
                "a record that was loaded.",
                collection=name,
                id=obj.id,
            )
        if not self._readable(obj.id):
            raise refuse_text(obj.id, "id")

    def _check_type(self, obj: object) -> None:
        collection = self._collection
        if not isinstance(obj, collection.type):
            raise StorageError(
                "storage.wrong_type",
                f"Collection {collection.name!r} stores {collection.type.__name__}; "
                f"got {type(obj).__name__}.",
                collection=collection.name,
            )

    def _keys(self, obj: Any) -> Keys:
        """*obj*'s keys in every index, refused if the database cannot hold one."""
        all_keys = tuple((index, index_keys(index, obj)) for index in self._collection.indexes)
        for index, keys in all_keys:
            for key in keys:
                if not self._readable(key):
                    raise refuse_text(key, f"{index.name} key")
        return all_keys

    def _check_unique(self, obj: Any, all_keys: Keys) -> None:
        for index, keys in all_keys:
            if not index.unique:
                continue
            for key in keys:
                if any(other.id != obj.id for other in self.find(index, key)):
                    raise unique_error(self._collection.name, index.name)

    def _index(self, index: Index[A]) -> Index[A]:
        return self._collection.declares(index)

    def _overlay(self) -> list[Any]:
        writes = self._uow._writes
        name = self._collection.name
        return [writes[(name, obj_id)][1] for obj_id in self._uow._written.get(name, ())]

    def find(self, index: Index[A], key: str) -> Sequence[A]:
        """Aggregates holding *key* in *index* as of this unit, ordered by id."""
        uow = self._uow
        uow._check_open()
        declared = self._index(index)
        name = self._collection.name
        found: list[Any] = (
            uow._source.find(self._collection, declared, key) if self._readable(key) else []
        )
        uow._saw(name, found)
        written = uow._written.get(name)
        if not written:
            return found
        # The unit's own writes replace what the database holds for those ids.
        found = [obj for obj in found if obj.id not in written]
        own = holders(uow._own_keys.get((name, declared.name), {}).get(key))
        found.extend(uow._writes[(name, obj_id)][1] for obj_id in own)
        found.sort(key=lambda obj: obj.id)
        return found

    def find_ids(self, index: Index[A], key: str) -> list[str]:
        """The ids :meth:`find` would list, ordered, without reading the aggregates when
        the backend answers ``find_ids`` (see :func:`enrollkit.storage.find_ids`)."""
        uow = self._uow
        uow._check_open()
        declared = self._index(index)
        name = self._collection.name
        ids: list[str] = []
        if self._readable(key):
            source = uow._source
            by_ids = getattr(source, "find_ids", None)
            if by_ids is not None:
                ids = list(by_ids(self._collection, declared, key))
            else:
                ids = [obj.id for obj in source.find(self._collection, declared, key)]
        written = uow._written.get(name)
        if not written:
            return ids
        ids = [obj_id for obj_id in ids if obj_id not in written]
        ids.extend(holders(uow._own_keys.get((name, declared.name), {}).get(key)))
        ids.sort()
        return ids

    def find_range(
        self, index: Index[A], *, start: str | None = None, stop: str | None = None
    ) -> Sequence[A]:
        """Aggregates with a key ``start <= key < stop`` in an ordered index, by key then id."""
        uow = self._uow
        uow._check_open()
        declared = self._index(index)
        name = self._collection.name
        if not declared.ordered:
            raise StorageError(
                "storage.unordered_index",
                f"Index {index.name!r} of {name} is not ordered; declare it ordered=True "
                "to query ranges.",
                collection=name,
                index=index.name,
            )
        for bound in (start, stop):
            if bound is not None and not self._readable(bound):
                raise refuse_text(bound, f"{index.name} range bound")
        pairs = uow._source.find_range(self._collection, declared, start, stop)
        uow._saw(name, (obj for _key, obj in pairs))
        return merge_range(
            pairs, self._overlay(), lambda obj: index_keys(declared, obj), start, stop
        )


class BufferedUnitOfWork(UnitOfWorkLifecycle):
    """A unit of work whose writes wait in memory until :meth:`commit` or :meth:`flush` (ST-1)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        #: Where reads go: the backend, or the open transaction once the unit flushed.
        self._source: Source = backend
        self._transaction: BackendTransaction | None = None
        #: The ids the last get_many() found absent, with their collection's name.
        self._absent: tuple[str, set[str]] = ("", set())
        self._writes = UnitWrites()
        #: For a backend that rewrites only the index entries whose keys changed: (collection,
        #: id) -> the committed aggregate this unit read, while the caller holds it (a weak
        #: reference: a unit reading a million rows keeps none of them alive).
        self._read: dict[tuple[str, str], weakref.ref[Any]] | None = (
            {} if getattr(backend, "rewrites_changed_keys", False) else None
        )
        self._events: list[DomainEvent] = []
        self._state = "new"
        # The unit's own writes, indexed, so its queries overlay them cheaply:
        # collection -> ids written; (collection, index) -> key -> the id holding it, or a
        # set when several do (one id is a bare string: a bulk load keeps no set per key).
        # Each write's own keys are in its Write.
        self._written: dict[str, set[str]] = {}
        self._own_keys: dict[tuple[str, str], dict[str, str | set[str]]] = {}
        #: (collection, id) -> the committed version this unit read
        self._seen: dict[tuple[str, str], int] = {}

    def _saw(self, name: str, found: Iterable[Any]) -> None:
        """Remember the versions of committed aggregates this unit read."""
        read = self._read
        if read is None:
            self._seen.update(((name, obj.id), obj.version) for obj in found)
            return
        seen = self._seen
        for obj in found:
            key = (name, obj.id)
            seen[key] = obj.version
            try:
                read[key] = weakref.ref(obj)
            except TypeError:  # no weak reference to it: its update rewrites every entry
                continue

    def _buffer(self, collection: Collection[Any], obj: Any, base: int | None, keys: Keys) -> None:
        name = collection.name
        ident = (name, obj.id)
        previous = self._writes.get(ident)
        for index, old in previous[3] if previous is not None else ():
            entries = self._own_keys[(name, index.name)]
            for key in old:
                held = entries.get(key)
                if held == obj.id:
                    del entries[key]
                elif isinstance(held, set):
                    held.discard(obj.id)
        for index, new in keys:
            entries = self._own_keys.setdefault((name, index.name), {})
            for key in new:
                held = entries.get(key)
                if held is None:
                    entries[key] = obj.id
                elif isinstance(held, set):
                    held.add(obj.id)
                elif held != obj.id:
                    entries[key] = {held, obj.id}
        self._written.setdefault(name, set()).add(obj.id)
        self._writes[ident] = (collection, obj, base, keys)

    def _clear(self) -> None:
        self._events = []
        self._clear_pending()

    def _clear_pending(self) -> None:
        """Forget the buffered writes and what was read (after a flush or at the end)."""
        self._writes = UnitWrites()
        self._written = {}
        self._own_keys = {}
        self._seen = {}
        self._absent = ("", set())
        if self._read is not None:
            self._read = {}

    def repository(self, collection: Collection[A]) -> Repository[A]:
        """Return *collection*'s repository bound to this unit of work."""
        self._check_open()
        (self._transaction or self._backend).register(collection)
        return BufferedRepository(self, collection)

    def flush(self) -> None:
        """Write the buffered writes into this unit's own database transaction now and
        drop them from memory (see :func:`enrollkit.storage.flush`).

        The first flush opens the transaction (``Backend.begin()``); it stays open, and
        the unit reads through it, until :meth:`commit` commits it or a rollback
        discards it: still all or nothing (ST-1). The writes are checked as a commit
        checks them (ST-2, unique keys); a refusal rolls the unit back and is raised.
        A backend that cannot (no ``begin()``, or it returns None) keeps the writes
        buffered until the commit: then this changes nothing.
        """
        self._check_open()
        transaction = self._transaction
        if transaction is None:
            begin = getattr(self._backend, "begin", None)
            transaction = begin() if begin is not None else None
            if transaction is None:
                return
            self._transaction = self._source = transaction
        if self._writes:
            try:
                transaction.write(self._writes)
            except BaseException:
                self.rollback()
                raise
        # Flushed: the transaction holds them now. Versions read before are read again
        # when saved (through the transaction), so nothing read is kept either.
        self._clear_pending()

    def record(self, *events: DomainEvent) -> None:
        """Queue events for the audit chain (AU-1)."""
        self._check_open()
        storable = self._backend.storable
        for event in events:
            if not isinstance(event, DomainEvent):
                raise StorageError(
                    "storage.not_an_event",
                    f"record() takes DomainEvent objects; got {type(event).__name__}.",
                )
            for what, text in _event_texts(event):
                if not storable(text):
                    raise refuse_text(text, f"event {what}")
        self._events.extend(events)

    def commit(self) -> None:
        """Apply every write and event in one transaction, or raise and apply none."""
        self._check_open()
        try:
            if self._transaction is not None:
                self._transaction.commit(self._writes, self._events)
            elif self._writes or self._events:
                self._backend.apply(self._writes, self._events)
        except BaseException:
            self.rollback()
            raise
        self._state = "committed"
        self._transaction = None
        self._source = self._backend
        self._clear()

    def rollback(self) -> None:
        """Discard every write and event (flushed ones too); the unit is finished."""
        transaction, self._transaction = self._transaction, None
        self._source = self._backend
        self._clear()
        self._state = "rolled back"
        if transaction is not None:
            transaction.rollback()


class CommittedReader:
    """The :class:`~enrollkit.storage.Reader` of a kit backend: committed state, no unit of
    work, no buffers to overlay (the read path of access decisions)."""

    __slots__ = ("_backend", "_ready", "_storable")

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        #: None for a backend that holds any text (nothing to check per key)
        self._storable = None if getattr(backend, "holds_any_text", False) else backend.storable
        #: (id of a collection object, index name or "") -> the collection, once registered
        #: with the backend and the index found declared; kept so the id stays its own.
        self._ready: dict[tuple[int, str], Collection[Any]] = {}

    def _prepare(self, collection: Collection[Any], index: Index[Any] | None) -> None:
        """Register *collection* (index evolution) and check *index* is declared, once
        per collection object and index."""
        mark = (id(collection), "" if index is None else index.name)
        if mark in self._ready:
            return
        self._backend.register(collection)
        if index is not None:
            collection.declares(index)
        self._ready[mark] = collection

    def get(self, collection: Collection[A], obj_id: str) -> A | None:
        """The committed aggregate with this id, or None."""
        backend = self._backend
        backend.check_open()
        self._prepare(collection, None)
        if self._storable is not None and not self._storable(obj_id):
            return None
        return cast("A | None", backend.load(collection, obj_id))

    def find(self, collection: Collection[A], index: Index[A], key: str) -> Sequence[A]:
        """The committed aggregates holding *key* in *index*, ordered by id."""
        backend = self._backend
        backend.check_open()
        self._prepare(collection, index)
        if self._storable is not None and not self._storable(key):
            return []
        return backend.find(collection, collection.declares(index), key)

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """The committed answer to each lookup, in one consistent read of the backend."""
        backend = self._backend
        backend.check_open()
        ready, storable = self._ready, self._storable
        for collection, index, _key in lookups:
            if (id(collection), "" if index is None else index.name) not in ready:
                self._prepare(collection, index)
        if storable is None or all(storable(key) for _c, _i, key in lookups):
            return backend.fetch(lookups)
        # What the database cannot hold, it does not hold: those answers are empty.
        held = [position for position, lookup in enumerate(lookups) if storable(lookup[2])]
        answers: list[Sequence[Any]] = [()] * len(lookups)
        found = backend.fetch([lookups[position] for position in held])
        for position, answer in zip(held, found, strict=True):
            answers[position] = answer
        return answers


class BufferedStorage:
    """The storage surface every kit adapter shares: units of work over itself as their
    backend, a reader of committed state, the open check, and closing. A subclass is a
    :class:`Backend` and gives ``audit``."""

    _closed: bool = False
    _reader: CommittedReader | None = None

    def unit_of_work(self) -> BufferedUnitOfWork:
        """Return a new unit of work (enter it with ``with``)."""
        self.check_open()
        return BufferedUnitOfWork(cast(Backend, self))

    def reader(self) -> CommittedReader:
        """The :class:`~enrollkit.storage.Reader` of committed state (no unit of work)."""
        reader = self._reader
        if reader is None:
            reader = self._reader = CommittedReader(cast(Backend, self))
        return reader

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """Each lookup answered by :meth:`Backend.load` or :meth:`Backend.find` in turn
        (a backend that can answer them in one read overrides this)."""
        backend = cast(Backend, self)
        answers: list[Sequence[Any]] = []
        for collection, index, key in lookups:
            if index is not None:
                answers.append(backend.find(collection, index, key))
            else:
                found = backend.load(collection, key)
                answers.append(() if found is None else (found,))
        return answers

    def check_open(self) -> None:
        """Raise ``storage.closed`` if this storage was closed."""
        if self._closed:
            raise closed_error()

    def close(self) -> None:
        """Mark the storage closed; later units of work are refused (subclasses also
        release what they opened)."""
        self._closed = True


def _event_texts(event: DomainEvent) -> Iterable[tuple[str, str]]:
    yield "name", event.name
    yield "subject", event.subject
    if event.actor is not None:
        yield "actor", event.actor


def event_data_text(event: DomainEvent) -> str:
    """The JSON text stored for an event's data (JSON escapes keep any character storable)."""
    return json.dumps(dict(event.data), separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def event_from_row(name: str, subject: str, actor: str | None, at: str, data: str) -> DomainEvent:
    """Rebuild a stored event (the inverse of the columns the backends write)."""
    return DomainEvent(
        name, subject=subject, actor=actor, at=datetime.fromisoformat(at), data=json.loads(data)
    )
