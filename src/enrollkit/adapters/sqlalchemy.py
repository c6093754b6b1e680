"""A storage adapter over SQLAlchemy Core (the ``sqlalchemy`` extra), built on the kit alone.

enrollkit's tables then live in the host's database, beside its own, and can
share its transaction:

* ``SQLAlchemyStorage(engine)``: every read borrows a connection from the
  engine's pool; every commit is its own transaction (``engine.begin()``),
  retried whole when the database aborted it for concurrency (ST-1, ST-2).
* ``SQLAlchemyStorage(connection)``: everything runs on the host's
  :class:`~sqlalchemy.engine.Connection`, in its transaction: a commit of
  enrollkit is a SAVEPOINT inside it, and the host's commit keeps
  enrollkit's changes and events while its rollback discards them with its
  own. One connection is one thread's: build one storage per request. On
  SQLite, apply SQLAlchemy's documented pysqlite transaction recipe to the
  host's engine (``isolation_level = None`` on connect, ``BEGIN`` on begin)
  so that savepoints nest as they should.

The schema is the shared one (see :mod:`enrollkit.adapters.kit`): four tables
named ``{table_prefix}aggregates``, ``{table_prefix}index_entries``,
``{table_prefix}audit_entries`` and ``{table_prefix}audit_head``, plus
``{table_prefix}collections`` and ``{table_prefix}schema_version``, created
when missing (``create=False`` refuses a missing or older schema instead), in
``schema`` when given (PostgreSQL). Supported databases: SQLite (the
``pysqlite`` driver) and PostgreSQL (``psycopg``); the contract suite runs on
both.

>>> import sqlalchemy
>>> from enrollkit.testing.contract import NOTES, Note
>>> engine = sqlalchemy.create_engine("sqlite://")
>>> storage = SQLAlchemyStorage(engine)
>>> with storage.unit_of_work() as uow:
...     _ = uow.repository(NOTES).add(Note("n1", "ana", "Hello"))
...     uow.commit()
>>> print(*sorted(sqlalchemy.inspect(engine).get_table_names())[:2])
enrollkit_aggregates enrollkit_audit_entries
>>> storage.audit.verify().ok
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Unpack

try:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "enrollkit.adapters.sqlalchemy needs SQLAlchemy 2: pip install 'enrollkit[sqlalchemy]'"
    ) from exc

from enrollkit.adapters import kit
from enrollkit.errors import ValidationError

__all__ = ["SCHEMA_VERSION", "SQLAlchemyStorage", "tables"]

#: The schema version this code creates.
SCHEMA_VERSION: Final = 1

_NAME = re.compile(r"\A[a-z_][a-z0-9_]{0,40}\Z")
#: PostgreSQL SQLSTATEs of a transaction aborted for concurrency: run it again.
_RETRY_SQLSTATES: Final = frozenset({"40001", "40P01"})
#: Advisory-lock namespace ("enrl") for creating the schema and rebuilding indexes.
_LOCK_NAMESPACE: Final = 0x656E726C


def tables(metadata: sa.MetaData, *, table_prefix: str = "enrollkit_") -> dict[str, sa.Table]:
    """The shared schema's tables on *metadata* (a host may add them to its own migrations).

    Keys compare like Python strings on every database (PostgreSQL: the ``"C"`` collation).
    """
    key = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
    p = table_prefix
    aggregates = sa.Table(
        f"{p}aggregates",
        metadata,
        sa.Column("collection", key, primary_key=True),
        sa.Column("id", key, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    entries = sa.Table(
        f"{p}index_entries",
        metadata,
        sa.Column("collection", key, primary_key=True),
        sa.Column("index_name", key, primary_key=True),
        sa.Column("key", key, primary_key=True),
        sa.Column("id", key, primary_key=True),
        sa.Column("is_unique", sa.Boolean, nullable=False),
    )
    sa.Index(
        f"{p}index_entries_unique",
        entries.c.collection,
        entries.c.index_name,
        entries.c.key,
        unique=True,
        sqlite_where=entries.c.is_unique,
        postgresql_where=entries.c.is_unique,
    )
    sa.Index(f"{p}index_entries_owner", entries.c.collection, entries.c.id)
    audit = sa.Table(
        f"{p}audit_entries",
        metadata,
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("subject", key, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    sa.Index(f"{p}audit_by_subject", audit.c.subject, audit.c.seq)
    head = sa.Table(
        f"{p}audit_head",
        metadata,
        sa.Column("one", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.Text, nullable=False),
    )
    collections = sa.Table(
        f"{p}collections",
        metadata,
        sa.Column("name", key, primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
    )
    version = sa.Table(
        f"{p}schema_version",
        metadata,
        sa.Column("one", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    return {
        "aggregates": aggregates,
        "index_entries": entries,
        "audit_entries": audit,
        "audit_head": head,
        "collections": collections,
        "schema_version": version,
    }


class _Executor:
    """A SQLAlchemy connection as the kit's executor (driver-level SQL, positional)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> kit.Cursor:
        return self.conn.exec_driver_sql(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self.conn.exec_driver_sql(sql, [tuple(row) for row in rows])


class SQLAlchemyStorage(kit.SqlBackend):
    """Aggregates and the audit chain in the host's database, through SQLAlchemy Core.

    *bind* is an :class:`~sqlalchemy.engine.Engine` or a host's
    :class:`~sqlalchemy.engine.Connection`. ``schema`` (PostgreSQL) and ``table_prefix``
    place the tables; ``create`` creates a missing schema; the options of every SQL
    adapter follow (:class:`~enrollkit.adapters.kit.SqlOptions`).
    """

    driver_errors = (SQLAlchemyError,)

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        schema: str | None = None,
        table_prefix: str = "enrollkit_",
        create: bool = True,
        **options: Unpack[kit.SqlOptions],
    ) -> None:
        if not isinstance(bind, Engine | Connection):
            raise ValidationError(
                "storage.sqlalchemy_bind",
                "SQLAlchemyStorage takes a SQLAlchemy Engine or Connection; got "
                f"{type(bind).__name__}.",
            )
        for what, value in (("schema", schema), ("table_prefix", table_prefix)):
            if value is not None and not _NAME.match(value):
                raise ValidationError(
                    "storage.sqlalchemy_name",
                    f"The {what} must be lowercase letters, digits and underscores, starting "
                    "with a letter or underscore (at most 41 characters).",
                    what=what,
                )
        dialect = bind.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValidationError(
                "storage.sqlalchemy_dialect",
                f"SQLAlchemyStorage supports SQLite and PostgreSQL; this engine is {dialect}.",
                dialect=dialect,
            )
        self._bind = bind
        self._dialect = dialect
        self._schema = schema
        self._prefix = table_prefix
        self._tables = tables(sa.MetaData(schema=schema), table_prefix=table_prefix)
        qualified = f'"{schema}".' if schema else ""
        placeholder = "?" if dialect == "sqlite" else "%s"
        # The writer lock before the audit head is read: PostgreSQL locks the head row;
        # SQLite takes its one writer lock with a write to it.
        lock = (
            "SELECT one FROM {head} WHERE one = 1 FOR UPDATE"
            if dialect == "postgresql"
            else "UPDATE {head} SET count = count WHERE one = 1"
        )
        super().__init__(
            kit.SqlStatements.build(
                placeholder=placeholder, prefix=qualified, tables=table_prefix, lock_head=(lock,)
            ),
            **options,
        )
        self.forbids_nul = dialect == "postgresql"
        self.database = "PostgreSQL" if dialect == "postgresql" else "SQLite"
        self._write_transaction("preparing the schema", lambda conn: self._prepare(conn, create))

    def __repr__(self) -> str:
        kind = "engine" if isinstance(self._bind, Engine) else "connection"
        return f"SQLAlchemyStorage({kind}, {self._dialect}, prefix={self._prefix!r})"

    def schema_version(self) -> int:
        """The schema version stored in the database."""
        table = self._tables["schema_version"]
        with self._reading("reading the schema version") as conn:
            row = conn.execute(f"SELECT version FROM {_name(table)}").fetchone()  # noqa: S608
        return 0 if row is None else int(row[0])

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def _connect(self, *, snapshot: bool) -> Iterator[kit.Executor]:
        bind = self._bind
        if isinstance(bind, Connection):  # the host's connection, in the host's transaction
            yield _Executor(bind)
            return
        with bind.connect() as conn:  # closing it ends the read (nothing was written)
            if not snapshot:
                yield _Executor(conn)
            elif self._dialect == "postgresql":
                with conn.begin():
                    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    yield _Executor(conn)
            else:
                conn.exec_driver_sql("BEGIN")  # pysqlite begins only before writes: ask
                try:
                    yield _Executor(conn)
                finally:
                    conn.exec_driver_sql("COMMIT")

    def _attempt(self, body: Callable[[kit.Executor], None]) -> None:
        bind = self._bind
        if isinstance(bind, Engine):
            with bind.begin() as conn:
                body(_Executor(conn))
            return
        with bind.begin_nested():  # a savepoint in the host's transaction; the host commits
            body(_Executor(bind))

    @contextmanager
    def _transaction(self) -> Iterator[kit.Executor]:
        """A flushing unit's transaction: a connection of its own from the engine's pool,
        or a savepoint in the host's transaction on its connection."""
        bind = self._bind
        if isinstance(bind, Engine):
            with bind.begin() as conn:
                yield _Executor(conn)
            return
        with bind.begin_nested():
            yield _Executor(bind)

    def _retryable(self, exc: BaseException) -> bool:
        if not isinstance(exc, DBAPIError):
            return False
        original = exc.orig
        if getattr(original, "sqlstate", None) in _RETRY_SQLSTATES:
            return True
        text = str(original).lower()
        return self._dialect == "sqlite" and ("locked" in text or "busy" in text)

    def _unavailable(self, exc: BaseException) -> bool:
        return isinstance(exc, DBAPIError) and exc.connection_invalidated

    def _lock_collection(self, conn: kit.Executor, name: str) -> None:
        if self._dialect == "postgresql":
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE + 1, name)
            )
        else:
            conn.execute(self.statements.lock_head[0])

    def _prepare(self, conn: kit.Executor, create: bool) -> None:
        assert isinstance(conn, _Executor)
        where = f"The enrollkit tables ({self._prefix}*)"
        if self._dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, where))
            if self._schema:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
        version = self._tables["schema_version"]
        present = sa.inspect(conn.conn).has_table(version.name, schema=self._schema)
        current = 0
        if present:
            row = conn.execute(f"SELECT version FROM {_name(version)}").fetchone()  # noqa: S608
            current = 0 if row is None else int(row[0])
        migrations = ((),)  # version 1: the tables, created from their SQLAlchemy definitions
        if not kit.run_migrations(conn, migrations, current, where=where, migrate=create):
            return
        self._tables["aggregates"].metadata.create_all(conn.conn, checkfirst=True)
        p = self.placeholder
        conn.execute(
            f"INSERT INTO {_name(self._tables['audit_head'])} (one, count, last_hash) "  # noqa: S608
            f"VALUES (1, 0, '') ON CONFLICT (one) DO NOTHING"
        )
        conn.execute(
            f"INSERT INTO {_name(version)} (one, version) VALUES (1, {p}) "  # noqa: S608
            "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
            (SCHEMA_VERSION,),
        )

    def close(self) -> None:
        """Refuse later use (the engine or connection stays the host's to dispose of)."""
        super().close()


def _name(table: sa.Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
