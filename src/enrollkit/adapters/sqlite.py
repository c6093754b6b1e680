"""The SQLite storage adapter: the embedded default (standard library only).

>>> import tempfile, os
>>> from enrollkit.testing.contract import NOTES, Note
>>> path = os.path.join(tempfile.mkdtemp(), "enroll.db")
>>> storage = SQLiteStorage(path)
>>> with storage.unit_of_work() as uow:
...     stored = uow.repository(NOTES).add(Note("n1", "ana", "Hello"))
...     uow.commit()
>>> with storage.unit_of_work() as uow:
...     print(*(n.title for n in uow.repository(NOTES).find(NOTES.index("owner"), "ana")))
Hello
>>> storage.close()

Design (keeps ST-1, ST-2, AU-1, ER-1):

* One file, opened in WAL mode with ``synchronous=FULL`` (a commit that
  returned is on disk), foreign keys on and a ``busy_timeout``. Each thread
  (and each process) has its own connection.
* Aggregates are stored as JSON text made by the one converter (ST-4), in
  one table keyed by ``(collection, id)`` with a ``version`` column.
  Index entries live in one generic table keyed by
  ``(collection, index_name, key, id)``: every declared index query is a
  prefix or range search of that primary key (never a scan), returned in
  key-then-id order straight from the B-tree; a partial UNIQUE index over
  ``(collection, index_name, key) WHERE is_unique`` makes the database
  itself refuse a second holder of a unique key. One generic table (rather
  than a table per collection) means a new aggregate type needs no DDL and
  no migration; the cost is a few bytes of collection and index name per
  entry.
* Units of work buffer their writes (see ``_buffered``); ``commit()`` runs
  ``BEGIN IMMEDIATE`` (the one writer lock), the versioned
  ``UPDATE ... WHERE collection = ? AND id = ? AND version = ?`` checked by
  row count, the index entries, and the audit entries after the stored
  chain head, then ``COMMIT``. A busy database is retried with bounded
  exponential backoff, then reported as ``StorageError("storage.busy")``.
* The schema is versioned with ``PRAGMA user_version``; forward migrations
  (:data:`MIGRATIONS`) run when the storage opens, under the writer lock.
* Each collection's index set is fingerprinted; when the declared indexes
  change, the collection's entries are rebuilt on first use. After changing
  a key *function* without renaming the index, call :meth:`SQLiteStorage.reindex`.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from enrollkit.adapters._buffered import (
    BufferedUnitOfWork,
    DecodeCache,
    Planned,
    ThreadConnections,
    Writes,
    closed_error,
    decode,
    event_data_text,
    event_from_row,
    fingerprint,
    index_keys,
    planned_rows,
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
from enrollkit.errors import StorageError, ValidationError
from enrollkit.storage import (
    Collection,
    Index,
    duplicate_error,
    missing_error,
    stale_version_error,
    unique_error,
)

__all__ = [
    "DEFAULT_DECODE_CACHE_SIZE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLiteAuditLog",
    "SQLiteStorage",
]

#: Forward migrations: ``MIGRATIONS[n]`` takes the schema from version n to n + 1.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE enrollkit_collections (
            name TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE enrollkit_aggregates (
            collection TEXT NOT NULL,
            id TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            data TEXT NOT NULL,
            PRIMARY KEY (collection, id)
        ) WITHOUT ROWID""",
        """CREATE TABLE enrollkit_index_entries (
            collection TEXT NOT NULL,
            index_name TEXT NOT NULL,
            key TEXT NOT NULL,
            id TEXT NOT NULL,
            is_unique INTEGER NOT NULL,
            PRIMARY KEY (collection, index_name, key, id),
            FOREIGN KEY (collection, id) REFERENCES enrollkit_aggregates (collection, id)
                ON DELETE CASCADE
        ) WITHOUT ROWID""",
        """CREATE UNIQUE INDEX enrollkit_index_entries_unique
            ON enrollkit_index_entries (collection, index_name, key) WHERE is_unique = 1""",
        """CREATE INDEX enrollkit_index_entries_owner
            ON enrollkit_index_entries (collection, id)""",
        """CREATE TABLE enrollkit_audit_entries (
            seq INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            subject TEXT NOT NULL,
            actor TEXT,
            at TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        """CREATE INDEX enrollkit_audit_by_subject ON enrollkit_audit_entries (subject, seq)""",
        """CREATE TABLE enrollkit_audit_head (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            count INTEGER NOT NULL,
            last_hash TEXT NOT NULL
        )""",
    ),
)

_CACHE_KIB: Final = 32 * 1024
_MMAP_BYTES: Final = 256 * 1024 * 1024

#: Decoded aggregates a storage keeps for reuse by default (see ``decode_cache_size``).
DEFAULT_DECODE_CACHE_SIZE: Final = 50_000

#: The schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION: Final = len(MIGRATIONS)

_SELECT_ONE = "SELECT version, data FROM enrollkit_aggregates WHERE collection = ? AND id = ?"
_FIND = (
    "SELECT a.id, a.version, a.data FROM enrollkit_index_entries AS e "
    "JOIN enrollkit_aggregates AS a ON a.collection = e.collection AND a.id = e.id "
    "WHERE e.collection = ? AND e.index_name = ? AND e.key = ? ORDER BY e.id"
)
_RANGE_HEAD = (
    "SELECT e.key, a.id, a.version, a.data FROM enrollkit_index_entries AS e "
    "JOIN enrollkit_aggregates AS a ON a.collection = e.collection AND a.id = e.id "
    "WHERE e.collection = ? AND e.index_name = ?"
)
_RANGE_TAIL = " ORDER BY e.key, e.id"
_INSERT = "INSERT INTO enrollkit_aggregates (collection, id, version, data) VALUES (?, ?, ?, ?)"
_UPDATE = (
    "UPDATE enrollkit_aggregates SET version = ?, data = ? "
    "WHERE collection = ? AND id = ? AND version = ?"
)
_VERSION = "SELECT version FROM enrollkit_aggregates WHERE collection = ? AND id = ?"
_DELETE_ENTRIES = "DELETE FROM enrollkit_index_entries WHERE collection = ? AND id = ?"
_INSERT_ENTRY = (
    "INSERT INTO enrollkit_index_entries (collection, index_name, key, id, is_unique) "
    "VALUES (?, ?, ?, ?, ?)"
)
_HEAD = "SELECT count, last_hash FROM enrollkit_audit_head WHERE one = 1"
_SET_HEAD = (
    "INSERT INTO enrollkit_audit_head (one, count, last_hash) VALUES (1, ?, ?) "
    "ON CONFLICT (one) DO UPDATE SET count = excluded.count, last_hash = excluded.last_hash"
)
_INSERT_EVENT = (
    "INSERT INTO enrollkit_audit_entries (seq, name, subject, actor, at, data, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_EVENTS = (
    "SELECT seq, name, subject, actor, at, data, prev_hash, hash FROM enrollkit_audit_entries"
)


def range_sql(*, start: bool, stop: bool) -> str:
    """The range query for the bounds given (public for the query-plan test)."""
    sql = _RANGE_HEAD
    if start:
        sql += " AND e.key >= ?"
    if stop:
        sql += " AND e.key < ?"
    return sql + _RANGE_TAIL


_RANGES = {(s, e): range_sql(start=s, stop=e) for s in (False, True) for e in (False, True)}
#: The find query (public for the query-plan test).
FIND_SQL: Final = _FIND


def _is_busy(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _entry_from_row(row: Sequence[Any]) -> AuditEntry:
    seq, name, subject, actor, at, data, prev_hash, digest = row
    return AuditEntry(
        seq=seq,
        event=event_from_row(name, subject, actor, at, data),
        prev_hash=prev_hash,
        hash=digest,
    )


class SQLiteAuditLog:
    """The committed audit chain of a :class:`SQLiteStorage` (AU-1)."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self._storage = storage

    def head(self) -> ChainHead | None:
        """Return the chain's head, or ``None`` while empty."""
        with self._storage._reading("reading the audit head") as conn:
            row = conn.execute(_HEAD).fetchone()
        return None if row is None else ChainHead(count=row[0], last_hash=row[1])

    def entries(self, *, start: int = 0, stop: int | None = None) -> Sequence[AuditEntry]:
        """Return entries ``start <= seq < stop``."""
        sql = _SELECT_EVENTS + " WHERE seq >= ?"
        params: tuple[int, ...] = (start,)
        if stop is not None:
            sql += " AND seq < ?"
            params = (start, stop)
        with self._storage._reading("reading audit entries") as conn:
            rows = conn.execute(sql + " ORDER BY seq", params).fetchall()
        return tuple(_entry_from_row(row) for row in rows)

    def for_subject(self, subject: str) -> Sequence[AuditEntry]:
        """Return the entries about *subject*, in order."""
        sql = _SELECT_EVENTS + " WHERE subject = ? ORDER BY seq"
        try:
            subject.encode("utf-8")
        except UnicodeEncodeError:
            return ()
        with self._storage._reading("reading audit entries") as conn:
            rows = conn.execute(sql, (subject,)).fetchall()
        return tuple(_entry_from_row(row) for row in rows)

    def verify(self, *, anchor: ChainHead | None = None) -> ChainVerification:
        """Verify the whole chain against its head with the storage's audit key, read in
        one snapshot, and, given *anchor*, that the log still holds the anchored entry
        (AU-1)."""
        sql = _SELECT_EVENTS + " ORDER BY seq"
        with self._storage._reading("verifying the audit chain", snapshot=True) as conn:
            rows = conn.execute(sql).fetchall()
            head_row = conn.execute(_HEAD).fetchone()
        head = None if head_row is None else ChainHead(count=head_row[0], last_hash=head_row[1])
        entries = [_entry_from_row(row) for row in rows]
        if head is None and entries:
            head = ChainHead(count=0, last_hash="")  # entries without a head: forged
        return _verify_chain(entries, head=head, key=self._storage._audit_key, anchor=anchor)


class SQLiteStorage:
    """Aggregates and the audit chain in one SQLite file (the embedded default).

    ``path`` is a file path (created if missing). ``audit_key`` (bytes, at least
    32) keys the audit chain with HMAC-SHA-256 (AU-1; choose it when the database
    is created: a chain verifies only with the key it was written with).
    ``busy_timeout`` is how long
    SQLite itself waits for another writer (seconds); ``retries`` bounds the
    extra attempts with backoff after that. ``decode_cache_size`` bounds the
    decoded aggregates kept for reuse while their rows are unchanged (0 turns
    the cache off; see :class:`~enrollkit.adapters._buffered.DecodeCache`).
    Safe to share between threads; several processes may open the same file.
    """

    forbids_nul = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        audit_key: bytes | None = None,
        busy_timeout: float = 5.0,
        retries: int = 6,
        decode_cache_size: int = DEFAULT_DECODE_CACHE_SIZE,
    ) -> None:
        self._audit_key = check_audit_key(audit_key)
        self.decode_cache = DecodeCache(decode_cache_size)
        if str(path) in ("", ":memory:") or str(path).startswith("file::memory:"):
            raise ValidationError(
                "storage.sqlite_path",
                "SQLiteStorage needs a file path (each thread opens its own connection); "
                "use MemoryStorage for a storage in memory.",
            )
        self._path = Path(path)
        self._busy_timeout = busy_timeout
        self._retries = retries
        self._lock = threading.Lock()
        self._connections: ThreadConnections[sqlite3.Connection] = ThreadConnections(
            sqlite3.Connection.close
        )
        self._registered: dict[str, Collection[Any]] = {}
        self._closed = False
        self._audit = SQLiteAuditLog(self)
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStorage({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def audit(self) -> SQLiteAuditLog:
        """The committed audit chain."""
        return self._audit

    def unit_of_work(self) -> BufferedUnitOfWork:
        """Return a new unit of work (enter it with ``with``)."""
        self.check_open()
        return BufferedUnitOfWork(self)

    def close(self) -> None:
        """Close every connection this storage opened; later use is refused."""
        self._closed = True
        self._connections.close_all()

    def schema_version(self) -> int:
        """The schema version of the file (``PRAGMA user_version``)."""
        with self._reading("reading the schema version") as conn:
            row = conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def reindex(self, collection: Collection[Any]) -> None:
        """Rebuild *collection*'s index entries from its stored aggregates.

        Needed only after a key function changed under an unchanged index name;
        a changed index set (names, ``unique``, ``ordered``) is noticed and
        rebuilt automatically on first use.
        """
        self.check_open()
        self._write_transaction(
            f"reindexing {collection.name}", lambda conn: self._rebuild(conn, collection, None)
        )
        with self._lock:
            self._registered[collection.name] = collection

    # -- connections --------------------------------------------------------------------

    def check_open(self) -> None:
        """Raise ``storage.closed`` if this storage was closed."""
        if self._closed:
            raise closed_error()

    def _connection(self) -> sqlite3.Connection:
        self.check_open()
        conn = self._connections.get()
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Reads: a larger page cache and memory-mapped I/O (pages shared between threads).
            conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
        except sqlite3.Error as exc:
            raise StorageError(
                "storage.unavailable",
                f"Cannot open the SQLite database {str(self._path)!r}: {exc}. Check the path "
                "and its permissions.",
                path=str(self._path),
            ) from exc
        self._connections.put(conn)
        return conn

    @contextmanager
    def _reading(self, action: str, *, snapshot: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            if snapshot:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            else:
                yield conn
        except sqlite3.Error as exc:
            raise self._translate(exc, action) from exc

    def _translate(self, exc: sqlite3.Error, action: str) -> StorageError:
        if isinstance(exc, sqlite3.ProgrammingError) and self._closed:
            return closed_error()
        if _is_busy(exc):
            return StorageError(
                "storage.busy",
                f"The SQLite database stayed locked by other writers while {action}; "
                "nothing was changed. Try again later.",
                action=action,
            )
        return StorageError(
            "storage.failure",
            f"SQLite failed while {action} ({type(exc).__name__}: {exc}); nothing was changed.",
            action=action,
            driver_error=type(exc).__name__,
        )

    def _write_transaction(self, action: str, body: Any) -> None:
        """Run ``body(conn)`` inside BEGIN IMMEDIATE ... COMMIT, retrying a busy database."""
        attempt = 0
        while True:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    body(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return
            except sqlite3.Error as exc:
                if _is_busy(exc) and attempt < self._retries:
                    attempt += 1
                    # Bounded exponential backoff with jitter, then our error.
                    time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
                    continue
                raise self._translate(exc, action) from exc

    def _migrate(self) -> None:
        def body(conn: sqlite3.Connection) -> None:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > SCHEMA_VERSION:
                raise StorageError(
                    "storage.schema_too_new",
                    f"The database {str(self._path)!r} has schema version {current}, newer than "
                    f"this enrollkit understands ({SCHEMA_VERSION}). Upgrade enrollkit.",
                    found=current,
                    supported=SCHEMA_VERSION,
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
            if current != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        conn = self._connection()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.Error as exc:
            raise self._translate(exc, "switching to WAL mode") from exc
        if str(mode).lower() != "wal":
            raise StorageError(
                "storage.no_wal",
                f"SQLite refused WAL mode for {str(self._path)!r} (got {mode}); use a local "
                "file system.",
            )
        self._write_transaction("migrating the schema", body)

    # -- the backend protocol of the buffered units ----------------------------------------

    def register(self, collection: Collection[Any]) -> None:
        """Check the collection's index fingerprint; rebuild its entries if it changed."""
        known = self._registered.get(collection.name)
        if known is collection:
            return
        if known is not None:
            if known != collection:
                raise StorageError(
                    "storage.collection_mismatch",
                    f"Two different collections are both named {collection.name!r}.",
                    collection=collection.name,
                )
            return
        wanted = fingerprint(collection)
        with self._reading("reading collection fingerprints") as conn:
            row = conn.execute(
                "SELECT fingerprint FROM enrollkit_collections WHERE name = ?", (collection.name,)
            ).fetchone()
        if row is None or row[0] != wanted:
            self._write_transaction(
                f"indexing {collection.name}",
                lambda conn: self._rebuild(conn, collection, wanted),
            )
        with self._lock:
            self._registered.setdefault(collection.name, collection)

    def _rebuild(
        self, conn: sqlite3.Connection, collection: Collection[Any], wanted: str | None
    ) -> None:
        digest = fingerprint(collection)
        if wanted is not None:
            row = conn.execute(
                "SELECT fingerprint FROM enrollkit_collections WHERE name = ?", (collection.name,)
            ).fetchone()
            if row is not None and row[0] == wanted:
                return  # another connection rebuilt it first
        name = collection.name
        conn.execute("DELETE FROM enrollkit_index_entries WHERE collection = ?", (name,))
        cursor = conn.execute(
            "SELECT data FROM enrollkit_aggregates WHERE collection = ? ORDER BY id", (name,)
        )
        while batch := cursor.fetchmany(1000):
            for (text,) in batch:
                self._insert_entries(conn, collection, decode(collection, text))
        conn.execute(
            "INSERT INTO enrollkit_collections (name, fingerprint) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint",
            (name, digest),
        )

    def _insert_entries(
        self, conn: sqlite3.Connection, collection: Collection[Any], obj: Any
    ) -> None:
        for index in collection.indexes:
            unique = 1 if index.unique else 0
            for key in index_keys(index, obj):
                try:
                    conn.execute(_INSERT_ENTRY, (collection.name, index.name, key, obj.id, unique))
                except sqlite3.IntegrityError as exc:
                    raise unique_error(collection.name, index.name) from exc

    def load(self, collection: Collection[Any], obj_id: str) -> Any | None:
        """The committed aggregate, or None."""
        conn = self._connection()
        try:
            row = conn.execute(_SELECT_ONE, (collection.name, obj_id)).fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc, f"loading a {collection.name} record") from exc
        if row is None:
            return None
        return self.decode_cache.decode(collection, obj_id, row[0], row[1])

    def find(self, collection: Collection[Any], index: Index[Any], key: str) -> list[Any]:
        """Committed aggregates holding *key*, ordered by id (a primary-key prefix search)."""
        conn = self._connection()
        try:
            rows = conn.execute(_FIND, (collection.name, index.name, key)).fetchall()
        except sqlite3.Error as exc:
            raise self._translate(exc, f"querying {collection.name} by {index.name}") from exc
        decode_row = self.decode_cache.decode
        return [decode_row(collection, obj_id, version, text) for obj_id, version, text in rows]

    def find_range(
        self, collection: Collection[Any], index: Index[Any], start: str | None, stop: str | None
    ) -> list[tuple[str, Any]]:
        """Committed (key, aggregate) pairs in ``[start, stop)``, by key then id."""
        params: list[str] = [collection.name, index.name]
        if start is not None:
            params.append(start)
        if stop is not None:
            params.append(stop)
        sql = _RANGES[(start is not None, stop is not None)]
        conn = self._connection()
        try:
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._translate(
                exc, f"querying a range of {collection.name} by {index.name}"
            ) from exc
        decode_row = self.decode_cache.decode
        return [
            (key, decode_row(collection, obj_id, version, text))
            for key, obj_id, version, text in rows
        ]

    def apply(self, writes: Writes, events: Sequence[DomainEvent]) -> None:
        """Apply every write and append every event in one IMMEDIATE transaction."""
        keyed = planned_rows(writes)
        event_rows = [(event, event_data_text(event)) for event in events]
        self._write_transaction(
            "committing a unit of work", lambda conn: self._apply(conn, keyed, event_rows)
        )
        for collection, obj, _base, text, _keys in keyed:
            self.decode_cache.put(collection, obj, text)

    def _apply(
        self,
        conn: sqlite3.Connection,
        keyed: list[Planned],
        event_rows: list[tuple[DomainEvent, str]],
    ) -> None:
        if len(keyed) > 1:
            self._write_rows_batched(conn, keyed)
        else:
            self._write_rows(conn, keyed)
        if event_rows:
            events = [
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
                for entry, (_event, data) in zip(
                    chain(
                        [event for event, _ in event_rows],
                        after=_head_of(conn),
                        key=self._audit_key,
                    ),
                    event_rows,
                    strict=True,
                )
            ]
            conn.executemany(_INSERT_EVENT, events)
            conn.execute(_SET_HEAD, (events[-1][0] + 1, events[-1][7]))
        self._before_commit(conn)

    def _write_rows_batched(self, conn: sqlite3.Connection, keyed: list[Planned]) -> None:
        """The writes as a few ``executemany`` calls (large units: bulk loads, sweeps).

        Any refusal (an existing id, a stale version, a unique key taken) rolls the
        batch back to its savepoint and replays it row by row, which names the culprit
        with the same error as :meth:`_write_rows`.
        """
        inserts = [
            (c.name, obj.id, obj.version, text) for c, obj, base, text, _k in keyed if base is None
        ]
        updates = [
            (obj.version, text, c.name, obj.id, base)
            for c, obj, base, text, _k in keyed
            if base is not None
        ]
        entries = [
            (c.name, index.name, key, obj.id, 1 if index.unique else 0)
            for c, obj, _base, _text, keys in keyed
            for index, index_keys_ in keys
            for key in index_keys_
        ]
        conn.execute("SAVEPOINT enrollkit_batch")
        try:
            if inserts:
                conn.executemany(_INSERT, inserts)
            if updates:
                if conn.executemany(_UPDATE, updates).rowcount != len(updates):
                    raise _Replay
                conn.executemany(_DELETE_ENTRIES, [(u[2], u[3]) for u in updates])
            conn.executemany(_INSERT_ENTRY, entries)
        except (sqlite3.IntegrityError, _Replay):
            conn.execute("ROLLBACK TO enrollkit_batch")
            self._write_rows(conn, keyed)
        conn.execute("RELEASE enrollkit_batch")

    def _write_rows(self, conn: sqlite3.Connection, keyed: list[Planned]) -> None:
        """The writes row by row, each refusal raised as our precise error."""
        for collection, obj, base, text, _keys in keyed:
            name = collection.name
            if base is None:
                try:
                    conn.execute(_INSERT, (name, obj.id, obj.version, text))
                except sqlite3.IntegrityError as exc:
                    raise duplicate_error(name, obj.id) from exc
            else:
                cursor = conn.execute(_UPDATE, (obj.version, text, name, obj.id, base))
                if cursor.rowcount != 1:
                    row = conn.execute(_VERSION, (name, obj.id)).fetchone()
                    if row is None:
                        raise missing_error(name, obj.id)
                    raise stale_version_error(name, obj.id, base, int(row[0]))
                conn.execute(_DELETE_ENTRIES, (name, obj.id))
        for collection, obj, _base, _text, keys in keyed:
            for index, index_keys_ in keys:
                unique = 1 if index.unique else 0
                for key in index_keys_:
                    try:
                        conn.execute(
                            _INSERT_ENTRY, (collection.name, index.name, key, obj.id, unique)
                        )
                    except sqlite3.IntegrityError as exc:
                        raise unique_error(collection.name, index.name) from exc

    def _before_commit(self, conn: sqlite3.Connection) -> None:
        """Called inside the commit transaction just before COMMIT (a seam for fault tests)."""


class _Replay(Exception):
    """A batched write was refused: replay the batch row by row to name the culprit."""


def _head_of(conn: sqlite3.Connection) -> ChainHead | None:
    row = conn.execute(_HEAD).fetchone()
    return None if row is None else ChainHead(count=row[0], last_hash=row[1])
