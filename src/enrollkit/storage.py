"""Repository and unit-of-work ports (Rules ST-1, ST-2).

enrollkit stores *aggregates*: frozen attrs objects with an ``id`` and a
``version``. Each aggregate type is described once by a :class:`Collection`
(its stable storage name, its type, its indexes); every storage adapter
(in-memory, SQLite, PostgreSQL, or the host's own) serves any collection
through the same :class:`Repository` protocol, so a new aggregate needs no
new adapter code and an integrator implements one small interface.

A use case is one :class:`UnitOfWork`: it reads and writes through the
unit's repositories, records its domain events, and either commits all of it
or none (ST-1). Saves are optimistic (ST-2): ``save(obj)`` succeeds only if
``obj.version`` is still the stored version, and the stored copy then gets
``version + 1``; a stale save raises :class:`~enrollkit.errors.ConflictError`
and overwrites nothing.

>>> import attrs
>>> from enrollkit.adapters.memory import MemoryStorage
>>> @attrs.frozen
... class Note:
...     id: str
...     text: str
...     version: int = 0
>>> NOTES = Collection("notes", Note, indexes=(Index("text", lambda n: [n.text]),))
>>> storage = MemoryStorage()
>>> with storage.unit_of_work() as uow:
...     stored = uow.repository(NOTES).add(Note("n1", "hello"))
...     uow.commit()
>>> stored.version
1
>>> with storage.unit_of_work() as uow:
...     print(*(n.id for n in uow.repository(NOTES).find(NOTES.index("text"), "hello")))
n1
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast

import attrs

from enrollkit.audit import AuditLog, DomainEvent
from enrollkit.clock import ensure_utc
from enrollkit.errors import ConflictError, NotFoundError, StorageError, excerpt

__all__ = [
    "Aggregate",
    "Collection",
    "Index",
    "Lookup",
    "ReadRepository",
    "Reader",
    "Repository",
    "Storage",
    "UnitOfWork",
    "add_many",
    "compose_key",
    "duplicate_error",
    "find_ids",
    "fingerprint",
    "flush",
    "get_many",
    "guard",
    "lookup_in",
    "missing_error",
    "not_found_error",
    "reader_of",
    "require",
    "save_many",
    "stale_version_error",
    "time_key",
    "unique_error",
]


class Aggregate(Protocol):
    """What storage needs of an aggregate: a string ``id`` and an integer ``version``."""

    @property
    def id(self) -> str:
        """The aggregate's identity, unique within its collection."""
        ...

    @property
    def version(self) -> int:
        """0 before the first save; the stored version afterwards."""
        ...


A = TypeVar("A", bound=Aggregate)

_KEY_SEPARATOR = "\x1f"


def compose_key(*parts: str) -> str:
    """Join parts into one index key (for lookups by several facts at once)."""
    return _KEY_SEPARATOR.join(parts)


def time_key(moment: datetime) -> str:
    """An index key for a moment that sorts like time: fixed-width ISO-8601 UTC."""
    return ensure_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.frozen
class Index(Generic[A]):
    """A named way to find aggregates: ``keys(obj)`` gives the obj's keys (none, one or
    several). ``unique`` forbids two aggregates sharing a key (a ConflictError);
    ``ordered`` allows range queries (deadlines)."""

    name: str
    keys: Callable[[A], Iterable[str]] = attrs.field(eq=False)
    unique: bool = attrs.field(default=False, kw_only=True)
    ordered: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class Collection(Generic[A]):
    """One aggregate type as storage sees it: a stable name, the type, its indexes.

    Two collections are equal when their name, type and declared index set (names and
    flags) are; index *key functions* cannot be compared (see :func:`fingerprint`).
    """

    name: str
    type: type[A]
    indexes: tuple[Index[A], ...] = attrs.field(default=(), kw_only=True)
    _by_name: dict[str, Index[A]] = attrs.field(
        init=False, repr=False, eq=False, hash=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        names = [index.name for index in self.indexes]
        if len(set(names)) != len(names):
            raise StorageError(
                "storage.duplicate_index",
                f"Collection {self.name!r} declares an index name twice: {sorted(names)}.",
                collection=self.name,
            )
        self._by_name.update((index.name, index) for index in self.indexes)

    def index(self, name: str) -> Index[A]:
        """Return the index called *name* (``storage.unknown_index`` if there is none)."""
        found = self._by_name.get(name)
        if found is None:
            raise StorageError(
                "storage.unknown_index",
                f"Collection {self.name!r} has no index {name!r}; "
                f"it has {[i.name for i in self.indexes]}.",
                collection=self.name,
                index=name,
            )
        return found

    def declares(self, index: Index[A]) -> Index[A]:
        """The declared index named like *index*, which a query may name by an equal copy
        (``storage.unknown_index`` if this collection declares none)."""
        return self.index(index.name)


def fingerprint(collection: Collection[Any]) -> str:
    """A digest of a collection's declared index set (names and flags), for index evolution.

    A store keeps the fingerprint it built its index entries for; when the declared one
    differs (a release added, removed or changed an index), it rebuilds the collection's
    entries before answering a query (the storage contract checks this). Key *functions*
    cannot be compared: after changing one under an unchanged name, rename the index or
    ask the adapter to reindex.
    """
    shape = sorted([index.name, index.unique, index.ordered] for index in collection.indexes)
    return hashlib.sha256(json.dumps(shape).encode("utf-8")).hexdigest()


def stale_version_error(collection: str, obj_id: str, given: int, stored: int) -> ConflictError:
    """The ST-2 conflict every adapter raises for a stale save.

    Its message is for people and names nothing internal (no collection or version);
    ``fields`` keep the facts for logs. Use cases run again on it (``runtime.use_case``),
    so a person normally sees the domain's answer instead.
    """
    return ConflictError(
        "storage.stale",
        "Someone else changed this record at the same moment; nothing was saved. "
        "Try again: the new attempt sees their change.",
        collection=collection,
        id=obj_id,
        given_version=given,
        stored_version=stored,
    )


def duplicate_error(collection: str, obj_id: str) -> ConflictError:
    """The conflict every adapter raises for adding an id that exists."""
    return ConflictError(
        "storage.duplicate",
        "A record with this id already exists; nothing was saved (save() changes a "
        "record that was loaded).",
        collection=collection,
        id=obj_id,
    )


def missing_error(collection: str, obj_id: str) -> NotFoundError:
    """The error every adapter raises for saving an aggregate that was never added."""
    return NotFoundError(
        "storage.missing",
        "This record does not exist; nothing was saved (add() creates a record).",
        collection=collection,
        id=obj_id,
    )


def unique_error(collection: str, index: str) -> ConflictError:
    """The conflict for a second holder of a unique key (the key itself is not echoed)."""
    return ConflictError(
        "storage.unique",
        "Another record already holds this value, which must be unique; nothing was "
        "saved. Choose another value.",
        collection=collection,
        index=index,
    )


class ReadRepository(Protocol[A]):
    """Read the aggregates of one collection: what a pure question needs."""

    def get(self, obj_id: str) -> A | None:
        """Return the aggregate with this id, or ``None``."""
        ...

    def find(self, index: Index[A], key: str) -> Sequence[A]:
        """Return the aggregates having *key* in *index*, ordered by id."""
        ...


class Repository(Protocol[A]):
    """Load, add and save the aggregates of one collection inside a unit of work."""

    def get(self, obj_id: str) -> A | None:
        """Return the aggregate with this id as of this unit of work, or ``None``."""
        ...

    def add(self, obj: A) -> A:
        """Store a new aggregate (its version must be 0) and return it at version 1."""
        ...

    def save(self, obj: A) -> A:
        """Store *obj* if its version is the stored one (ST-2); return it at version + 1."""
        ...

    def find(self, index: Index[A], key: str) -> Sequence[A]:
        """Return the aggregates having *key* in *index*, ordered by id."""
        ...

    def find_range(
        self, index: Index[A], *, start: str | None = None, stop: str | None = None
    ) -> Sequence[A]:
        """Return aggregates with a key ``start <= key < stop`` in an ordered *index*,
        ordered by key then id."""
        ...


def require(repository: ReadRepository[A], obj_id: str, *, what: str) -> A:
    """Return the aggregate or raise NotFoundError naming *what* was looked for."""
    obj = repository.get(obj_id)
    if obj is None:
        raise not_found_error(obj_id, what=what)
    return obj


def get_many(repository: ReadRepository[A], ids: Sequence[str]) -> list[A | None]:
    """Each aggregate of *ids* as of *repository*'s unit of work, or ``None``, in order.

    A bulk read: a repository with a ``get_many`` method of its own (every kit store's,
    ST-1) answers all of them in one read of the database; any other repository is
    asked ``get()`` once per id, with the same answers.
    """
    bulk = getattr(repository, "get_many", None)
    if bulk is not None:
        return cast("list[A | None]", bulk(ids))
    return [repository.get(obj_id) for obj_id in ids]


def add_many(repository: Repository[A], objs: Iterable[A]) -> list[A]:
    """Store new aggregates, as ``add()`` each in turn would (ST-1, ST-2), and return
    them at version 1.

    A bulk write for large loads: a repository with an ``add_many`` method of its own
    (every kit store's) checks every id and unique key of the batch in one read of the
    database instead of one per aggregate, and buffers none of them if one is refused;
    any other repository is asked ``add()`` once per aggregate. The commit still
    refuses an id or a unique key another unit took meanwhile.
    """
    bulk = getattr(repository, "add_many", None)
    if bulk is not None:
        return cast("list[A]", bulk(objs))
    return [repository.add(obj) for obj in objs]


def find_ids(repository: ReadRepository[A], index: Index[A], key: str) -> list[str]:
    """The ids of the aggregates having *key* in *index* as of *repository*'s unit of
    work, ordered: what ``find()`` lists, without reading the aggregates.

    A repository with a ``find_ids`` method of its own (every kit store's) reads the
    index alone (a "which records are listed" question over a million records reads
    a million ids, not a million records); any other repository is asked ``find()``
    and gives the ids of its answer.
    """
    by_ids = getattr(repository, "find_ids", None)
    if by_ids is not None:
        return list(by_ids(index, key))
    return [obj.id for obj in repository.find(index, key)]


def flush(uow: UnitOfWork) -> None:
    """Write the unit's pending changes into its own database transaction now, so they
    no longer wait in memory (a bulk load in bounded memory), keeping ST-1.

    Flushed changes are not committed: others do not see them, the unit's own reads
    do (``get``, ``find``, ``find_range``), its ``commit()`` commits them with the
    rest and the recorded events, and a rollback, an error or a crash discards them
    all. A flush checks what a commit checks (ST-2 versions, existing ids, unique
    keys); a refusal rolls the unit back and is raised. On SQL stores the first flush
    opens the unit's write transaction, on a connection of its own, and holds it
    until the unit ends (on SQLite that is the one writer lock: other writers wait).

    A unit of work with a ``flush`` method of its own (every kit store's) does this;
    on any other unit, and on a store that cannot (the in-memory one, whose pending
    changes are already where they would go), it does nothing: the changes wait for
    the commit as before, with the same results.
    """
    own = getattr(uow, "flush", None)
    if own is not None:
        own()


def save_many(repository: Repository[A], objs: Iterable[A]) -> list[A]:
    """Store changed aggregates, as ``save()`` each in turn would (ST-2: each only over
    the version it was loaded at), and return them at their new versions.

    A bulk write for large changes (the CO-5 sweep): a repository with a ``save_many``
    method of its own (every kit store's) reads the versions the unit has not read yet
    in one read of the database per batch instead of one per aggregate; any other
    repository is asked ``save()`` once per aggregate. A refusal (a stale version, an
    aggregate never added, a unique key taken) is raised where ``save()`` would raise
    it, and the unit of work is then rolled back as usual.
    """
    bulk = getattr(repository, "save_many", None)
    if bulk is not None:
        return cast("list[A]", bulk(objs))
    return [repository.save(obj) for obj in objs]


def not_found_error(obj_id: str, *, what: str) -> NotFoundError:
    """The NotFoundError for no *what* with id *obj_id* (``<what>.not_found``)."""
    return NotFoundError(
        f"{what.replace(' ', '_')}.not_found",
        f"No {what} with id {excerpt(obj_id)} exists. Check the id.",
        id=obj_id,
    )


def guard(repository: Repository[A], obj: A) -> A:
    """Save *obj* unchanged, so its version moves (ST-2): two units of work that guard
    the same aggregate cannot both commit, whatever else they change.

    An invariant that spans aggregates (RO-5: an organization keeps one active
    AO, counted over its associations) is kept at commit by guarding the aggregate
    that owns it *before* reading the facts it counts: of two racing units, the
    second to commit is refused as stale, and on its retry it counts what the
    first one committed. Every adapter that keeps ST-2 supports it; nothing else
    is needed of storage.
    """
    return repository.save(obj)


class UnitOfWork(Protocol):
    """One use case's changes: all committed together or none (ST-1).

    Used as a context manager; leaving the block without :meth:`commit`
    rolls everything back.
    """

    def __enter__(self) -> Self:
        """Begin the unit of work."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back unless committed; release resources."""
        ...

    def repository(self, collection: Collection[A]) -> Repository[A]:
        """Return the repository of *collection* bound to this unit of work."""
        ...

    def record(self, *events: DomainEvent) -> None:
        """Queue events to append to the audit chain at commit (AU-1)."""
        ...

    def commit(self) -> None:
        """Apply every change and append every recorded event atomically."""
        ...

    def rollback(self) -> None:
        """Discard every change and recorded event."""
        ...


#: One read of committed state: ``(collection, None, id)`` gets one aggregate by id,
#: ``(collection, index, key)`` finds the aggregates holding *key* in *index*.
Lookup = tuple[Collection[Any], Index[Any] | None, str]


class Reader(Protocol):
    """Committed state, read without a unit of work: the read path of pure questions
    (access decisions, CO-7), which change nothing and need no isolation beyond one
    consistent answer per call.

    :meth:`fetch` answers several lookups at once; a SQL store answers them in one
    statement (one round trip, one snapshot). A storage offers a reader through a
    ``reader()`` method; :func:`reader_of` gives every other storage one over units of
    work.
    """

    def get(self, collection: Collection[A], obj_id: str) -> A | None:
        """The committed aggregate with this id, or ``None``."""
        ...

    def find(self, collection: Collection[A], index: Index[A], key: str) -> Sequence[A]:
        """The committed aggregates holding *key* in *index*, ordered by id."""
        ...

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """The answer to each lookup, in order: a ``get`` gives a sequence of none or one
        aggregate, a ``find`` its aggregates ordered by id. One consistent read."""
        ...


class _UnitReader:
    """A :class:`Reader` over a storage that offers none: one unit of work per call."""

    __slots__ = ("_storage",)

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def get(self, collection: Collection[A], obj_id: str) -> A | None:
        with self._storage.unit_of_work() as uow:
            return uow.repository(collection).get(obj_id)

    def find(self, collection: Collection[A], index: Index[A], key: str) -> Sequence[A]:
        with self._storage.unit_of_work() as uow:
            return uow.repository(collection).find(index, key)

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        with self._storage.unit_of_work() as uow:
            return [lookup_in(uow.repository(c), index, key) for c, index, key in lookups]


def lookup_in(repository: ReadRepository[Any], index: Index[Any] | None, key: str) -> Sequence[Any]:
    """The answer to one :data:`Lookup` of *repository*'s collection."""
    if index is not None:
        return repository.find(index, key)
    found = repository.get(key)
    return () if found is None else (found,)


def reader_of(storage: Storage) -> Reader:
    """The storage's own :class:`Reader` (``storage.reader()``), or one over its units
    of work for a storage that has none."""
    offered = getattr(storage, "reader", None)
    return cast(Reader, offered()) if callable(offered) else _UnitReader(storage)


class Storage(Protocol):
    """A place aggregates and the audit chain live; hands out units of work."""

    def unit_of_work(self) -> UnitOfWork:
        """Return a new unit of work (enter it with ``with``)."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The committed audit chain."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
