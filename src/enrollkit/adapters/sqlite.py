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
* It stands on the adapter kit (:mod:`enrollkit.adapters.kit`): buffered units
  of work and the shared SQL backend. ``commit()`` runs ``BEGIN IMMEDIATE``
  (the one writer lock), the versioned
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

import itertools
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Unpack

from enrollkit.adapters import kit
from enrollkit.errors import StorageError, ValidationError

__all__ = [
    "FIND_SQL",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLiteAuditLog",
    "SQLiteStorage",
    "range_sql",
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
#: Rows per ``executemany`` of a large commit.
_SLICE_ROWS: Final = 10_000
_MMAP_BYTES: Final = 256 * 1024 * 1024

#: The schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION: Final = len(MIGRATIONS)

#: BEGIN IMMEDIATE takes SQLite's one writer lock: the head needs no lock of its own.
_STATEMENTS: Final = kit.SqlStatements.build(placeholder="?")
#: The find query (public for the query-plan test).
FIND_SQL: Final = _STATEMENTS.find


def range_sql(*, start: bool, stop: bool) -> str:
    """The range query for the bounds given (public for the query-plan test)."""
    return _STATEMENTS.ranges[(start, stop)]


#: The audit log of a :class:`SQLiteStorage` (the shared one over SQL).
SQLiteAuditLog = kit.SqlAuditLog


def _is_busy(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class _SQLiteReader(kit.CommittedReader):
    """The kit's reader of committed state, with the file's committed version."""

    __slots__ = ("_sqlite",)

    def __init__(self, storage: SQLiteStorage) -> None:
        super().__init__(storage)
        self._sqlite = storage

    @property
    def committed_version(self) -> tuple[int, int, int]:
        """:meth:`SQLiteStorage.committed_version` (raises ``storage.closed`` once closed)."""
        return self._sqlite.committed_version()


class SQLiteStorage(kit.SqlBackend):
    """Aggregates and the audit chain in one SQLite file (the embedded default).

    ``path`` is a file path (created if missing). ``busy_timeout`` is how long
    SQLite itself waits for another writer (seconds); the options of every SQL
    adapter (:class:`~enrollkit.adapters.kit.SqlOptions`: ``audit_key``,
    ``retries`` with backoff after the busy timeout, ``decode_cache_size``)
    follow. Safe to share between threads; several processes may open the
    same file.
    """

    forbids_nul = False
    driver_errors = (sqlite3.Error,)
    database = "SQLite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        **options: Unpack[kit.SqlOptions],
    ) -> None:
        super().__init__(_STATEMENTS, **options)
        if str(path) in ("", ":memory:") or str(path).startswith("file::memory:"):
            raise ValidationError(
                "storage.sqlite_path",
                "SQLiteStorage needs a file path (each thread opens its own connection); "
                "use MemoryStorage for a storage in memory.",
            )
        self._path = Path(path)
        self._busy_timeout = busy_timeout
        self._connections: kit.ThreadConnections[sqlite3.Connection] = kit.ThreadConnections(
            self._close_connection
        )
        #: Commits made through this storage's connections, and a serial number for each
        #: connection opened (by ``id``): with ``PRAGMA data_version`` (which changes when
        #: any *other* connection, in any process, commits) they make the version under
        #: which a runtime may remember answers (:attr:`_SQLiteReader.committed_version`).
        self._commits = 0
        self._serials: dict[int, int] = {}
        self._opened = itertools.count(1)
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

    def close(self) -> None:
        """Close every connection this storage opened; later use is refused."""
        super().close()
        self._connections.close_all()

    def schema_version(self) -> int:
        """The schema version of the file (``PRAGMA user_version``)."""
        with self._reading("reading the schema version") as conn:
            row = conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _close_connection(self, conn: sqlite3.Connection) -> None:
        self._serials.pop(id(conn), None)
        conn.close()

    def reader(self) -> _SQLiteReader:
        """The :class:`~enrollkit.storage.Reader` of committed state, with a
        ``committed_version`` (access decisions are remembered under it)."""
        reader = self._reader
        if not isinstance(reader, _SQLiteReader):
            reader = self._reader = _SQLiteReader(self)
        return reader

    def committed_version(self) -> tuple[int, int, int]:
        """A value that differs after any commit to the file: by another connection or
        process (``PRAGMA data_version`` of this thread's connection) or through this
        storage (its own count), with the connection's serial (data versions of two
        connections are not comparable)."""
        with self._reading("reading the data version") as conn:
            row = conn.execute("PRAGMA data_version").fetchone()
            serial = self._serials[id(conn)]
        return (serial, int(row[0]), self._commits)

    # -- connections --------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        self.check_open()
        conn = self._connections.get()
        if conn is not None:
            return conn
        conn = self._open()
        self._connections.put(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
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
        self._serials[id(conn)] = next(self._opened)  # a new serial even for a reused id
        return conn

    @contextmanager
    def _connect(self, *, snapshot: bool) -> Iterator[kit.Executor]:
        conn = self._connection()
        if not snapshot:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _attempt(self, body: Callable[[kit.Executor], None]) -> None:
        with self._immediate(self._connection()) as conn:
            body(conn)

    @contextmanager
    def _immediate(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """A write transaction on *conn*: ``BEGIN IMMEDIATE`` (the one writer lock), then
        ``COMMIT``, counted (remembered decisions end there), or ``ROLLBACK`` on any error."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
            self._commits += 1
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _transaction(self) -> Iterator[kit.Executor]:
        """A flushing unit's transaction: ``BEGIN IMMEDIATE`` (the one writer lock, held
        until the unit ends) on a connection of its own, closed with it."""
        self.check_open()
        conn = self._open()
        try:
            # A bulk unit reads much of the file once: through the page cache alone, not a
            # memory map (which would keep up to _MMAP_BYTES of it resident in the process).
            conn.execute("PRAGMA mmap_size = 0")
            with self._immediate(conn):
                yield conn
        finally:
            self._close_connection(conn)

    def _retryable(self, exc: BaseException) -> bool:
        return _is_busy(exc)

    def _translate(self, exc: BaseException, action: str) -> StorageError:
        if _is_busy(exc):
            return StorageError(
                "storage.busy",
                f"The SQLite database stayed locked by other writers while {action}; "
                "nothing was changed. Try again later.",
                action=action,
            )
        return super()._translate(exc, action)

    def _migrate(self) -> None:
        def body(conn: kit.Executor) -> None:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            where = f"The database {str(self._path)!r}"
            if kit.run_migrations(conn, MIGRATIONS, current, where=where):
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

    # -- writes ------------------------------------------------------------------------------

    def _write_rows(
        self, conn: kit.Executor, rows: list[kit.Planned], base_keys: kit.BaseKeys | None = None
    ) -> None:
        """Large units (bulk loads, sweeps) as ``executemany`` calls of
        :data:`_SLICE_ROWS` rows each, every aggregate first and then every index entry
        (so a key one write releases is free for another, as row by row); any refusal
        (an existing id, a stale version, a unique key taken) rolls the batch back to its
        savepoint and replays it row by row, which names the culprit precisely (ST-1,
        ST-2). Slices keep the parameter lists of a million-row unit small. An update
        with base keys removes and adds only the entries whose keys changed."""
        if len(rows) <= 1:
            super()._write_rows(conn, rows, base_keys)
            return
        conn.execute("SAVEPOINT enrollkit_batch")
        if not self._batched(conn, rows, base_keys):
            conn.execute("ROLLBACK TO enrollkit_batch")
            super()._write_rows(conn, rows, base_keys)
        conn.execute("RELEASE enrollkit_batch")

    def _batched(
        self, conn: kit.Executor, rows: list[kit.Planned], base_keys: kit.BaseKeys | None
    ) -> bool:
        """Whether every batched row was written (ON CONFLICT DO NOTHING rows and stale
        updates show as missing row counts)."""
        statements = self.statements
        slices = [rows[start : start + _SLICE_ROWS] for start in range(0, len(rows), _SLICE_ROWS)]
        for part in slices:
            inserts = [
                (c.name, o.id, o.version, text) for c, o, base, text, _k in part if base is None
            ]
            updates = [
                (o.version, text, c.name, o.id, base)
                for c, o, base, text, _k in part
                if base is not None
            ]
            if inserts and conn.executemany(statements.insert, inserts).rowcount != len(inserts):
                return False
            if updates:
                if conn.executemany(statements.update, updates).rowcount != len(updates):
                    return False
                cleared, gone = kit.stale_entries(part, base_keys)
                if cleared:
                    conn.executemany(statements.delete_entries, cleared)
                if gone:  # in key order: each B-tree page is visited once
                    gone.sort()
                    conn.executemany(statements.delete_entry, gone)
        for part in slices:
            entries = kit.fresh_entries(part, base_keys)
            if entries and (
                conn.executemany(statements.insert_entry, entries).rowcount != len(entries)
            ):
                return False
        return True
