"""The PostgreSQL storage adapter (psycopg 3; install the ``postgres`` extra).

For many application servers sharing one database. The same contract as the
in-memory and SQLite adapters (ST-1, ST-2, ST-3, AU-1, ER-1), with the same
design (see :mod:`enrollkit.adapters.sqlite`): aggregates as JSON text made
by the one converter, one generic index-entry table whose primary key
``(collection, index_name, key, id)`` serves every declared index query as an
index search (keys use the ``"C"`` collation, so ranges sort like Python
strings), a partial UNIQUE index for unique indexes, buffered units of work.

A commit is one transaction at READ COMMITTED:

1. if it records events, ``SELECT ... FROM enrollkit_audit_head ... FOR UPDATE``
   first: the head row lock serialises every appender on every machine, so
   the chain never forks, and taking it first keeps lock order fixed;
2. inserts with ``ON CONFLICT DO NOTHING`` (no row: the id exists) and
   versioned updates ``UPDATE ... WHERE collection = %s AND id = %s AND
   version = %s`` checked by row count (ST-2: a concurrent winner makes the
   row count 0, which is a ``storage.stale`` conflict), in (collection, id)
   order so concurrent commits lock rows in the same order;
3. index entries (a unique key held by another row is a ``storage.unique``
   conflict), the audit entries and the new head; then COMMIT.

A deadlock or serialization failure reported by the server is retried whole
(the unit's writes are buffered) a bounded number of times, then reported as
``StorageError("storage.busy")``.

Connections: by default each thread opens one connection (autocommit, with
explicit transactions) to ``dsn``. To share connections, pass a
``psycopg_pool.ConnectionPool`` instead::

    from psycopg_pool import ConnectionPool
    pool = ConnectionPool(dsn, min_size=2, max_size=10, kwargs={"autocommit": True})
    storage = PostgresStorage(pool=pool)

Each storage operation then borrows a connection for its duration only.
The pool stays yours: :meth:`PostgresStorage.close` does not close it.

Tables live in a schema (default ``enrollkit``), created with its forward
migrations (:data:`MIGRATIONS`) when the storage opens, under an advisory
lock so servers starting together do not race.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, Protocol

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

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DEFAULT_DECODE_CACHE_SIZE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ConnectionSource",
    "PostgresAuditLog",
    "PostgresStorage",
]

#: Forward migrations: ``MIGRATIONS[n]`` takes the schema from version n to n + 1.
#: ``{s}`` stands for the quoted schema name.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE {s}.enrollkit_collections (
            name text COLLATE "C" PRIMARY KEY,
            fingerprint text NOT NULL
        )""",
        """CREATE TABLE {s}.enrollkit_aggregates (
            collection text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL,
            version bigint NOT NULL CHECK (version >= 1),
            data text NOT NULL,
            PRIMARY KEY (collection, id)
        )""",
        """CREATE TABLE {s}.enrollkit_index_entries (
            collection text COLLATE "C" NOT NULL,
            index_name text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL,
            is_unique boolean NOT NULL,
            PRIMARY KEY (collection, index_name, key, id),
            FOREIGN KEY (collection, id) REFERENCES {s}.enrollkit_aggregates (collection, id)
                ON DELETE CASCADE
        )""",
        """CREATE UNIQUE INDEX enrollkit_index_entries_unique
            ON {s}.enrollkit_index_entries (collection, index_name, key) WHERE is_unique""",
        """CREATE INDEX enrollkit_index_entries_owner
            ON {s}.enrollkit_index_entries (collection, id)""",
        """CREATE TABLE {s}.enrollkit_audit_entries (
            seq bigint PRIMARY KEY,
            name text NOT NULL,
            subject text COLLATE "C" NOT NULL,
            actor text,
            at text NOT NULL,
            data text NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL
        )""",
        """CREATE INDEX enrollkit_audit_by_subject ON {s}.enrollkit_audit_entries (subject, seq)""",
        """CREATE TABLE {s}.enrollkit_audit_head (
            one integer PRIMARY KEY CHECK (one = 1),
            count bigint NOT NULL,
            last_hash text NOT NULL
        )""",
        """INSERT INTO {s}.enrollkit_audit_head (one, count, last_hash) VALUES (1, 0, '')""",
    ),
)

#: Decoded aggregates a storage keeps for reuse by default (see ``decode_cache_size``).
DEFAULT_DECODE_CACHE_SIZE: Final = 50_000

#: The schema version this code writes.
SCHEMA_VERSION: Final = len(MIGRATIONS)

_SCHEMA_NAME = re.compile(r"\A[a-z_][a-z0-9_]{0,62}\Z")
#: Advisory-lock namespace for migrations ("enrl").
_LOCK_NAMESPACE = 0x656E726C


class ConnectionSource(Protocol):
    """Something that lends psycopg connections: a ``psycopg_pool.ConnectionPool``."""

    def connection(self, timeout: float | None = None) -> Any:
        """Return a context manager yielding a connection, given back on exit."""
        ...


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StorageError(
            "storage.driver_missing",
            "PostgresStorage needs psycopg 3: pip install 'enrollkit[postgres]'.",
        ) from exc
    return psycopg


class _SQL:
    """Every statement, with the schema name filled in once."""

    def __init__(self, schema: str) -> None:
        s = f'"{schema}"'
        self.schema = s
        agg = f"{s}.enrollkit_aggregates"
        ent = f"{s}.enrollkit_index_entries"
        aud = f"{s}.enrollkit_audit_entries"
        head = f"{s}.enrollkit_audit_head"
        self.collections = f"{s}.enrollkit_collections"
        self.select_one = f"SELECT version, data FROM {agg} WHERE collection = %s AND id = %s"  # noqa: S608
        join = f"FROM {ent} AS e JOIN {agg} AS a ON a.collection = e.collection AND a.id = e.id"
        self.find = (
            f"SELECT a.id, a.version, a.data {join} "
            "WHERE e.collection = %s AND e.index_name = %s AND e.key = %s ORDER BY e.id"
        )
        ranges: dict[tuple[bool, bool], str] = {}
        for low in (False, True):
            for high in (False, True):
                sql = (
                    f"SELECT e.key, a.id, a.version, a.data {join} "
                    "WHERE e.collection = %s AND e.index_name = %s"
                )
                if low:
                    sql += " AND e.key >= %s"
                if high:
                    sql += " AND e.key < %s"
                ranges[(low, high)] = sql + " ORDER BY e.key, e.id"
        self.ranges = ranges
        self.insert = (
            f"INSERT INTO {agg} (collection, id, version, data) VALUES (%s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )
        self.update = (
            f"UPDATE {agg} SET version = %s, data = %s "  # noqa: S608
            "WHERE collection = %s AND id = %s AND version = %s"
        )
        self.version = f"SELECT version FROM {agg} WHERE collection = %s AND id = %s"  # noqa: S608
        self.delete_entries = f"DELETE FROM {ent} WHERE collection = %s AND id = %s"  # noqa: S608
        self.insert_entry = (
            f"INSERT INTO {ent} (collection, index_name, key, id, is_unique) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        )
        self.head = f"SELECT count, last_hash FROM {head} WHERE one = 1"  # noqa: S608
        self.lock_head = self.head + " FOR UPDATE"
        self.set_head = f"UPDATE {head} SET count = %s, last_hash = %s WHERE one = 1"  # noqa: S608
        self.insert_event = (
            f"INSERT INTO {aud} (seq, name, subject, actor, at, data, prev_hash, hash) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        )
        self.select_events = (
            f"SELECT seq, name, subject, actor, at, data, prev_hash, hash FROM {aud}"  # noqa: S608
        )
        self.fingerprint = f"SELECT fingerprint FROM {self.collections} WHERE name = %s"  # noqa: S608
        self.set_fingerprint = (
            f"INSERT INTO {self.collections} (name, fingerprint) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint"
        )
        self.clear_entries = f"DELETE FROM {ent} WHERE collection = %s"  # noqa: S608
        self.all_of = f"SELECT data FROM {agg} WHERE collection = %s ORDER BY id"  # noqa: S608
        self.schema_version_table = f"{s}.enrollkit_schema_version"


def _entry_from_row(row: Sequence[Any]) -> AuditEntry:
    seq, name, subject, actor, at, data, prev_hash, digest = row
    return AuditEntry(
        seq=int(seq),
        event=event_from_row(name, subject, actor, at, data),
        prev_hash=prev_hash,
        hash=digest,
    )


def _head(row: Sequence[Any] | None) -> ChainHead | None:
    if row is None or int(row[0]) == 0:
        return None
    return ChainHead(count=int(row[0]), last_hash=row[1])


class PostgresAuditLog:
    """The committed audit chain of a :class:`PostgresStorage` (AU-1)."""

    def __init__(self, storage: PostgresStorage) -> None:
        self._storage = storage

    def head(self) -> ChainHead | None:
        """Return the chain's head, or ``None`` while empty."""
        sql = self._storage._sql
        with self._storage._reading("reading the audit head") as conn:
            return _head(conn.execute(sql.head).fetchone())

    def entries(self, *, start: int = 0, stop: int | None = None) -> Sequence[AuditEntry]:
        """Return entries ``start <= seq < stop``."""
        sql = self._storage._sql
        query = sql.select_events + " WHERE seq >= %s"
        params: tuple[int, ...] = (start,)
        if stop is not None:
            query += " AND seq < %s"
            params = (start, stop)
        with self._storage._reading("reading audit entries") as conn:
            rows = conn.execute(query + " ORDER BY seq", params).fetchall()
        return tuple(_entry_from_row(row) for row in rows)

    def for_subject(self, subject: str) -> Sequence[AuditEntry]:
        """Return the entries about *subject*, in order."""
        if "\x00" in subject:
            return ()
        try:
            subject.encode("utf-8")
        except UnicodeEncodeError:
            return ()
        query = self._storage._sql.select_events + " WHERE subject = %s ORDER BY seq"
        with self._storage._reading("reading audit entries") as conn:
            rows = conn.execute(query, (subject,)).fetchall()
        return tuple(_entry_from_row(row) for row in rows)

    def verify(self, *, anchor: ChainHead | None = None) -> ChainVerification:
        """Verify the whole chain against its head with the storage's audit key, read in
        one snapshot, and, given *anchor*, that the log still holds the anchored entry
        (AU-1)."""
        sql = self._storage._sql
        with self._storage._reading("verifying the audit chain", snapshot=True) as conn:
            rows = conn.execute(sql.select_events + " ORDER BY seq").fetchall()
            head = _head(conn.execute(sql.head).fetchone())
        entries = [_entry_from_row(row) for row in rows]
        if head is None and entries:
            head = ChainHead(count=0, last_hash="")  # entries without a head: forged
        return _verify_chain(entries, head=head, key=self._storage._audit_key, anchor=anchor)


class PostgresStorage:
    """Aggregates and the audit chain in PostgreSQL.

    Give either ``dsn`` (a libpq connection string or URL; each thread opens
    its own connection) or ``pool`` (a ``psycopg_pool.ConnectionPool``).
    ``schema`` names the PostgreSQL schema holding the tables; ``migrate``
    runs the forward migrations at open (otherwise an out-of-date schema is
    refused); ``retries`` bounds the re-runs of a commit the server aborted
    for a deadlock or a serialization failure. ``decode_cache_size`` bounds the
    decoded aggregates kept for reuse while their rows are unchanged (0 turns the
    cache off; see :class:`~enrollkit.adapters._buffered.DecodeCache`).
    ``audit_key`` (bytes, at least 32) keys the audit chain with HMAC-SHA-256
    (AU-1; choose it when the schema is created: a chain verifies only with the
    key it was written with).
    """

    forbids_nul = True

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: ConnectionSource | None = None,
        schema: str = "enrollkit",
        audit_key: bytes | None = None,
        migrate: bool = True,
        retries: int = 6,
        decode_cache_size: int = DEFAULT_DECODE_CACHE_SIZE,
    ) -> None:
        self._audit_key = check_audit_key(audit_key)
        self.decode_cache = DecodeCache(decode_cache_size)
        if (dsn is None) == (pool is None):
            raise ValidationError(
                "storage.postgres_source",
                "Give PostgresStorage either a dsn or a pool (not both, not neither).",
            )
        if not _SCHEMA_NAME.match(schema):
            raise ValidationError(
                "storage.postgres_schema",
                f"The schema name {schema!r} must be lowercase letters, digits and underscores, "
                "starting with a letter or underscore (at most 63 characters).",
                schema=schema,
            )
        self._pg = _psycopg()
        self._dsn = dsn
        self._pool = pool
        self._schema = schema
        self._sql = _SQL(schema)
        self._retries = retries
        self._lock = threading.Lock()
        self._connections: ThreadConnections[psycopg.Connection[Any]] = ThreadConnections(
            lambda conn: conn.close()
        )
        self._registered: dict[str, Collection[Any]] = {}
        self._closed = False
        self._audit = PostgresAuditLog(self)
        try:
            self._prepare_schema(migrate=migrate)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        source = "pool" if self._pool is not None else "dsn"
        return f"PostgresStorage({source}, schema={self._schema!r})"

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the tables."""
        return self._schema

    @property
    def audit(self) -> PostgresAuditLog:
        """The committed audit chain."""
        return self._audit

    def unit_of_work(self) -> BufferedUnitOfWork:
        """Return a new unit of work (enter it with ``with``)."""
        self.check_open()
        return BufferedUnitOfWork(self)

    def close(self) -> None:
        """Close the connections this storage opened (never a pool it was given)."""
        self._closed = True
        self._connections.close_all()

    def schema_version(self) -> int:
        """The schema version stored in the database."""
        with self._reading("reading the schema version") as conn:
            row = conn.execute(
                f"SELECT version FROM {self._sql.schema_version_table}"  # noqa: S608
            ).fetchone()
        return 0 if row is None else int(row[0])

    def reindex(self, collection: Collection[Any]) -> None:
        """Rebuild *collection*'s index entries (after a key function changed in place)."""
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

    def _thread_connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = self._connections.get()
        if conn is not None and not conn.closed:
            return conn
        try:
            conn = self._pg.connect(self._dsn, autocommit=True)
        except self._pg.Error as exc:
            raise StorageError(
                "storage.unavailable",
                f"Cannot connect to PostgreSQL ({type(exc).__name__}: {exc}). Check the DSN, "
                "that the server runs, and the credentials.",
            ) from exc
        assert conn is not None
        self._connections.put(conn)
        return conn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        self.check_open()
        if self._pool is None:
            yield self._thread_connection()
            return
        try:
            with self._pool.connection() as conn:
                if not conn.autocommit:
                    conn.autocommit = True
                yield conn
        except self._pg.Error as exc:
            raise self._translate(exc, "using a pooled connection") from exc

    @contextmanager
    def _reading(self, action: str, *, snapshot: bool = False) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._connection() as conn:
                if snapshot:
                    with conn.transaction():
                        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        yield conn
                else:
                    yield conn
        except self._pg.Error as exc:
            raise self._translate(exc, action) from exc

    def _translate(self, exc: Exception, action: str) -> StorageError:
        errors = self._pg.errors
        if self._closed:
            return closed_error()
        if isinstance(exc, errors.DeadlockDetected | errors.SerializationFailure):
            return StorageError(
                "storage.busy",
                f"PostgreSQL kept aborting this commit for concurrent writers while {action}; "
                "nothing was changed. Try again.",
                action=action,
            )
        if isinstance(exc, self._pg.OperationalError):
            return StorageError(
                "storage.unavailable",
                f"Lost the PostgreSQL connection while {action} ({exc}); the change was not "
                "applied. Check the server and try again.",
                action=action,
            )
        return StorageError(
            "storage.failure",
            f"PostgreSQL failed while {action} ({type(exc).__name__}: {exc}); nothing was changed.",
            action=action,
            driver_error=type(exc).__name__,
        )

    def _write_transaction(
        self, action: str, body: Callable[[psycopg.Connection[Any]], None]
    ) -> None:
        """Run ``body(conn)`` in one transaction; retry deadlocks and serialization failures."""
        errors = self._pg.errors
        attempt = 0
        while True:
            try:
                with self._connection() as conn, conn.transaction():
                    body(conn)
                return
            except (errors.DeadlockDetected, errors.SerializationFailure) as exc:
                if attempt >= self._retries:
                    raise self._translate(exc, action) from exc
                attempt += 1
                # Bounded exponential backoff with jitter, then our error.
                time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
            except self._pg.Error as exc:
                raise self._translate(exc, action) from exc

    def _prepare_schema(self, *, migrate: bool) -> None:
        sql = self._sql

        def body(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, self._schema)
            )
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {sql.schema}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {sql.schema_version_table} ("
                "one integer PRIMARY KEY CHECK (one = 1), version integer NOT NULL)"
            )
            row = conn.execute(
                f"SELECT version FROM {sql.schema_version_table} FOR UPDATE"  # noqa: S608
            ).fetchone()
            current = 0 if row is None else int(row[0])
            if current > SCHEMA_VERSION:
                raise StorageError(
                    "storage.schema_too_new",
                    f"Schema {self._schema!r} has version {current}, newer than this enrollkit "
                    f"understands ({SCHEMA_VERSION}). Upgrade enrollkit.",
                    found=current,
                    supported=SCHEMA_VERSION,
                )
            if current == SCHEMA_VERSION:
                return
            if not migrate:
                raise StorageError(
                    "storage.schema_outdated",
                    f"Schema {self._schema!r} has version {current}; this enrollkit needs "
                    f"{SCHEMA_VERSION}. Open it once with migrate=True.",
                    found=current,
                    supported=SCHEMA_VERSION,
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement.format(s=sql.schema))
            conn.execute(
                f"INSERT INTO {sql.schema_version_table} (one, version) VALUES (1, %s) "  # noqa: S608
                "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                (SCHEMA_VERSION,),
            )

        self._write_transaction("preparing the schema", body)

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
            row = conn.execute(self._sql.fingerprint, (collection.name,)).fetchone()
        if row is None or row[0] != wanted:
            self._write_transaction(
                f"indexing {collection.name}",
                lambda conn: self._rebuild(conn, collection, wanted),
            )
        with self._lock:
            self._registered.setdefault(collection.name, collection)

    def _rebuild(
        self, conn: psycopg.Connection[Any], collection: Collection[Any], wanted: str | None
    ) -> None:
        sql = self._sql
        name = collection.name
        # Serialise rebuilds of one collection across servers.
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE + 1, name))
        if wanted is not None:
            row = conn.execute(sql.fingerprint, (name,)).fetchone()
            if row is not None and row[0] == wanted:
                return  # another server rebuilt it first
        conn.execute(sql.clear_entries, (name,))
        rows = conn.execute(sql.all_of, (name,)).fetchall()
        for (text,) in rows:
            obj = decode(collection, text)
            for index in collection.indexes:
                for key in index_keys(index, obj):
                    cursor = conn.execute(
                        sql.insert_entry, (name, index.name, key, obj.id, index.unique)
                    )
                    if cursor.rowcount != 1:
                        raise unique_error(name, index.name)
        conn.execute(sql.set_fingerprint, (name, fingerprint(collection)))

    def load(self, collection: Collection[Any], obj_id: str) -> Any | None:
        """The committed aggregate, or None."""
        with self._reading(f"loading a {collection.name} record") as conn:
            row = conn.execute(self._sql.select_one, (collection.name, obj_id)).fetchone()
        if row is None:
            return None
        return self.decode_cache.decode(collection, obj_id, int(row[0]), row[1])

    def find(self, collection: Collection[Any], index: Index[Any], key: str) -> list[Any]:
        """Committed aggregates holding *key*, ordered by id (a primary-key prefix search)."""
        with self._reading(f"querying {collection.name} by {index.name}") as conn:
            rows = conn.execute(self._sql.find, (collection.name, index.name, key)).fetchall()
        decode_row = self.decode_cache.decode
        return [
            decode_row(collection, obj_id, int(version), text) for obj_id, version, text in rows
        ]

    def find_range(
        self, collection: Collection[Any], index: Index[Any], start: str | None, stop: str | None
    ) -> list[tuple[str, Any]]:
        """Committed (key, aggregate) pairs in ``[start, stop)``, by key then id."""
        params: list[str] = [collection.name, index.name]
        if start is not None:
            params.append(start)
        if stop is not None:
            params.append(stop)
        query = self._sql.ranges[(start is not None, stop is not None)]
        with self._reading(f"querying a range of {collection.name} by {index.name}") as conn:
            rows = conn.execute(query, params).fetchall()
        decode_row = self.decode_cache.decode
        return [
            (key, decode_row(collection, obj_id, int(version), text))
            for key, obj_id, version, text in rows
        ]

    def apply(self, writes: Writes, events: Sequence[DomainEvent]) -> None:
        """Apply every write and append every event in one transaction."""
        rows = planned_rows(writes)
        event_rows = [(event, event_data_text(event)) for event in events]
        self._write_transaction(
            "committing a unit of work", lambda conn: self._apply(conn, rows, event_rows)
        )
        for collection, obj, _base, text, _keys in rows:
            self.decode_cache.put(collection, obj, text)

    def _apply(
        self,
        conn: psycopg.Connection[Any],
        rows: list[Planned],
        event_rows: list[tuple[DomainEvent, str]],
    ) -> None:
        sql = self._sql
        head: ChainHead | None = None
        if event_rows:  # the head lock first: one appender at a time, fixed lock order
            head = _head(conn.execute(sql.lock_head).fetchone())
        for collection, obj, base, text, _keys in rows:
            name = collection.name
            if base is None:
                if conn.execute(sql.insert, (name, obj.id, obj.version, text)).rowcount != 1:
                    raise duplicate_error(name, obj.id)
            else:
                cursor = conn.execute(sql.update, (obj.version, text, name, obj.id, base))
                if cursor.rowcount != 1:
                    row = conn.execute(sql.version, (name, obj.id)).fetchone()
                    if row is None:
                        raise missing_error(name, obj.id)
                    raise stale_version_error(name, obj.id, base, int(row[0]))
                conn.execute(sql.delete_entries, (name, obj.id))
        for collection, obj, _base, _text, keys in rows:
            for index, index_keys_ in keys:
                for key in index_keys_:
                    cursor = conn.execute(
                        sql.insert_entry, (collection.name, index.name, key, obj.id, index.unique)
                    )
                    if cursor.rowcount != 1:
                        raise unique_error(collection.name, index.name)
        if event_rows:
            entries = chain([event for event, _ in event_rows], after=head, key=self._audit_key)
            with conn.cursor() as cursor:
                cursor.executemany(
                    sql.insert_event,
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
            conn.execute(sql.set_head, (entries[-1].seq + 1, entries[-1].hash))
        self._before_commit(conn)

    def _before_commit(self, conn: psycopg.Connection[Any]) -> None:
        """Called inside the commit transaction just before COMMIT (a seam for fault tests)."""
