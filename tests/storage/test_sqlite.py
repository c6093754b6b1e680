"""The SQLite adapter's own guarantees: indexes used, pragmas, migrations, reindex, busy, AU-1."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from enrollkit.access import (
    CONNECTIONS,
    CONNECTIONS_PENDING_DEADLINE,
    Connection,
    ConnectionState,
    Side,
    System,
)
from enrollkit.adapters.sqlite import FIND_SQL, SCHEMA_VERSION, SQLiteStorage, range_sql
from enrollkit.audit import AuditEntry, ChainHead, chain
from enrollkit.errors import StorageError, ValidationError
from enrollkit.storage import Collection, Index, add_many, save_many, time_key
from enrollkit.testing.contract import NOTES, T0, Note
from enrollkit.testing.strategies import DOMAIN_STRATEGIES
from tests.storage.workers import event


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "enroll.db"


@pytest.fixture
def storage(path: Path) -> Iterator[SQLiteStorage]:
    storage = SQLiteStorage(path)
    yield storage
    storage.close()


def _add(storage: SQLiteStorage, *notes: Note) -> None:
    with storage.unit_of_work() as uow:
        for note in notes:
            uow.repository(NOTES).add(note)
        uow.record(event("note.added", "n1"))
        uow.commit()


def _add_to(storage: SQLiteStorage, collection: Collection[Any], *objs: Any) -> None:
    with storage.unit_of_work() as uow:
        add_many(uow.repository(collection), objs)
        uow.commit()


def _entries_of(path: Path, obj_id: str) -> list[tuple[str, str]]:
    """The (index, key) entries stored for *obj_id*, read with plain sqlite3."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT index_name, key FROM enrollkit_index_entries WHERE id = ? "
            "ORDER BY index_name, key",
            (obj_id,),
        ).fetchall()
    return [(str(name), str(key)) for name, key in rows]


#: The host's audit key in these tests (32 bytes or more, AU-1).
AUDIT_KEY = bytes(range(100, 140))


def _forge_from(path: Path, entries: list[AuditEntry], *, edited: int) -> None:
    """Do what an attacker with write access but no key can: set entry *edited*'s actor
    to mallory and recompute it and every later hash, and the head, with plain SHA-256."""
    events = [entry.event for entry in entries]
    events[edited] = attrs.evolve(events[edited], actor="mallory")
    prev = entries[edited - 1].hash if edited else "0" * 64
    forged = chain(events[edited:], after=ChainHead(count=edited, last_hash=prev))
    with sqlite3.connect(path) as conn:
        for entry in forged:
            conn.execute(
                "UPDATE enrollkit_audit_entries SET actor = ?, prev_hash = ?, hash = ? "
                "WHERE seq = ?",
                (entry.event.actor, entry.prev_hash, entry.hash, entry.seq),
            )
        conn.execute(
            "UPDATE enrollkit_audit_head SET count = ?, last_hash = ?",
            (len(entries), forged[-1].hash),
        )


def _plan(path: Path, sql: str, params: tuple[str, ...]) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


class TestQueryPlans:
    def test_find_is_an_index_search_not_a_scan(self, storage: SQLiteStorage, path: Path) -> None:
        """find() searches the index-entry primary key and the aggregate primary key."""
        _add(storage, *(Note(f"n{i}", f"owner{i % 7}", f"T{i}") for i in range(200)))
        plan = _plan(path, FIND_SQL, ("contract_notes", "owner", "owner3"))
        assert "SCAN" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        assert plan.count("SEARCH") == 2, plan

    @pytest.mark.parametrize(
        ("start", "stop"), [(True, True), (True, False), (False, True), (False, False)]
    )
    def test_range_is_an_index_range_in_key_order(
        self, storage: SQLiteStorage, path: Path, start: bool, stop: bool
    ) -> None:
        """find_range() walks the index-entry primary key in (key, id) order: no scan, no sort."""
        _add(storage, *(Note(f"n{i}", "ana", f"T{i}") for i in range(200)))
        params = ("contract_notes", "due") + (("a",) if start else ()) + (("z",) if stop else ())
        plan = _plan(path, range_sql(start=start, stop=stop), params)
        assert "SCAN" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        assert "SEARCH e USING PRIMARY KEY" in plan, plan


class TestFile:
    def test_pragmas_wal_full_sync_foreign_keys(self, storage: SQLiteStorage) -> None:
        """Connections use WAL, synchronous=FULL, foreign keys and a busy timeout."""
        conn = storage._connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000

    def test_connections_of_finished_threads_are_closed(self, storage: SQLiteStorage) -> None:
        """Each thread gets its own connection; those of finished threads do not pile up."""

        def read() -> None:
            with storage.unit_of_work() as uow:
                uow.repository(NOTES).get("n1")

        for _ in range(10):
            thread = threading.Thread(target=read)
            thread.start()
            thread.join()
        assert len(storage._connections) <= 2  # this thread's and the last one's

    def test_schema_version_is_recorded_and_reopening_keeps_data(self, path: Path) -> None:
        """The schema version is PRAGMA user_version; reopening migrates nothing and loses nothing."""
        first = SQLiteStorage(path)
        _add(first, Note("n1", "ana", "A"))
        first.close()
        again = SQLiteStorage(path)
        try:
            assert again.schema_version() == SCHEMA_VERSION
            with again.unit_of_work() as uow:
                assert uow.repository(NOTES).get("n1") == Note("n1", "ana", "A", version=1)
            assert again.audit.verify().ok
        finally:
            again.close()

    def test_a_newer_schema_is_refused(self, path: Path) -> None:
        """A file written by a newer enrollkit is refused with our error."""
        SQLiteStorage(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        with pytest.raises(StorageError) as info:
            SQLiteStorage(path)
        assert info.value.code == "storage.schema_too_new"

    def test_memory_path_is_refused(self) -> None:
        """':memory:' would give each thread its own database: refused, MemoryStorage suggested."""
        with pytest.raises(ValidationError) as info:
            SQLiteStorage(":memory:")
        assert "MemoryStorage" in str(info.value)

    def test_unopenable_path_is_our_error(self, tmp_path: Path) -> None:
        """A path in a missing directory is a StorageError, not sqlite3's."""
        with pytest.raises(StorageError):
            SQLiteStorage(tmp_path / "missing" / "dir" / "x.db")

    def test_corrupt_row_is_our_error(self, storage: SQLiteStorage, path: Path) -> None:
        """A row that no longer reads as its type is a StorageError naming the collection."""
        _add(storage, Note("n1", "ana", "A"))
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE enrollkit_aggregates SET data = '{\"id\": 5}'")
        with storage.unit_of_work() as uow, pytest.raises(StorageError) as info:
            uow.repository(NOTES).get("n1")
        assert info.value.code == "storage.corrupt"


class WithoutBaseKeys(SQLiteStorage):
    """A store that does not take base keys: every update rewrites all its entries."""

    rewrites_changed_keys = False


class TestIndexEntriesOfUpdates:
    @pytest.mark.parametrize("store", [SQLiteStorage, WithoutBaseKeys])
    @pytest.mark.parametrize("count", [1, 3])
    def test_st_2_updates_leave_exactly_the_entries_of_the_new_keys(
        self, path: Path, store: type[SQLiteStorage], count: int
    ) -> None:
        """Given base keys an update removes and adds only the entries whose keys changed;
        without them it rewrites all of them; either way, row by row or batched, the
        stored entries are those of the new keys."""
        storage = store(path)
        notes = [Note(f"n{i}", "ana", f"T{i}", tags=frozenset("ab")) for i in range(count)]
        _add(storage, *notes)
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            for note in notes:
                repo.save(attrs.evolve(note, version=1, owner="bob", tags=frozenset("bc")))
            assert bool(uow._writes.base_keys) is store.rewrites_changed_keys
            uow.commit()
        storage.close()
        assert _entries_of(path, "n0") == [
            ("due", "2026-01-01T00:00:00.000000Z"),
            ("owner", "bob"),
            ("tag", "b"),
            ("tag", "c"),
            ("title", "t0"),
        ]

    @pytest.mark.parametrize("collection", [c for c, _ in DOMAIN_STRATEGIES], ids=str)
    def test_st_2_every_domain_aggregate_takes_a_weak_reference(
        self, collection: Collection[Any]
    ) -> None:
        """A unit diffs an update's index entries against what it read, held by a weak
        reference: every collection enrollkit defines stores a type that takes one."""
        assert collection.type.__weakrefoffset__, collection.type.__name__

    def test_co_5_a_swept_connection_rewrites_only_its_changed_entries(self, path: Path) -> None:
        """The CO-5 sweep's bulk save of expired requests carries their base keys, so
        SQLite deletes only the deadline and pending-pair entries and keeps the others."""
        storage = SQLiteStorage(path)
        pending = Connection(
            "conn-1",
            surrogate_id="org-1",
            profile_id="prof-1",
            requested_systems=frozenset({System.PECOS}),
            approved_systems=frozenset(),
            initiator=Side.SURROGATE,
            requested_by="ana",
            requested_at=T0,
            state=ConnectionState.PENDING,
        )
        _add_to(storage, CONNECTIONS, pending)
        later = T0 + timedelta(days=31)
        with storage.unit_of_work() as uow:
            repo = uow.repository(CONNECTIONS)
            due = repo.find_range(CONNECTIONS_PENDING_DEADLINE, stop=time_key(later))
            save_many(repo, [c.expire(now=later) for c in due])
            assert set(uow._writes.base_keys) == {(CONNECTIONS.name, "conn-1")}
            uow.commit()
        storage.close()
        assert [name for name, _key in _entries_of(path, "conn-1")] == ["profile", "surrogate"]


class TestReindex:
    def test_a_new_index_is_built_on_first_use(self, path: Path) -> None:
        """Declaring another index rebuilds the collection's entries (fingerprint changed)."""
        plain = Collection("notes", Note, indexes=(Index[Note]("owner", lambda n: [n.owner]),))
        first = SQLiteStorage(path)
        with first.unit_of_work() as uow:
            uow.repository(plain).add(Note("n1", "ana", "Alpha"))
            uow.repository(plain).add(Note("n2", "bob", "Beta"))
            uow.commit()
        first.close()
        by_title = Index[Note]("title", lambda n: [n.title.lower()], unique=True)
        richer = Collection("notes", Note, indexes=(*plain.indexes, by_title))
        again = SQLiteStorage(path)
        try:
            with again.unit_of_work() as uow:
                repo = uow.repository(richer)
                assert [n.id for n in repo.find(by_title, "beta")] == ["n2"]
                assert [n.id for n in repo.find(richer.index("owner"), "ana")] == ["n1"]
        finally:
            again.close()

    def test_reindex_after_a_key_function_changed(self, storage: SQLiteStorage) -> None:
        """reindex() recomputes keys when a key function changed under the same name."""
        upper = Index[Note]("owner", lambda n: [n.owner.upper()])
        changed = Collection(NOTES.name, Note, indexes=(upper, *NOTES.indexes[1:]))
        _add(storage, Note("n1", "ana", "A"))
        storage.reindex(changed)
        with storage.unit_of_work() as uow:
            assert [n.id for n in uow.repository(changed).find(upper, "ANA")] == ["n1"]


class TestBusy:
    def test_a_locked_database_is_retried_then_our_error(self, path: Path) -> None:
        """Another writer holding the lock: bounded retries, then StorageError storage.busy."""
        storage = SQLiteStorage(path, busy_timeout=0.01, retries=2)
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageError) as info:
                _add(storage, Note("n1", "ana", "A"))
            assert info.value.code == "storage.busy"
            blocker.execute("ROLLBACK")
            _add(storage, Note("n1", "ana", "A"))  # free again: the same write succeeds
            with storage.unit_of_work() as uow:
                assert uow.repository(NOTES).get("n1") is not None
        finally:
            blocker.close()
            storage.close()


class TestAuditTables:
    def test_au_1_an_edited_entry_is_detected(self, storage: SQLiteStorage, path: Path) -> None:
        """Editing a stored audit entry breaks verify() at that entry."""
        for i in range(3):
            _add(storage, Note(f"n{i}", "ana", f"T{i}"))
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE enrollkit_audit_entries SET actor = 'mallory' WHERE seq = 1")
        verdict = storage.audit.verify()
        assert not verdict.ok
        assert verdict.first_broken == 1

    def test_au_1_a_removed_tail_is_detected(self, storage: SQLiteStorage, path: Path) -> None:
        """Deleting the last entries is caught by the stored head."""
        for i in range(3):
            _add(storage, Note(f"n{i}", "ana", f"T{i}"))
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM enrollkit_audit_entries WHERE seq = 2")
        verdict = storage.audit.verify()
        assert not verdict.ok
        assert verdict.first_broken == 2

    @pytest.mark.parametrize("keyed", [True, False])
    def test_au_1_a_rebuilt_chain_is_caught_only_with_a_key(self, path: Path, keyed: bool) -> None:
        """An attacker who edits a row and recomputes every later hash (and the head) with
        plain SHA-256 is caught by a keyed chain; an unkeyed chain cannot tell (the
        documented limit), though an anchor taken before the edit still can."""
        storage = SQLiteStorage(path, audit_key=AUDIT_KEY if keyed else None)
        try:
            for i in range(4):
                _add(storage, Note(f"n{i}", "ana", f"T{i}"))
            anchor = storage.audit.head()
            assert anchor is not None
            assert storage.audit.verify().ok
            _forge_from(path, list(storage.audit.entries()), edited=1)
            assert [e.event.actor for e in storage.audit.entries()][1] == "mallory"
            verdict = storage.audit.verify()
            if keyed:
                assert (verdict.ok, verdict.first_broken) == (False, 1)
                assert verdict.reason is not None and "audit key" in verdict.reason
            else:
                assert verdict.ok  # without a key a full rebuild is undetectable...
            caught = storage.audit.verify(anchor=anchor)  # ...except by an anchor
            assert (caught.ok, caught.first_broken) == (False, 1 if keyed else 3)
        finally:
            storage.close()

    def test_au_1_a_log_verifies_only_with_the_key_it_was_written_with(self, path: Path) -> None:
        """Reopening a keyed database without its key, or with another, reports the chain
        broken at its first entry; an unkeyed database opened with a key too."""
        with_key = SQLiteStorage(path, audit_key=AUDIT_KEY)
        _add(with_key, Note("n1", "ana", "T"))
        with_key.close()
        for key in (None, bytes(reversed(AUDIT_KEY))):
            other = SQLiteStorage(path, audit_key=key)
            verdict = other.audit.verify()
            other.close()
            assert (verdict.ok, verdict.first_broken) == (False, 0)
        again = SQLiteStorage(path, audit_key=AUDIT_KEY)
        assert again.audit.verify().ok
        assert AUDIT_KEY.hex() not in repr(again)
        again.close()
        plain = SQLiteStorage(path.with_name("plain.db"))
        _add(plain, Note("n1", "ana", "T"))
        plain.close()
        keyed = SQLiteStorage(path.with_name("plain.db"), audit_key=AUDIT_KEY)
        assert keyed.audit.verify().first_broken == 0
        keyed.close()

    def test_au_1_events_keep_their_content(self, storage: SQLiteStorage) -> None:
        """Stored events read back equal, with their time and data."""
        recorded = event("note.added", "n1", "ana", count=2, names=["a", "b"])
        with storage.unit_of_work() as uow:
            uow.record(recorded)
            uow.commit()
        (entry,) = storage.audit.entries()
        assert entry.event == attrs.evolve(recorded, data={"count": 2, "names": ["a", "b"]})
        assert entry.event.at == T0


class TestWithTheRuntime:
    def test_au_1_a_use_case_on_sqlite_commits_changes_and_events(
        self, storage: SQLiteStorage
    ) -> None:
        """A runtime transaction on SQLite stores the change and its event atomically."""
        from tests.conftest import make_runtime

        runtime = make_runtime(storage)
        with runtime.transaction() as tx:
            note_id = tx.new_id("note")
            tx.repo(NOTES).add(Note(note_id, "ana", "Hello"))
            tx.record("note.added", subject=note_id, actor="ana", title_length=5)
            tx.commit()
        with runtime.transaction() as tx:
            tx.repo(NOTES).add(Note("other", "bob", "Not kept"))
            tx.record("note.added", subject="other", actor="bob")
        (entry,) = storage.audit.for_subject(note_id)
        assert entry.event.data == {"title_length": 5}
        assert [e.event.subject for e in storage.audit.entries()] == [note_id]
        with storage.unit_of_work() as uow:
            assert uow.repository(NOTES).get("other") is None


class TestCommittedVersion:
    def test_st_1_the_version_moves_with_every_commit_from_anywhere(
        self, storage: SQLiteStorage, path: Path
    ) -> None:
        """The reader's committed version (under which decisions are remembered) stays
        put while nothing commits and moves after a commit through this storage or
        through another connection to the file, as another process would make."""
        reader = storage.reader()
        before = reader.committed_version
        assert reader.committed_version == before
        _add(storage, Note("n1", "ana", "a"))
        after_own = reader.committed_version
        assert after_own != before
        other = SQLiteStorage(path)
        try:
            _add(other, Note("n2", "bo", "b"))
        finally:
            other.close()
        assert reader.committed_version != after_own
        with sqlite3.connect(path) as conn:  # a writer that is not enrollkit at all
            conn.execute("UPDATE enrollkit_aggregates SET version = version WHERE id = 'n1'")
        assert reader.committed_version not in (before, after_own)

    def test_st_1_a_closed_storage_has_no_version(self, path: Path) -> None:
        """Once closed, asking the version is refused like any read."""
        storage = SQLiteStorage(path)
        reader = storage.reader()
        storage.close()
        with pytest.raises(StorageError) as info:
            reader.committed_version  # noqa: B018
        assert info.value.code == "storage.closed"
