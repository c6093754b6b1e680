"""The PostgreSQL storage adapter (psycopg 3; install the ``postgres`` extra).

For many application servers sharing one database. The same contract as the
in-memory and SQLite adapters (ST-1, ST-2, ST-3, AU-1, ER-1), with the same
design (see :mod:`enrollkit.adapters.sqlite`): aggregates as JSON text made
by the one converter, one generic index-entry table whose primary key
``(collection, index_name, key, id)`` serves every declared index query as an
index search (keys use the ``"C"`` collation, so ranges sort like Python
strings), a partial UNIQUE index for unique indexes, buffered units of work.

It stands on the adapter kit (:mod:`enrollkit.adapters.kit`): buffered units of
work and the shared SQL backend. A commit is one transaction at READ COMMITTED:

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

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, Protocol, Unpack

from enrollkit.adapters import kit
from enrollkit.errors import StorageError, ValidationError

if TYPE_CHECKING:
    import psycopg

__all__ = [
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

#: The schema version this code writes.
SCHEMA_VERSION: Final = len(MIGRATIONS)

_SCHEMA_NAME = re.compile(r"\A[a-z_][a-z0-9_]{0,62}\Z")
#: Advisory-lock namespace for migrations ("enrl"); the next one serialises rebuilds.
_LOCK_NAMESPACE = 0x656E726C

#: The audit log of a :class:`PostgresStorage` (the shared one over SQL).
PostgresAuditLog = kit.SqlAuditLog


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


class _Executor:
    """A psycopg connection as the kit's executor (a new cursor per statement)."""

    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> kit.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        with self.conn.cursor() as cursor:
            cursor.executemany(sql, rows)
            return cursor


class PostgresStorage(kit.SqlBackend):
    """Aggregates and the audit chain in PostgreSQL.

    Give either ``dsn`` (a libpq connection string or URL; each thread opens
    its own connection) or ``pool`` (a ``psycopg_pool.ConnectionPool``).
    ``schema`` names the PostgreSQL schema holding the tables; ``migrate``
    runs the forward migrations at open (otherwise an out-of-date schema is
    refused). The options of every SQL adapter follow
    (:class:`~enrollkit.adapters.kit.SqlOptions`: ``audit_key``, ``retries`` of a
    commit the server aborted for a deadlock or a serialization failure,
    ``decode_cache_size``).
    """

    forbids_nul = True
    database = "PostgreSQL"

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: ConnectionSource | None = None,
        schema: str = "enrollkit",
        migrate: bool = True,
        **options: Unpack[kit.SqlOptions],
    ) -> None:
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
        quoted = f'"{schema}"'
        super().__init__(
            kit.SqlStatements.build(
                placeholder="%s",
                prefix=f"{quoted}.",
                # One appender at a time on every server: the chain never forks.
                lock_head=("SELECT one FROM {head} WHERE one = 1 FOR UPDATE",),
            ),
            **options,
        )
        self._pg = _psycopg()
        self.driver_errors = (self._pg.Error,)
        self._dsn = dsn
        self._pool = pool
        self._schema = schema
        self._quoted = quoted
        self._connections: kit.ThreadConnections[psycopg.Connection[Any]] = kit.ThreadConnections(
            lambda conn: conn.close()
        )
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
    def _version_table(self) -> str:
        return f"{self._quoted}.enrollkit_schema_version"

    def close(self) -> None:
        """Close the connections this storage opened (never a pool it was given)."""
        super().close()
        self._connections.close_all()

    def schema_version(self) -> int:
        """The schema version stored in the database."""
        with self._reading("reading the schema version") as conn:
            row = conn.execute(f"SELECT version FROM {self._version_table}").fetchone()  # noqa: S608
        return 0 if row is None else int(row[0])

    # -- connections --------------------------------------------------------------------

    def _thread_connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = self._connections.get()
        if conn is not None and not conn.closed:
            return conn
        conn = self._open_connection()
        self._connections.put(conn)
        return conn

    def _open_connection(self) -> psycopg.Connection[Any]:
        """A new autocommit connection to the DSN."""
        try:
            conn: psycopg.Connection[Any] = self._pg.connect(self._dsn, autocommit=True)
        except self._pg.Error as exc:
            raise StorageError(
                "storage.unavailable",
                f"Cannot connect to PostgreSQL ({type(exc).__name__}: {exc}). Check the DSN, "
                "that the server runs, and the credentials.",
            ) from exc
        return conn

    @contextmanager
    def _pooled(self, pool: Any) -> Iterator[psycopg.Connection[Any]]:
        """A connection borrowed from *pool*, in autocommit mode, for the block."""
        with pool.connection() as conn:
            if not conn.autocommit:
                conn.autocommit = True
            yield conn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        self.check_open()
        if self._pool is None:
            yield self._thread_connection()
            return
        with self._pooled(self._pool) as conn:
            yield conn

    @contextmanager
    def _connect(self, *, snapshot: bool) -> Iterator[kit.Executor]:
        with self._connection() as conn:
            if not snapshot:
                yield _Executor(conn)
                return
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield _Executor(conn)

    def _attempt(self, body: Callable[[kit.Executor], None]) -> None:
        with self._connection() as conn, conn.transaction():
            body(_Executor(conn))

    @contextmanager
    def _transaction(self) -> Iterator[kit.Executor]:
        """A flushing unit's transaction on a connection of its own: borrowed from the
        pool for the unit's life, or opened for it and closed with it."""
        self.check_open()
        if self._pool is not None:
            with self._pooled(self._pool) as conn, conn.transaction():
                yield _Executor(conn)
            return
        own = self._open_connection()
        with own, own.transaction():
            yield _Executor(own)

    def _retryable(self, exc: BaseException) -> bool:
        errors = self._pg.errors
        return isinstance(exc, errors.DeadlockDetected | errors.SerializationFailure)

    def _unavailable(self, exc: BaseException) -> bool:
        return isinstance(exc, self._pg.OperationalError)

    def _lock_collection(self, conn: kit.Executor, name: str) -> None:
        """Serialise rebuilds of one collection across servers (an advisory lock)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE + 1, name))

    def _prepare_schema(self, *, migrate: bool) -> None:
        schema, table = self._quoted, self._version_table

        def body(conn: kit.Executor) -> None:
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, self._schema)
            )
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ("
                "one integer PRIMARY KEY CHECK (one = 1), version integer NOT NULL)"
            )
            row = conn.execute(f"SELECT version FROM {table} FOR UPDATE").fetchone()  # noqa: S608
            current = 0 if row is None else int(row[0])
            where = f"Schema {self._schema!r}"
            if kit.run_migrations(
                conn,
                MIGRATIONS,
                current,
                where=where,
                migrate=migrate,
                render=lambda statement: statement.format(s=schema),
            ):
                conn.execute(
                    f"INSERT INTO {table} (one, version) VALUES (1, %s) "  # noqa: S608
                    "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                    (SCHEMA_VERSION,),
                )

        self._write_transaction("preparing the schema", body)
