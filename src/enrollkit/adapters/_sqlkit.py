"""What every SQL adapter shares: the schema's statements, the audit log over SQL, and a
:class:`~enrollkit.adapters._buffered.Backend` that needs only a connection.

The shipped SQL adapters (SQLite, PostgreSQL, SQLAlchemy Core) keep the same
four tables: aggregates as JSON text made by the one converter (ST-4), keyed
by ``(collection, id)`` with a ``version`` column; one generic index-entry
table whose primary key ``(collection, index_name, key, id)`` answers every
declared index query as an index search, with a partial UNIQUE index over
``(collection, index_name, key) WHERE is_unique``; the hash-chained audit
entries and their head (AU-1); each collection's index fingerprint.

:class:`SqlBackend` implements everything over those tables, given an adapter
that says how to read (:meth:`SqlBackend._connect`), how to run one write
transaction (:meth:`SqlBackend._attempt`), which driver errors are worth
retrying and how to word the others. It keeps:

* ST-1: a unit's writes and events are applied in one transaction;
* ST-2: updates are ``... WHERE version = ?`` checked by row count;
* unique keys: the partial unique index refuses a second holder
  (``storage.unique``);
* AU-1: the chain is extended after the head read under the writer lock
  (``lock_head``), so it never forks;
* index evolution: a collection whose declared index set changed since its
  entries were built has them rebuilt before it answers (``fingerprint``);
* a busy or deadlocked commit is retried whole with bounded backoff, then
  ``storage.busy``;
* flushing (:meth:`SqlBackend.begin`, for an adapter that implements
  :meth:`SqlBackend._transaction`): a unit's writes go into one open transaction
  on a connection of its own, batch by batch, and are committed or rolled back
  with the unit; a flushed transaction is not replayed (its writes left memory),
  so a deadlock or serialization failure in it is ``storage.busy`` and lands
  nothing.
"""

from __future__ import annotations

import abc
import operator
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, Final, Generic, Protocol, TypedDict, TypeVar, Unpack

import attrs

from enrollkit.adapters._buffered import (
    BaseKeys,
    BufferedStorage,
    DecodeCache,
    Keys,
    Planned,
    Writes,
    base_keys_of,
    closed_error,
    decode,
    event_data_text,
    event_from_row,
    index_keys,
    planned_rows,
    storable_text,
)
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
    Collection,
    Index,
    Lookup,
    duplicate_error,
    fingerprint,
    missing_error,
    stale_version_error,
    unique_error,
)

#: Decoded aggregates a storage keeps for reuse by default (see ``decode_cache_size``).
DEFAULT_DECODE_CACHE_SIZE: Final = 50_000


class Cursor(Protocol):
    """What a statement returns: DB-API cursors (sqlite3, psycopg) and SQLAlchemy results."""

    @property
    def rowcount(self) -> int:
        """Rows changed by the statement."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> Sequence[Any]:
        """Every remaining row."""
        ...

    def fetchmany(self, size: int) -> Sequence[Any]:
        """Up to *size* more rows."""
        ...


class Executor(Protocol):
    """Runs statements on one connection: ``sqlite3.Connection`` as it is; a thin wrapper
    for psycopg and SQLAlchemy connections."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run *sql* with positional *params*."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        """Run *sql* once per row of *rows*."""
        ...


@attrs.frozen
class SqlStatements:
    """Every statement of the shared schema, for one placeholder style and table prefix.

    ``placeholder`` is the driver's positional parameter marker (``?`` for sqlite3,
    ``%s`` for psycopg); ``prefix`` qualifies the tables (``'"enrollkit".'`` for a
    PostgreSQL schema, ``""`` for none) and ``tables`` starts their names. ``lock_head`` are the statements that take the
    audit writer lock inside a write transaction before the head is read (PostgreSQL:
    ``SELECT ... FOR UPDATE``; a database whose write transactions already hold one
    writer lock, like SQLite under ``BEGIN IMMEDIATE``, needs none).
    """

    placeholder: str  #: the driver's positional marker: ``?`` or ``%s``
    select_one: str
    find: str
    #: one part of a :meth:`SqlBackend.fetch` statement, ``{q}`` its position: by id, by key
    fetch_parts: tuple[str, str]
    ranges: Mapping[tuple[bool, bool], str]
    insert: str
    update: str
    version: str
    delete_entries: str
    insert_entry: str
    head: str
    lock_head: tuple[str, ...]
    set_head: str
    insert_event: str
    select_events: str
    fingerprint: str
    set_fingerprint: str
    clear_entries: str
    all_of: str
    #: the ids holding a key in an index, ordered (``find`` without the aggregates)
    find_ids: str = ""
    #: one index entry by its whole key (an update that changed that key)
    delete_entry: str = ""

    @classmethod
    def build(
        cls,
        *,
        placeholder: str,
        prefix: str = "",
        tables: str = "enrollkit_",
        lock_head: Sequence[str] = (),
    ) -> SqlStatements:
        """The statements over the tables ``{prefix}{tables}aggregates`` and so on;
        ``{head}`` in *lock_head* stands for the audit head table."""
        p = placeholder
        agg = f"{prefix}{tables}aggregates"
        ent = f"{prefix}{tables}index_entries"
        aud = f"{prefix}{tables}audit_entries"
        head = f"{prefix}{tables}audit_head"
        collections = f"{prefix}{tables}collections"
        join = f"FROM {ent} AS e JOIN {agg} AS a ON a.collection = e.collection AND a.id = e.id"
        ranges: dict[tuple[bool, bool], str] = {}
        for low in (False, True):
            for high in (False, True):
                sql = (
                    f"SELECT e.key, a.id, a.version, a.data {join} "
                    f"WHERE e.collection = {p} AND e.index_name = {p}"
                )
                if low:
                    sql += f" AND e.key >= {p}"
                if high:
                    sql += f" AND e.key < {p}"
                ranges[(low, high)] = sql + " ORDER BY e.key, e.id"
        return cls(
            placeholder=p,
            select_one=f"SELECT version, data FROM {agg} WHERE collection = {p} AND id = {p}",  # noqa: S608
            find=(
                f"SELECT a.id, a.version, a.data {join} "
                f"WHERE e.collection = {p} AND e.index_name = {p} AND e.key = {p} ORDER BY e.id"
            ),
            fetch_parts=(
                f"SELECT {{q}}, id, version, data FROM {agg} WHERE collection = {p} AND id = {p}",  # noqa: S608
                f"SELECT {{q}}, a.id, a.version, a.data {join} "
                f"WHERE e.collection = {p} AND e.index_name = {p} AND e.key = {p}",
            ),
            ranges=ranges,
            insert=(
                f"INSERT INTO {agg} (collection, id, version, data) "  # noqa: S608
                f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING"
            ),
            update=(
                f"UPDATE {agg} SET version = {p}, data = {p} "  # noqa: S608
                f"WHERE collection = {p} AND id = {p} AND version = {p}"
            ),
            version=f"SELECT version FROM {agg} WHERE collection = {p} AND id = {p}",  # noqa: S608
            delete_entries=f"DELETE FROM {ent} WHERE collection = {p} AND id = {p}",  # noqa: S608
            insert_entry=(
                f"INSERT INTO {ent} (collection, index_name, key, id, is_unique) "  # noqa: S608
                f"VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING"
            ),
            head=f"SELECT count, last_hash FROM {head} WHERE one = 1",  # noqa: S608
            lock_head=tuple(statement.format(head=head) for statement in lock_head),
            set_head=(
                f"INSERT INTO {head} (one, count, last_hash) VALUES (1, {p}, {p}) "  # noqa: S608
                "ON CONFLICT (one) DO UPDATE SET count = excluded.count, "
                "last_hash = excluded.last_hash"
            ),
            insert_event=(
                f"INSERT INTO {aud} (seq, name, subject, actor, at, data, prev_hash, hash) "  # noqa: S608
                f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
            ),
            select_events=(
                f"SELECT seq, name, subject, actor, at, data, prev_hash, hash FROM {aud}"  # noqa: S608
            ),
            fingerprint=f"SELECT fingerprint FROM {collections} WHERE name = {p}",  # noqa: S608
            set_fingerprint=(
                f"INSERT INTO {collections} (name, fingerprint) VALUES ({p}, {p}) "  # noqa: S608
                "ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint"
            ),
            clear_entries=f"DELETE FROM {ent} WHERE collection = {p}",  # noqa: S608
            all_of=f"SELECT data FROM {agg} WHERE collection = {p} ORDER BY id",  # noqa: S608
            find_ids=(
                f"SELECT id FROM {ent} "  # noqa: S608
                f"WHERE collection = {p} AND index_name = {p} AND key = {p} ORDER BY id"
            ),
            delete_entry=(
                f"DELETE FROM {ent} WHERE collection = {p} AND index_name = {p} "  # noqa: S608
                f"AND key = {p} AND id = {p}"
            ),
        )


C = TypeVar("C")

#: A fetched row's order: its lookup, then its id.
_lookup_then_id: Final = operator.itemgetter(0, 1)

#: Rows above which a range read decodes without the decode cache.
BULK_ROWS: Final = 1_000

#: An index entry as its statements take it: (collection, index, key, id), then is_unique.
Entry = tuple[str, str, str, str]
NewEntry = tuple[str, str, str, str, bool]


def entry_changes(
    name: str, obj_id: str, base: Keys, keys: Keys
) -> tuple[list[Entry], list[NewEntry]]:
    """The index entries an update removes and adds: those whose keys differ between the
    stored version (*base*) and the new one (*keys*), index by index."""
    gone: list[Entry] = []
    added: list[NewEntry] = []
    for (index, before), (_index, after) in zip(base, keys, strict=True):
        if before == after:
            continue
        gone.extend((name, index.name, key, obj_id) for key in before if key not in after)
        added.extend(
            (name, index.name, key, obj_id, index.unique) for key in after if key not in before
        )
    return gone, added


def stale_entries(
    rows: Sequence[Planned], base_keys: BaseKeys | None
) -> tuple[list[tuple[str, str]], list[Entry]]:
    """What *rows* remove from the index entries: the (collection, id) of each update
    without base keys (all its entries go), and each single entry an update with base
    keys no longer holds."""
    cleared: list[tuple[str, str]] = []
    gone: list[Entry] = []
    for collection, obj, base, _text, keys in rows:
        if base is None:
            continue
        name = collection.name
        before = base_keys.get((name, obj.id)) if base_keys else None
        if before is None:
            cleared.append((name, obj.id))
        else:
            gone.extend(entry_changes(name, obj.id, before, keys)[0])
    return cleared, gone


def fresh_entries(rows: Sequence[Planned], base_keys: BaseKeys | None) -> list[NewEntry]:
    """The index entries *rows* insert: every key of a new aggregate or of an update
    without base keys; only the changed keys of an update with them."""
    added: list[NewEntry] = []
    for collection, obj, base, _text, keys in rows:
        name = collection.name
        before = None if base is None or not base_keys else base_keys.get((name, obj.id))
        if before is not None:
            added.extend(entry_changes(name, obj.id, before, keys)[1])
            continue
        added.extend(
            (name, index.name, key, obj.id, index.unique)
            for index, index_keys_ in keys
            for key in index_keys_
        )
    return added


class _Slot(Generic[C]):
    """Holds one thread's connection; closing it when the thread's locals go."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: C) -> None:
        self.conn = conn


class ThreadConnections(Generic[C]):
    """One database connection per live thread, on :class:`threading.local`.

    When a thread ends, its locals are released and a finalizer closes its
    connection; :meth:`close_all` closes every one still open. A forked child
    drops (without closing) what the parent opened and opens its own.
    """

    def __init__(self, close: Callable[[C], None]) -> None:
        self._close = close
        self._local = threading.local()
        self._finalizers: set[weakref.finalize[Any, Any]] = set()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.closed = False

    def __len__(self) -> int:
        return sum(1 for f in self._finalizers if f.alive)

    def get(self) -> C | None:
        """This thread's connection, or None."""
        if os.getpid() != self._pid:
            self._forget_parent()
            return None
        slot: _Slot[C] | None = getattr(self._local, "slot", None)
        return None if slot is None else slot.conn

    def put(self, conn: C) -> None:
        """Make *conn* this thread's connection (refused once closed)."""
        with self._lock:
            if self.closed:
                with suppress(Exception):  # closing is best effort
                    self._close(conn)
                raise closed_error()
            slot = _Slot(conn)
            finalizer = weakref.finalize(slot, self._release, conn)
            self._finalizers.add(finalizer)
            self._local.slot = slot

    def _release(self, conn: C) -> None:
        with suppress(Exception):  # closing is best effort
            self._close(conn)

    def _forget_parent(self) -> None:
        with self._lock:
            for finalizer in self._finalizers:
                finalizer.detach()
            self._finalizers = set()
            self._local = threading.local()
            self._pid = os.getpid()

    def close_all(self) -> None:
        """Close every connection; later :meth:`put` calls are refused."""
        with self._lock:
            self.closed = True
            finalizers, self._finalizers = self._finalizers, set()
            self._local = threading.local()
        for finalizer in finalizers:
            finalizer()


def _head(row: Sequence[Any] | None) -> ChainHead | None:
    if row is None or int(row[0]) == 0:
        return None
    return ChainHead(count=int(row[0]), last_hash=row[1])


def _entry(row: Sequence[Any]) -> AuditEntry:
    seq, name, subject, actor, at, data, prev_hash, digest = row
    return AuditEntry(
        seq=int(seq),
        event=event_from_row(name, subject, actor, at, data),
        prev_hash=prev_hash,
        hash=digest,
    )


def run_migrations(
    conn: Executor,
    migrations: Sequence[Sequence[str]],
    current: int,
    *,
    where: str,
    migrate: bool = True,
    render: Callable[[str], str] = str,
) -> bool:
    """Take a schema from version *current* to ``len(migrations)`` inside the caller's
    write transaction: ``migrations[n]`` are the statements from version n to n + 1
    (each passed through *render*). Refuses a schema newer than the code
    (``storage.schema_too_new``) and, unless *migrate*, an older one
    (``storage.schema_outdated``). Returns whether anything ran."""
    supported = len(migrations)
    if current > supported:
        raise StorageError(
            "storage.schema_too_new",
            f"{where} has schema version {current}, newer than this enrollkit understands "
            f"({supported}). Upgrade enrollkit.",
            found=current,
            supported=supported,
        )
    if current == supported:
        return False
    if not migrate:
        raise StorageError(
            "storage.schema_outdated",
            f"{where} has schema version {current}; this enrollkit needs {supported}. "
            "Open it once with migrate=True.",
            found=current,
            supported=supported,
        )
    for version in range(current, supported):
        for statement in migrations[version]:
            conn.execute(render(statement))
    return True


class SqlAuditLog:
    """The committed audit chain of a :class:`SqlBackend` (AU-1)."""

    def __init__(self, backend: SqlBackend) -> None:
        self._backend = backend

    def head(self) -> ChainHead | None:
        """Return the chain's head, or ``None`` while empty."""
        with self._backend._reading("reading the audit head") as conn:
            return _head(conn.execute(self._backend.statements.head).fetchone())

    def entries(self, *, start: int = 0, stop: int | None = None) -> Sequence[AuditEntry]:
        """Return entries ``start <= seq < stop``."""
        backend = self._backend
        p = backend.placeholder
        sql = backend.statements.select_events + f" WHERE seq >= {p}"
        params: tuple[int, ...] = (start,)
        if stop is not None:
            sql += f" AND seq < {p}"
            params = (start, stop)
        with backend._reading("reading audit entries") as conn:
            rows = conn.execute(sql + " ORDER BY seq", params).fetchall()
        return tuple(_entry(row) for row in rows)

    def for_subject(self, subject: str) -> Sequence[AuditEntry]:
        """Return the entries about *subject*, in order."""
        backend = self._backend
        if not backend.storable(subject):
            return ()
        sql = backend.statements.select_events + f" WHERE subject = {backend.placeholder}"
        with backend._reading("reading audit entries") as conn:
            rows = conn.execute(sql + " ORDER BY seq", (subject,)).fetchall()
        return tuple(_entry(row) for row in rows)

    def verify(self, *, anchor: ChainHead | None = None) -> ChainVerification:
        """Verify the whole chain against its head with the storage's audit key, read in
        one snapshot, and, given *anchor*, that the log still holds the anchored entry
        (AU-1)."""
        backend = self._backend
        statements = backend.statements
        with backend._reading("verifying the audit chain", snapshot=True) as conn:
            rows = conn.execute(statements.select_events + " ORDER BY seq").fetchall()
            head = _head(conn.execute(statements.head).fetchone())
        entries = [_entry(row) for row in rows]
        if head is None and entries:
            head = ChainHead(count=0, last_hash="")  # entries without a head: forged
        return _verify_chain(entries, head=head, key=backend.audit_key, anchor=anchor)


class SqlOptions(TypedDict, total=False):
    """The options every SQL adapter takes, besides where its database is."""

    #: Keys the audit chain with HMAC-SHA-256 (bytes, at least 32; AU-1). Choose it when
    #: the database is created: a chain verifies only with the key it was written with.
    audit_key: bytes | None
    #: How many times a commit the database aborted for concurrency runs again (6).
    retries: int
    #: Decoded aggregates kept for reuse while their rows are unchanged (0 turns the cache
    #: off; :class:`~enrollkit.adapters.kit.DecodeCache`).
    decode_cache_size: int


class SqlBackend(BufferedStorage, abc.ABC):
    """A storage over the shared SQL schema: the buffered units' backend, the audit log,
    index evolution, commit retries. Subclasses say how to connect and transact.

    Give the constructor the :class:`SqlStatements` and the :class:`SqlOptions`. A subclass implements
    :meth:`_connect` (a connection to read from, optionally in one snapshot),
    :meth:`_attempt` (run a body in one write transaction, once) and :meth:`_retryable`
    (a driver error worth running the whole transaction again), names its driver's
    error class in ``driver_errors`` and the database in ``database``; it may refine
    :meth:`_unavailable` and :meth:`_translate`.
    """

    #: Whether text with NUL characters cannot be stored (PostgreSQL).
    forbids_nul: bool = False
    #: The driver's error base class(es): only these are translated or retried.
    driver_errors: tuple[type[BaseException], ...] = ()
    #: The database's name in messages ("SQLite", "PostgreSQL").
    database: str = "The database"

    def __init__(self, statements: SqlStatements, **options: Unpack[SqlOptions]) -> None:
        self.statements = statements
        self.placeholder = statements.placeholder
        self.audit_key = check_audit_key(options.get("audit_key"))
        self.retries = options.get("retries", 6)
        self.decode_cache = DecodeCache(options.get("decode_cache_size", DEFAULT_DECODE_CACHE_SIZE))
        self._registered: dict[str, Collection[Any]] = {}
        self._fetch_sql: dict[tuple[bool, ...], str] = {}
        self._register_lock = threading.Lock()
        self._closed = False
        self._audit = SqlAuditLog(self)

    # -- what a subclass provides ---------------------------------------------------------

    @abc.abstractmethod
    def _connect(self, *, snapshot: bool) -> AbstractContextManager[Executor]:
        """A connection to read committed data from (in one snapshot if asked)."""

    @abc.abstractmethod
    def _attempt(self, body: Callable[[Executor], None]) -> None:
        """Run ``body(conn)`` in one write transaction, once: commit if it returns, roll
        back and re-raise if it raises."""

    def _transaction(self) -> AbstractContextManager[Executor]:
        """Optional: a write transaction on a connection of its own (not the one this
        thread reads with), held open while the context is: commit on a normal exit,
        roll back on an exception. Implementing it lets units flush
        (:meth:`begin`); without it they buffer every write until their commit."""
        raise NotImplementedError

    @abc.abstractmethod
    def _retryable(self, exc: BaseException) -> bool:
        """Whether a driver error aborted the transaction for concurrency (busy, deadlock,
        serialization failure): the whole unit is run again."""

    def _unavailable(self, exc: BaseException) -> bool:
        """Whether a driver error means the database cannot be reached (a hook)."""
        return False

    def _translate(self, exc: BaseException, action: str) -> StorageError:
        """A driver error as our StorageError, worded for people: ``storage.closed`` after
        :meth:`close`, ``storage.busy`` when concurrency kept aborting it,
        ``storage.unavailable`` when the database cannot be reached, else
        ``storage.failure``. Nothing was changed in any of these cases."""
        if self._closed:
            return closed_error()
        if self._retryable(exc):
            return StorageError(
                "storage.busy",
                f"{self.database} kept refusing this for concurrent writers while {action}; "
                "nothing was changed. Try again.",
                action=action,
            )
        if self._unavailable(exc):
            return StorageError(
                "storage.unavailable",
                f"Lost the {self.database} connection while {action} ({exc}); nothing was "
                "changed. Check the database and try again.",
                action=action,
            )
        return StorageError(
            "storage.failure",
            f"{self.database} failed while {action} ({type(exc).__name__}: {exc}); nothing "
            "was changed.",
            action=action,
            driver_error=type(exc).__name__,
        )

    def _lock_collection(self, conn: Executor, name: str) -> None:
        """Serialise rebuilds of one collection's index entries across servers (a hook)."""

    def _before_commit(self, conn: Executor) -> None:
        """Called inside the commit transaction just before it commits (a seam for tests)."""

    # -- the storage surface ---------------------------------------------------------------

    @property
    def audit(self) -> SqlAuditLog:
        """The committed audit chain."""
        return self._audit

    def storable(self, text: str) -> bool:
        """Whether the database holds *text* as is (UTF-8; no NUL where forbidden)."""
        return storable_text(text, forbids_nul=self.forbids_nul)

    def reindex(self, collection: Collection[Any]) -> None:
        """Rebuild *collection*'s index entries from its stored aggregates.

        Needed only after a key *function* changed under an unchanged index name; a
        changed index set (names, ``unique``, ``ordered``) is noticed and rebuilt on
        first use.
        """
        self.check_open()
        self._write_transaction(
            f"reindexing {collection.name}", lambda conn: self._rebuild(conn, collection, None)
        )
        with self._register_lock:
            self._registered[collection.name] = collection

    @contextmanager
    def _reading(self, action: str, *, snapshot: bool = False) -> Iterator[Executor]:
        self.check_open()
        try:
            with self._connect(snapshot=snapshot) as conn:
                yield conn
        except self.driver_errors as exc:
            raise self._translate(exc, action) from exc

    def _write_transaction(self, action: str, body: Callable[[Executor], None]) -> None:
        """Run ``body(conn)`` in one transaction; run it again (bounded exponential backoff
        with jitter) when the database aborted it for concurrency, then ``storage.busy``."""
        attempt = 0
        while True:
            self.check_open()
            try:
                self._attempt(body)
                return
            except self.driver_errors as exc:
                if self._retryable(exc) and attempt < self.retries:
                    attempt += 1
                    time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
                    continue
                raise self._translate(exc, action) from exc

    # -- the backend of the buffered units ---------------------------------------------------

    def _known(self, collection: Collection[Any]) -> bool:
        """Whether *collection* was registered as declared (a different type under its
        name is ``storage.collection_mismatch``)."""
        known = self._registered.get(collection.name)
        if known is collection:
            return True
        if known is not None and known.type is not collection.type:
            raise StorageError(
                "storage.collection_mismatch",
                f"Two collections of different types are both named {collection.name!r}.",
                collection=collection.name,
            )
        return known is not None and known == collection

    def register(self, collection: Collection[Any]) -> None:
        """Make the stored index entries of *collection* match its declared indexes: the
        first time, and whenever the declared set differs (index evolution)."""
        if self._known(collection):
            return
        wanted = fingerprint(collection)
        with self._reading("reading collection fingerprints") as conn:
            row = conn.execute(self.statements.fingerprint, (collection.name,)).fetchone()
        if row is None or row[0] != wanted:
            self._write_transaction(
                f"indexing {collection.name}",
                lambda conn: self._rebuild(conn, collection, wanted),
            )
        with self._register_lock:
            self._registered[collection.name] = collection

    def _rebuild(self, conn: Executor, collection: Collection[Any], wanted: str | None) -> None:
        statements = self.statements
        name = collection.name
        self._lock_collection(conn, name)
        if wanted is not None:
            row = conn.execute(statements.fingerprint, (name,)).fetchone()
            if row is not None and row[0] == wanted:
                return  # another connection rebuilt it first
        conn.execute(statements.clear_entries, (name,))
        stored = conn.execute(statements.all_of, (name,))
        while batch := stored.fetchmany(1000):
            entries = [
                (name, index.name, key, obj.id, index.unique)
                for obj in (decode(collection, text) for (text,) in batch)
                for index in collection.indexes
                for key in index_keys(index, obj)
            ]
            for entry in entries:
                if conn.execute(statements.insert_entry, entry).rowcount != 1:
                    raise unique_error(name, entry[1])
        conn.execute(statements.set_fingerprint, (name, fingerprint(collection)))

    def load(self, collection: Collection[Any], obj_id: str) -> Any | None:
        """The committed aggregate, or None."""
        with self._reading(f"loading a {collection.name} record") as conn:
            return self._load(conn, collection, obj_id)

    def _decoder(self, *, cached: bool) -> Callable[[Collection[Any], str, int, str], Any]:
        """How rows are decoded: through the decode cache, or straight (a bulk read)."""
        return self.decode_cache.decode if cached else _decode_uncached

    def _load(
        self, conn: Executor, collection: Collection[Any], obj_id: str, *, cached: bool = True
    ) -> Any | None:
        row = conn.execute(self.statements.select_one, (collection.name, obj_id)).fetchone()
        if row is None:
            return None
        return self._decoder(cached=cached)(collection, obj_id, int(row[0]), row[1])

    def find_ids(self, collection: Collection[Any], index: Index[Any], key: str) -> list[str]:
        """The ids of the committed aggregates holding *key*, ordered (none is read)."""
        with self._reading(f"querying {collection.name} by {index.name}") as conn:
            return self._find_ids(conn, collection, index, key)

    def _find_ids(
        self, conn: Executor, collection: Collection[Any], index: Index[Any], key: str
    ) -> list[str]:
        if not self.statements.find_ids:  # statements built without it
            return [obj.id for obj in self._find(conn, collection, index, key)]
        params = (collection.name, index.name, key)
        return [obj_id for (obj_id,) in conn.execute(self.statements.find_ids, params).fetchall()]

    def find(self, collection: Collection[Any], index: Index[Any], key: str) -> list[Any]:
        """Committed aggregates holding *key*, ordered by id (a primary-key prefix search)."""
        with self._reading(f"querying {collection.name} by {index.name}") as conn:
            return self._find(conn, collection, index, key)

    def _find(
        self,
        conn: Executor,
        collection: Collection[Any],
        index: Index[Any],
        key: str,
        *,
        cached: bool = True,
    ) -> list[Any]:
        rows = conn.execute(self.statements.find, (collection.name, index.name, key)).fetchall()
        decode_row = self._decoder(cached=cached)
        return [
            decode_row(collection, obj_id, int(version), text) for obj_id, version, text in rows
        ]

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """Every lookup answered by one statement (one round trip, one snapshot): a
        ``UNION ALL`` of primary-key and index lookups; each answer ordered by id."""
        if not lookups:
            return []
        with self._reading("reading records") as conn:
            return self._fetch(conn, lookups)

    def _fetch(
        self, conn: Executor, lookups: Sequence[Lookup], *, cached: bool = True
    ) -> list[Sequence[Any]]:
        if not lookups:
            return []
        shape = tuple(index is None for _, index, _ in lookups)
        sql = self._fetch_sql.get(shape)
        if sql is None:
            by_id, by_key = self.statements.fetch_parts
            parts = (by_id if get else by_key for get in shape)
            sql = " UNION ALL ".join(part.format(q=q) for q, part in enumerate(parts))
            sql = self._fetch_sql.setdefault(shape, sql)
        params: list[str] = []
        for collection, index, key in lookups:
            params.append(collection.name)
            if index is not None:
                params.append(index.name)
            params.append(key)
        rows = conn.execute(sql, params).fetchall()
        # Ordered here, not by the statement: a few rows sort faster in Python than a
        # compound SELECT sorts them in the database (a temporary B-tree).
        rows = sorted(rows, key=_lookup_then_id)
        answers: list[list[Any]] = [[] for _ in lookups]
        decode_row = self._decoder(cached=cached)
        for q, obj_id, version, text in rows:
            answers[q].append(decode_row(lookups[q][0], obj_id, int(version), text))
        return list(answers)

    def find_range(
        self, collection: Collection[Any], index: Index[Any], start: str | None, stop: str | None
    ) -> list[tuple[str, Any]]:
        """Committed (key, aggregate) pairs in ``[start, stop)``, by key then id."""
        with self._reading(f"querying a range of {collection.name} by {index.name}") as conn:
            return self._find_range(conn, collection, index, start, stop)

    def _find_range(
        self,
        conn: Executor,
        collection: Collection[Any],
        index: Index[Any],
        start: str | None,
        stop: str | None,
        *,
        cached: bool = True,
    ) -> list[tuple[str, Any]]:
        params: list[str] = [collection.name, index.name]
        if start is not None:
            params.append(start)
        if stop is not None:
            params.append(stop)
        sql = self.statements.ranges[(start is not None, stop is not None)]
        rows = conn.execute(sql, params).fetchall()
        if len(rows) > BULK_ROWS or not cached:
            # A bulk read (a sweep's backlog) decodes straight through: the cache would
            # only evict its working set, one locked insertion per row.
            return [(key, decode(collection, text)) for key, _id, _version, text in rows]
        decode_row = self.decode_cache.decode
        return [
            (key, decode_row(collection, obj_id, int(version), text))
            for key, obj_id, version, text in rows
        ]

    #: Updates rewrite only the index entries whose keys changed, given their base keys
    #: (:class:`~enrollkit.adapters.kit.UnitWrites`).
    rewrites_changed_keys: bool = True

    def apply(self, writes: Writes, events: Sequence[DomainEvent]) -> None:
        """Apply every write and append every event in one transaction (ST-1, AU-1); an
        update with base keys rewrites only its index entries whose keys changed."""
        base_keys = base_keys_of(writes)
        rows = planned_rows(writes)
        event_rows = [(event, event_data_text(event)) for event in events]
        self._write_transaction(
            "committing a unit of work",
            lambda conn: self._apply(conn, rows, event_rows, base_keys),
        )
        self._remember(rows)

    def _remember(self, rows: list[Planned]) -> None:
        """Put committed rows in the decode cache: only the last ``size`` rows would stay
        (least recently used go first), so a bulk load puts those alone."""
        kept = self.decode_cache.size
        for collection, obj, _base, text, _keys in rows[-kept:] if kept else ():
            self.decode_cache.put(collection, obj, text)

    def begin(self) -> SqlTransaction | None:
        """A write transaction for a unit of work to flush into (see
        :class:`~enrollkit.adapters.kit.BackendTransaction`), on a connection of its own;
        None when this adapter does not implement :meth:`_transaction`. Starting it is
        retried like a commit while the database is busy."""
        if type(self)._transaction is SqlBackend._transaction:
            return None
        attempt = 0
        while True:
            self.check_open()
            context = self._transaction()
            try:
                conn = context.__enter__()
            except self.driver_errors as exc:
                if self._retryable(exc) and attempt < self.retries:
                    attempt += 1
                    time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
                    continue
                raise self._translate(exc, "starting a transaction") from exc
            return SqlTransaction(self, context, conn)

    def _apply(
        self,
        conn: Executor,
        rows: list[Planned],
        event_rows: list[tuple[DomainEvent, str]],
        base_keys: BaseKeys | None = None,
    ) -> None:
        statements = self.statements
        head: ChainHead | None = None
        if event_rows:  # the writer lock on the head first: one appender, one lock order
            for statement in statements.lock_head:
                conn.execute(statement)
            head = _head(conn.execute(statements.head).fetchone())
        self._write_rows(conn, rows, base_keys)
        if event_rows:
            entries = chain([event for event, _ in event_rows], after=head, key=self.audit_key)
            conn.executemany(
                statements.insert_event,
                [
                    (
                        entry.seq,
                        entry.event.name,
                        entry.event.subject,
                        entry.event.actor,
                        entry.event.at.isoformat(),
                        data,
                        entry.prev_hash,
                        entry.hash,
                    )
                    for entry, (_event, data) in zip(entries, event_rows, strict=True)
                ],
            )
            conn.execute(statements.set_head, (entries[-1].seq + 1, entries[-1].hash))
        self._before_commit(conn)

    def _write_rows(
        self, conn: Executor, rows: list[Planned], base_keys: BaseKeys | None = None
    ) -> None:
        """The writes row by row (in (collection, id) order), each refusal raised as our
        precise error: an existing id, a stale version, a unique key already held. An
        update with base keys removes and adds only the entries whose keys changed."""
        statements = self.statements
        for collection, obj, base, text, _keys in rows:
            name = collection.name
            if base is None:
                if conn.execute(statements.insert, (name, obj.id, obj.version, text)).rowcount != 1:
                    raise duplicate_error(name, obj.id)
            else:
                cursor = conn.execute(statements.update, (obj.version, text, name, obj.id, base))
                if cursor.rowcount != 1:
                    row = conn.execute(statements.version, (name, obj.id)).fetchone()
                    if row is None:
                        raise missing_error(name, obj.id)
                    raise stale_version_error(name, obj.id, base, int(row[0]))
        cleared, gone = stale_entries(rows, base_keys)
        for owner in cleared:
            conn.execute(statements.delete_entries, owner)
        for entry in gone:
            conn.execute(statements.delete_entry, entry)
        for new in fresh_entries(rows, base_keys):
            if conn.execute(statements.insert_entry, new).rowcount != 1:
                raise unique_error(new[0], new[1])


class _Rollback(Exception):
    """Thrown into a transaction's context to roll it back."""


def _decode_uncached(collection: Collection[Any], _obj_id: str, _version: int, text: str) -> Any:
    return decode(collection, text)


class SqlTransaction:
    """A unit of work's open write transaction on a :class:`SqlBackend` (its ``begin()``):
    reads and writes on one connection of its own, committed or rolled back with the
    unit (a :class:`~enrollkit.adapters.kit.BackendTransaction`).

    A flushing unit is a bulk load: its reads decode rows straight, without the decode
    cache (which would only evict what other readers use), and its flushed rows are
    not put in it; the commit puts the last rows written, as any commit does."""

    def __init__(
        self, backend: SqlBackend, context: AbstractContextManager[Executor], conn: Executor
    ) -> None:
        self._backend = backend
        self._context = context
        self._conn = conn
        self._open = True
        #: collections registered inside this transaction (known to the backend at commit)
        self._registered: list[Collection[Any]] = []

    @contextmanager
    def _using(self, action: str) -> Iterator[Executor]:
        backend = self._backend
        if not self._open or backend._closed:
            raise closed_error()
        try:
            yield self._conn
        except backend.driver_errors as exc:
            raise backend._translate(exc, action) from exc

    def register(self, collection: Collection[Any]) -> None:
        """Know *collection*; rebuild its index entries inside this transaction when its
        declared index set changed (index evolution)."""
        backend = self._backend
        if backend._known(collection) or collection in self._registered:
            return
        wanted = fingerprint(collection)
        with self._using(f"indexing {collection.name}") as conn:
            row = conn.execute(backend.statements.fingerprint, (collection.name,)).fetchone()
            if row is None or row[0] != wanted:
                backend._rebuild(conn, collection, wanted)
        self._registered.append(collection)

    def load(self, collection: Collection[Any], obj_id: str) -> Any | None:
        """The aggregate as of this transaction, or None."""
        with self._using(f"loading a {collection.name} record") as conn:
            return self._backend._load(conn, collection, obj_id, cached=False)

    def find(self, collection: Collection[Any], index: Index[Any], key: str) -> list[Any]:
        """Aggregates holding *key* as of this transaction, ordered by id."""
        with self._using(f"querying {collection.name} by {index.name}") as conn:
            return self._backend._find(conn, collection, index, key, cached=False)

    def find_ids(self, collection: Collection[Any], index: Index[Any], key: str) -> list[str]:
        """The ids holding *key* as of this transaction, ordered (none is read)."""
        with self._using(f"querying {collection.name} by {index.name}") as conn:
            return self._backend._find_ids(conn, collection, index, key)

    def find_range(
        self, collection: Collection[Any], index: Index[Any], start: str | None, stop: str | None
    ) -> list[tuple[str, Any]]:
        """``(key, aggregate)`` pairs in ``[start, stop)`` as of this transaction."""
        with self._using(f"querying a range of {collection.name} by {index.name}") as conn:
            return self._backend._find_range(conn, collection, index, start, stop, cached=False)

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """The answer to each lookup as of this transaction."""
        with self._using("reading records") as conn:
            return self._backend._fetch(conn, lookups, cached=False)

    def write(self, writes: Writes) -> None:
        """Write *writes* now, refusals raised as a commit raises them (ST-1, ST-2)."""
        rows = planned_rows(writes)
        with self._using("writing a unit of work") as conn:
            self._backend._write_rows(conn, rows, base_keys_of(writes))

    def commit(self, writes: Writes, events: Sequence[DomainEvent]) -> None:
        """Write the rest and the events (AU-1), then commit; or raise, committing nothing."""
        backend = self._backend
        rows = planned_rows(writes)
        event_rows = [(event, event_data_text(event)) for event in events]
        with self._using("committing a unit of work") as conn:
            backend._apply(conn, rows, event_rows, base_keys_of(writes))
            self._open = False
            self._context.__exit__(None, None, None)
        with backend._register_lock:
            for collection in self._registered:
                backend._registered[collection.name] = collection
        backend._remember(rows)

    def rollback(self) -> None:
        """Discard everything written (best effort on a lost connection: a transaction
        that never commits is discarded by the database)."""
        if not self._open:
            return
        self._open = False
        with suppress(Exception):
            self._context.__exit__(_Rollback, _Rollback(), None)
