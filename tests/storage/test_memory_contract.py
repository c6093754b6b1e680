"""ST-3: the in-memory adapter passes the shipped storage contract suite."""

from __future__ import annotations

from datetime import timedelta

import attrs

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.storage import time_key
from enrollkit.testing.contract import NOTES, T0, Note, StorageContract


class TestMemoryContract(StorageContract):
    """ST-1, ST-2, AU-1, ER-1 and ST-4 on MemoryStorage, through the contract suite (ST-3)."""

    def make_storage(self) -> MemoryStorage:
        return MemoryStorage()

    def make_keyed_storage(self, audit_key: bytes) -> MemoryStorage:
        return MemoryStorage(audit_key=audit_key)


class TestMemoryOrderedIndexBatches:
    def test_st_1_a_large_commit_keeps_an_ordered_index_in_order(self) -> None:
        """Commits changing hundreds of ordered keys at once (bulk adds, a sweep) leave the
        range index exactly as entry-by-entry changes would."""
        storage = MemoryStorage()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            for i in range(400):
                repo.add(
                    Note(f"n{i:03d}", "ana", f"T{i}", due=T0 + timedelta(hours=(i * 37) % 400))
                )
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            for i in range(0, 400, 2):  # 200 moved keys: removed and added in one commit
                note = repo.get(f"n{i:03d}")
                assert note is not None
                repo.save(attrs.evolve(note, due=T0 - timedelta(hours=i)))
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            found = [(n.due, n.id) for n in repo.find_range(NOTES.index("due"))]
            assert found == sorted(found)
            assert len(found) == 400
            early = repo.find_range(NOTES.index("due"), stop=time_key(T0))
            assert sorted(n.id for n in early) == [f"n{i:03d}" for i in range(2, 400, 2)]
