"""ST-3: the PostgreSQL adapter passes the shipped storage contract suite.

Needs ENROLLKIT_PG_DSN (see .ci/postgres.sh); each storage gets a fresh schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from enrollkit.adapters.postgres import PostgresStorage
from enrollkit.storage import Storage
from enrollkit.testing.contract import StorageContract
from tests.storage.pg import drop_schemas, new_schema, require_dsn

pytestmark = pytest.mark.postgres


class TestPostgresContract(StorageContract):
    """ST-1, ST-2, AU-1, ER-1 and ST-4 on PostgresStorage, through the contract suite (ST-3)."""

    @pytest.fixture(autouse=True)
    def _database(self) -> Iterator[None]:
        self._dsn = require_dsn()
        self._schemas: list[str] = []
        yield
        drop_schemas(self._dsn, self._schemas)

    def make_storage(self) -> PostgresStorage:
        schema = new_schema()
        self._schemas.append(schema)
        return PostgresStorage(self._dsn, schema=schema)

    def make_keyed_storage(self, audit_key: bytes) -> PostgresStorage:
        schema = new_schema()
        self._schemas.append(schema)
        return PostgresStorage(self._dsn, schema=schema, audit_key=audit_key)

    def reopen(self, storage: Storage) -> PostgresStorage:
        assert isinstance(storage, PostgresStorage)
        return PostgresStorage(self._dsn, schema=storage.schema)


class TestPostgresContractWithPool(TestPostgresContract):
    """The same contract with connections lent by a psycopg_pool.ConnectionPool (ST-3)."""

    round_trip_examples = 10

    @pytest.fixture(autouse=True)
    def _pool(self, _database: None) -> Iterator[None]:
        from psycopg_pool import ConnectionPool

        with ConnectionPool(
            self._dsn, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True
        ) as pool:
            self._pool_ = pool
            yield

    def make_storage(self) -> PostgresStorage:
        schema = new_schema()
        self._schemas.append(schema)
        return PostgresStorage(pool=self._pool_, schema=schema)

    def make_keyed_storage(self, audit_key: bytes) -> PostgresStorage:
        schema = new_schema()
        self._schemas.append(schema)
        return PostgresStorage(pool=self._pool_, schema=schema, audit_key=audit_key)
