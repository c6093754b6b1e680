"""ST-3: the SQLAlchemy Core adapter passes the shipped storage contract suite on SQLite and
on PostgreSQL (through SQLAlchemy's psycopg dialect), and shares a host's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from enrollkit.adapters.sqlalchemy import SQLAlchemyStorage
from enrollkit.audit import DomainEvent
from enrollkit.errors import ValidationError
from enrollkit.storage import Storage
from enrollkit.testing.contract import NOTES, Note, StorageContract
from tests.storage.pg import drop_schemas, new_schema, require_dsn


def _pysqlite_transactions(engine: sa.Engine) -> sa.Engine:
    """SQLAlchemy's documented pysqlite recipe: SQLAlchemy, not the driver, begins
    transactions, so SAVEPOINTs nest as they should."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


@attrs.define
class _Opened:
    engines: list[sa.Engine] = attrs.Factory(list)


class TestSQLAlchemyOnSQLite(StorageContract):
    """The contract through SQLAlchemy's pysqlite dialect, a file per storage (ST-3)."""

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> Iterator[None]:
        self._tmp = tmp_path
        self._count = 0
        self._opened = _Opened()
        yield
        for engine in self._opened.engines:
            engine.dispose()

    def _engine(self, path: Path) -> sa.Engine:
        engine = sa.create_engine(f"sqlite:///{path}")
        self._opened.engines.append(engine)
        return engine

    def make_storage(self) -> SQLAlchemyStorage:
        self._count += 1
        return SQLAlchemyStorage(self._engine(self._tmp / f"sa-{self._count}.db"))

    def make_keyed_storage(self, audit_key: bytes) -> SQLAlchemyStorage:
        self._count += 1
        return SQLAlchemyStorage(
            self._engine(self._tmp / f"sa-{self._count}.db"), audit_key=audit_key
        )

    def reopen(self, storage: Storage) -> SQLAlchemyStorage:
        assert isinstance(storage, SQLAlchemyStorage)
        return SQLAlchemyStorage(self._engine(self._tmp / f"sa-{self._count}.db"))


@pytest.mark.postgres
class TestSQLAlchemyOnPostgres(StorageContract):
    """The contract through SQLAlchemy's psycopg dialect, a schema per storage (ST-3)."""

    @pytest.fixture(autouse=True)
    def _database(self) -> Iterator[None]:
        dsn = require_dsn()
        url = sa.engine.make_url(dsn).set(drivername="postgresql+psycopg")
        self._engine = sa.create_engine(url, pool_size=8)
        self._schemas: list[str] = []
        yield
        self._engine.dispose()
        drop_schemas(dsn, self._schemas)

    def make_storage(self) -> SQLAlchemyStorage:
        schema = new_schema()
        self._schemas.append(schema)
        return SQLAlchemyStorage(self._engine, schema=schema)

    def make_keyed_storage(self, audit_key: bytes) -> SQLAlchemyStorage:
        schema = new_schema()
        self._schemas.append(schema)
        return SQLAlchemyStorage(self._engine, schema=schema, audit_key=audit_key)

    def reopen(self, storage: Storage) -> SQLAlchemyStorage:
        assert isinstance(storage, SQLAlchemyStorage)
        return SQLAlchemyStorage(self._engine, schema=self._schemas[-1])


def _host_engines(tmp_path: Path) -> Iterator[sa.Engine]:
    yield _pysqlite_transactions(sa.create_engine(f"sqlite:///{tmp_path / 'host.db'}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def host_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """The host's engine: SQLite with the pysqlite recipe, or PostgreSQL (a fresh schema
    as the search path)."""
    if request.param == "sqlite":
        engine = _pysqlite_transactions(sa.create_engine(f"sqlite:///{tmp_path / 'host.db'}"))
        yield engine
        engine.dispose()
        return
    dsn = require_dsn()
    schema = new_schema()
    url = sa.engine.make_url(dsn).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, connect_args={"options": f"-c search_path={schema},public"})
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    yield engine
    engine.dispose()
    drop_schemas(dsn, [schema])


class TestTheHostsTransaction:
    """With a host's Connection, enrollkit's commits are savepoints in the host's
    transaction: the host's commit keeps them, its rollback discards them (ST-1)."""

    def test_st_1_the_hosts_rollback_discards_enrollkits_changes(
        self, host_engine: sa.Engine
    ) -> None:
        host = sa.Table("host_orders", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
        host.metadata.create_all(host_engine)
        with host_engine.connect() as conn:
            storage = SQLAlchemyStorage(conn)
            conn.commit()  # the tables exist from now on
            with conn.begin():
                conn.execute(host.insert().values(id=1))
                with storage.unit_of_work() as uow:
                    uow.repository(NOTES).add(Note("n1", "ana", "kept"))
                    uow.record(DomainEvent("note.added", subject="n1", actor="ana", at=_AT))
                    uow.commit()
            with conn.begin() as outer:
                conn.execute(host.insert().values(id=2))
                with storage.unit_of_work() as uow:
                    uow.repository(NOTES).add(Note("n2", "ana", "dropped"))
                    uow.record(DomainEvent("note.added", subject="n2", actor="ana", at=_AT))
                    uow.commit()
                outer.rollback()
        with host_engine.connect() as conn:
            later = SQLAlchemyStorage(conn)
            with later.unit_of_work() as uow:
                assert uow.repository(NOTES).get("n1") is not None
                assert uow.repository(NOTES).get("n2") is None
            assert [e.event.subject for e in later.audit.entries()] == ["n1"]
            assert later.audit.verify().ok
            assert [row[0] for row in conn.execute(sa.select(host.c.id))] == [1]

    def test_er_1_bad_arguments_are_our_errors(self, tmp_path: Path) -> None:
        """A bind that is no engine, a bad table prefix or a dialect we do not support."""
        cases: list[tuple[Any, dict[str, Any], str]] = [
            ("sqlite:///x.db", {}, "storage.sqlalchemy_bind"),
            (
                sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}"),
                {"table_prefix": "Robert'); DROP"},
                "storage.sqlalchemy_name",
            ),
        ]
        for bind, options, code in cases:
            with pytest.raises(ValidationError) as info:
                SQLAlchemyStorage(bind, **options)
            assert info.value.code == code


_AT = __import__("datetime").datetime(2026, 1, 5, tzinfo=__import__("datetime").UTC)
