"""ST-1, ST-2 on the in-memory adapter: units of work and versioned saves."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import attrs
import pytest

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.audit import DomainEvent
from enrollkit.errors import ConflictError, NotFoundError, StorageError
from enrollkit.storage import Collection, Index, compose_key, require, time_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.frozen
class Note:
    id: str
    owner: str
    title: str
    due: datetime = T0
    tags: frozenset[str] = frozenset()
    version: int = 0


BY_OWNER = Index[Note]("owner", lambda n: [n.owner])
BY_TITLE = Index[Note]("title", lambda n: [n.title.lower()], unique=True)
BY_TAG = Index[Note]("tag", lambda n: sorted(n.tags))
BY_DUE = Index[Note]("due", lambda n: [time_key(n.due)], ordered=True)
NOTES = Collection("notes", Note, indexes=(BY_OWNER, BY_TITLE, BY_TAG, BY_DUE))


def must(note: Note | None) -> Note:
    assert note is not None
    return note


def event(name: str = "note.changed") -> DomainEvent:
    return DomainEvent(name, subject="n1", actor=None, at=T0)


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


def add(storage: MemoryStorage, *notes: Note) -> None:
    with storage.unit_of_work() as uow:
        for note in notes:
            uow.repository(NOTES).add(note)
        uow.commit()


class TestUnitOfWork:
    def test_st_1_rolls_back_unless_committed(self, storage: MemoryStorage) -> None:
        """Leaving the block without commit() keeps nothing: no aggregate, no event."""
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "First"))
            uow.record(event())
        with storage.unit_of_work() as uow:
            assert uow.repository(NOTES).get("n1") is None
        assert storage.audit.entries() == ()

    def test_st_1_rolls_back_on_error(self, storage: MemoryStorage) -> None:
        """An exception inside the block rolls everything back."""
        with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "First"))
            raise RuntimeError("boom")
        with storage.unit_of_work() as uow:
            assert uow.repository(NOTES).get("n1") is None

    def test_st_1_commit_applies_changes_and_events_together(self, storage: MemoryStorage) -> None:
        """A commit stores every change and appends every event to the chain."""
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "First"))
            uow.repository(NOTES).add(Note("n2", "ana", "Second"))
            uow.record(event("note.added"), event("note.added"))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert [n.id for n in uow.repository(NOTES).find(BY_OWNER, "ana")] == ["n1", "n2"]
        assert len(storage.audit.entries()) == 2
        assert storage.audit.verify().ok

    def test_st_1_a_failed_commit_writes_nothing(self, storage: MemoryStorage) -> None:
        """When one write of a unit conflicts, none of its writes or events land."""
        add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as first, storage.unit_of_work() as second:
            first.repository(NOTES).save(must(first.repository(NOTES).get("n1")))
            second_repo = second.repository(NOTES)
            second_repo.add(Note("n2", "bob", "Second"))
            second_repo.save(must(second_repo.get("n1")))
            second.record(event())
            first.commit()
            with pytest.raises(ConflictError):
                second.commit()
        with storage.unit_of_work() as uow:
            assert uow.repository(NOTES).get("n2") is None
        assert storage.audit.entries() == ()

    def test_unit_of_work_cannot_be_used_after_it_ends(self, storage: MemoryStorage) -> None:
        """Using a finished unit of work is our error, not silent."""
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            uow.commit()
        with pytest.raises(StorageError) as info:
            repo.get("n1")
        assert info.value.code == "storage.uow_closed"

    def test_reads_see_own_writes(self, storage: MemoryStorage) -> None:
        """Inside a unit, gets and index queries see the unit's own uncommitted writes."""
        add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            repo.save(attrs.evolve(must(repo.get("n1")), owner="bob"))
            repo.add(Note("n2", "bob", "Second"))
            assert [n.id for n in repo.find(BY_OWNER, "bob")] == ["n1", "n2"]
            assert repo.find(BY_OWNER, "ana") == []


class TestVersionedSaves:
    def test_st_2_versions_increase_on_each_save(self, storage: MemoryStorage) -> None:
        """add() stores version 1; each save() stores the next version."""
        add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            note = repo.get("n1")
            assert note is not None and note.version == 1
            saved = repo.save(attrs.evolve(note, title="Renamed"))
            assert saved.version == 2
            uow.commit()

    def test_st_2_stale_save_raises_conflict_and_changes_nothing(
        self, storage: MemoryStorage
    ) -> None:
        """Two writers load version 1; the second save is stale and overwrites nothing."""
        add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as a, storage.unit_of_work() as b:
            note_a = a.repository(NOTES).get("n1")
            note_b = b.repository(NOTES).get("n1")
            assert note_a is not None and note_b is not None
            a.repository(NOTES).save(attrs.evolve(note_a, title="By A"))
            a.commit()
            with pytest.raises(ConflictError) as info:  # at save() or at the latest at commit()
                b.repository(NOTES).save(attrs.evolve(note_b, title="By B"))
                b.commit()
        assert info.value.code == "storage.stale"
        with storage.unit_of_work() as uow:
            stored = uow.repository(NOTES).get("n1")
        assert stored is not None and (stored.title, stored.version) == ("By A", 2)

    def test_st_2_stale_save_is_refused_at_once_inside_a_unit(self, storage: MemoryStorage) -> None:
        """Saving an object older than the unit's own copy is refused immediately."""
        add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            old = repo.get("n1")
            assert old is not None
            repo.save(old)
            with pytest.raises(ConflictError):
                repo.save(old)

    def test_add_twice_is_a_conflict(self, storage: MemoryStorage) -> None:
        """Adding an id that exists is a conflict."""
        add(storage, Note("n1", "ana", "First"))
        with pytest.raises(ConflictError) as info:
            add(storage, Note("n1", "bob", "Other"))
        assert info.value.code == "storage.duplicate"

    def test_save_of_unknown_is_not_found(self, storage: MemoryStorage) -> None:
        """Saving something never added is NotFound, not an insert."""
        with storage.unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.repository(NOTES).save(Note("n9", "ana", "x", version=1))

    def test_add_requires_version_zero(self, storage: MemoryStorage) -> None:
        """A loaded object cannot be re-added as new."""
        with storage.unit_of_work() as uow, pytest.raises(StorageError):
            uow.repository(NOTES).add(Note("n1", "ana", "x", version=3))


class TestIndexes:
    def test_unique_index_is_enforced_case_insensitively(self, storage: MemoryStorage) -> None:
        """A unique index refuses a second holder of a key (as AC-1 needs)."""
        add(storage, Note("n1", "ana", "First"))
        with pytest.raises(ConflictError) as info:
            add(storage, Note("n2", "bob", "FIRST"))
        assert info.value.code == "storage.unique"

    def test_unique_index_is_enforced_across_concurrent_units(self, storage: MemoryStorage) -> None:
        """Two units that both claim a unique key: the second commit is refused."""
        with storage.unit_of_work() as a, storage.unit_of_work() as b:
            a.repository(NOTES).add(Note("n1", "ana", "Same"))
            b.repository(NOTES).add(Note("n2", "bob", "same"))
            a.commit()
            with pytest.raises(ConflictError):
                b.commit()

    def test_multi_valued_index(self, storage: MemoryStorage) -> None:
        """An aggregate appears under each of its keys; a changed key moves it."""
        add(
            storage,
            Note("n1", "ana", "A", tags=frozenset({"x", "y"})),
            Note("n2", "ana", "B", tags=frozenset({"y"})),
        )
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert [n.id for n in repo.find(BY_TAG, "y")] == ["n1", "n2"]
            repo.save(attrs.evolve(must(repo.get("n2")), tags=frozenset({"z"})))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert [n.id for n in uow.repository(NOTES).find(BY_TAG, "y")] == ["n1"]
            assert [n.id for n in uow.repository(NOTES).find(BY_TAG, "z")] == ["n2"]

    def test_range_query_orders_by_key(self, storage: MemoryStorage) -> None:
        """An ordered index answers deadline ranges in time order."""
        from datetime import timedelta

        add(
            storage,
            *(Note(f"n{i}", "ana", f"T{i}", due=T0 + timedelta(days=10 - i)) for i in range(10)),
        )
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            due = repo.find_range(
                BY_DUE,
                start=time_key(T0 + timedelta(days=3)),
                stop=time_key(T0 + timedelta(days=6)),
            )
            assert [n.id for n in due] == ["n7", "n6", "n5"]
            with pytest.raises(StorageError):
                repo.find_range(BY_OWNER)

    def test_compose_key_keeps_parts_apart(self) -> None:
        """Composite keys cannot collide by concatenation."""
        assert compose_key("a", "bc") != compose_key("ab", "c")

    def test_require_names_what_is_missing(self, storage: MemoryStorage) -> None:
        """require() raises NotFoundError with a code naming the thing."""
        with storage.unit_of_work() as uow, pytest.raises(NotFoundError) as info:
            require(uow.repository(NOTES), "n404", what="note")
        assert info.value.code == "note.not_found"


class TestThreads:
    def test_st_2_concurrent_threads_never_lose_an_update(self, storage: MemoryStorage) -> None:
        """Threads incrementing one counter with retries on conflict lose no increment."""
        add(storage, Note("n1", "ana", "0"))

        def worker() -> None:
            for _ in range(50):
                while True:
                    with storage.unit_of_work() as uow:
                        repo = uow.repository(NOTES)
                        note = repo.get("n1")
                        assert note is not None
                        try:
                            repo.save(attrs.evolve(note, title=str(int(note.title) + 1)))
                            uow.commit()
                        except ConflictError:
                            continue
                        break

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with storage.unit_of_work() as uow:
            note = uow.repository(NOTES).get("n1")
        assert note is not None and note.title == "200" and note.version == 201
