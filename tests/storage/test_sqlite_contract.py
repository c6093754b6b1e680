"""ST-3: the SQLite adapter passes the shipped storage contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.storage import Storage
from enrollkit.testing.contract import StorageContract


class TestSQLiteContract(StorageContract):
    """ST-1, ST-2, AU-1, ER-1 and ST-4 on SQLiteStorage, through the contract suite (ST-3)."""

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self._count = 0

    def make_storage(self) -> SQLiteStorage:
        self._count += 1
        return SQLiteStorage(self._tmp / f"contract-{self._count}.db")

    def make_keyed_storage(self, audit_key: bytes) -> SQLiteStorage:
        self._count += 1
        return SQLiteStorage(self._tmp / f"contract-{self._count}.db", audit_key=audit_key)

    def reopen(self, storage: Storage) -> SQLiteStorage:
        assert isinstance(storage, SQLiteStorage)
        return SQLiteStorage(storage.path)
