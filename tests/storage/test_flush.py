"""ST-1: flushing is optional; stores and units that cannot flush still keep the contract,
and a flushing SQLite unit holds one batch in memory, not the unit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from enrollkit.adapters import kit
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.audit import AuditLog, DomainEvent
from enrollkit.storage import (
    Collection,
    Index,
    Repository,
    Storage,
    UnitOfWork,
    add_many,
    find_ids,
    flush,
    get_many,
)
from enrollkit.testing.contract import NOTES, Note, StorageContract

BY_OWNER = NOTES.index("owner")


class _NoFlushSQLite(SQLiteStorage):
    """A SQL store whose adapter does not implement ``_transaction``: it cannot flush."""

    _transaction = kit.SqlBackend._transaction  # type: ignore[assignment]


class _PlainRepository:
    """A third party's repository: no find_ids (its bulk methods delegate)."""

    def __init__(self, inner: Repository[Any]) -> None:
        self._inner = inner

    def get(self, obj_id: str) -> Any:
        return self._inner.get(obj_id)

    def add(self, obj: Any) -> Any:
        return self._inner.add(obj)

    def save(self, obj: Any) -> Any:
        return self._inner.save(obj)

    def get_many(self, ids: Sequence[str]) -> list[Any]:
        return get_many(self._inner, ids)

    def add_many(self, objs: Sequence[Any]) -> list[Any]:
        return add_many(self._inner, objs)

    def find(self, index: Index[Any], key: str) -> Sequence[Any]:
        return self._inner.find(index, key)

    def find_range(
        self, index: Index[Any], *, start: str | None = None, stop: str | None = None
    ) -> Sequence[Any]:
        return self._inner.find_range(index, start=start, stop=stop)


class _PlainUnit:
    """A third party's unit of work: no flush(), no bulk methods."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    def __enter__(self) -> _PlainUnit:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def repository(self, collection: Collection[Any]) -> Repository[Any]:
        return _PlainRepository(self._inner.repository(collection))

    def record(self, *events: DomainEvent) -> None:
        self._inner.record(*events)

    def commit(self) -> None:
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


class _PlainStorage:
    """A third party's storage without flushing, over the in-memory one."""

    def __init__(self, *, audit_key: bytes | None = None) -> None:
        self._inner = MemoryStorage(audit_key=audit_key)

    def unit_of_work(self) -> UnitOfWork:
        return _PlainUnit(self._inner.unit_of_work())

    @property
    def audit(self) -> AuditLog:
        return self._inner.audit

    def close(self) -> None:
        self._inner.close()


class TestAStoreThatCannotFlushKeepsTheContract(StorageContract):
    """The contract (flush tests included) on a third party's units without flush()."""

    def make_storage(self) -> Storage:
        return _PlainStorage()

    def make_keyed_storage(self, audit_key: bytes) -> Storage:
        return _PlainStorage(audit_key=audit_key)


class TestASqlAdapterWithoutTransactionsKeepsTheContract(StorageContract):
    """The contract on a SQL adapter that does not implement ``_transaction``."""

    thread_count = 0
    round_trip_examples = 5

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self._path = tmp_path
        self._count = 0

    def make_storage(self) -> Storage:
        self._count += 1
        return _NoFlushSQLite(self._path / f"s{self._count}.db")

    def make_keyed_storage(self, audit_key: bytes) -> Storage:
        self._count += 1
        return _NoFlushSQLite(self._path / f"s{self._count}.db", audit_key=audit_key)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SQLiteStorage]:
    storage = SQLiteStorage(tmp_path / "flush.db")
    yield storage
    storage.close()


def _rows_on_disk(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM enrollkit_aggregates").fetchone()[0])
    finally:
        conn.close()


class TestFlushingOnSQLite:
    def test_st_1_flushed_writes_leave_memory_and_wait_in_the_transaction(
        self, sqlite: SQLiteStorage
    ) -> None:
        """After flush() the unit buffers nothing; the rows are in the database file,
        unseen by another connection until the commit."""
        with sqlite.unit_of_work() as uow:
            assert isinstance(uow, kit.BufferedUnitOfWork)
            repo = uow.repository(NOTES)
            add_many(repo, [Note(f"n{i:03d}", "ana", f"T{i}") for i in range(300)])
            assert len(uow._writes) == 300
            flush(uow)
            assert uow._writes == {} and uow._seen == {}
            assert _rows_on_disk(sqlite.path) == 0
            assert len(find_ids(repo, BY_OWNER, "ana")) == 300
            uow.commit()
        assert _rows_on_disk(sqlite.path) == 300

    def test_st_1_a_store_without_transactions_keeps_buffering(self, tmp_path: Path) -> None:
        """A SQL adapter without ``_transaction`` has no begin(): flush() keeps the writes
        in the unit, and the commit writes them as before."""
        storage = _NoFlushSQLite(tmp_path / "plain.db")
        try:
            assert storage.begin() is None
            with storage.unit_of_work() as uow:
                uow.repository(NOTES).add(Note("n1", "ana", "One"))
                flush(uow)
                assert len(uow._writes) == 1
                uow.commit()
            with storage.unit_of_work() as uow:
                assert find_ids(uow.repository(NOTES), BY_OWNER, "ana") == ["n1"]
        finally:
            storage.close()

    def test_find_ids_falls_back_on_find(self) -> None:
        """find_ids() on a repository without a method of its own gives find()'s ids."""
        storage = _PlainStorage()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            repo.add(Note("n2", "ana", "Two"))
            repo.add(Note("n1", "ana", "One"))
            assert not hasattr(repo, "find_ids")
            assert find_ids(repo, BY_OWNER, "ana") == ["n1", "n2"]
            flush(uow)  # nothing to do, nothing happens
            uow.commit()
        assert list(storage.audit.entries()) == []
