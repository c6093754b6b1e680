"""ST-3: the in-memory adapter passes the shipped storage contract suite."""

from __future__ import annotations

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.testing.contract import StorageContract


class TestMemoryContract(StorageContract):
    """ST-1, ST-2, AU-1, ER-1 and ST-4 on MemoryStorage, through the contract suite (ST-3)."""

    def make_storage(self) -> MemoryStorage:
        return MemoryStorage()
