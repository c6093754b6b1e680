"""The PostgreSQL adapter's own guarantees: indexes used, migrations, reindex, AU-1, errors.

Needs ENROLLKIT_PG_DSN (see .ci/postgres.sh); each test uses a fresh schema.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from enrollkit.adapters.postgres import SCHEMA_VERSION, PostgresStorage
from enrollkit.audit import ChainHead, chain
from enrollkit.errors import StorageError, ValidationError
from enrollkit.storage import Collection, Index
from enrollkit.testing.contract import NOTES, Note
from tests.storage.pg import drop_schemas, new_schema, require_dsn
from tests.storage.workers import event

pytestmark = pytest.mark.postgres

Opener = Callable[..., PostgresStorage]

#: The host's audit key in these tests (32 bytes or more, AU-1).
AUDIT_KEY = bytes(range(100, 140))


@pytest.fixture
def dsn() -> str:
    return require_dsn()


@pytest.fixture
def open_storage(dsn: str) -> Iterator[Opener]:
    """Open storages on one fresh schema (dropped after the test)."""
    schema = new_schema()
    opened: list[PostgresStorage] = []

    def opener(**options: Any) -> PostgresStorage:
        storage = PostgresStorage(dsn, schema=schema, **options)
        opened.append(storage)
        return storage

    yield opener
    for storage in opened:
        storage.close()
    drop_schemas(dsn, [schema])


def _add(storage: PostgresStorage, *notes: Note) -> None:
    with storage.unit_of_work() as uow:
        for note in notes:
            uow.repository(NOTES).add(note)
        uow.record(event("note.added", "n1"))
        uow.commit()


def _sql(storage: PostgresStorage, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with storage._connection() as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


class TestQueryPlans:
    def test_find_and_range_are_served_by_indexes(self, open_storage: Opener) -> None:
        """The find and range statements have index plans (no sequential scan is needed)."""
        storage = open_storage()
        _add(storage, *(Note(f"n{i}", f"owner{i % 7}", f"T{i}") for i in range(300)))
        sql = storage.statements
        with storage._connection() as conn, conn.transaction():
            conn.execute("SET LOCAL enable_seqscan = off")
            plans = {
                "find": conn.execute(
                    "EXPLAIN " + sql.find, ("contract_notes", "owner", "owner3")
                ).fetchall(),
                "range": conn.execute(
                    "EXPLAIN " + sql.ranges[(True, True)], ("contract_notes", "due", "a", "z")
                ).fetchall(),
            }
        for name, rows in plans.items():
            plan = "\n".join(row[0] for row in rows)
            assert "Seq Scan" not in plan, (name, plan)
            assert "enrollkit_index_entries_pkey" in plan, (name, plan)
            assert "Sort" not in plan, (name, plan)


class TestSchema:
    def test_schema_version_and_reopen(self, open_storage: Opener) -> None:
        """Migrations run once; reopening keeps the data."""
        first = open_storage()
        _add(first, Note("n1", "ana", "A"))
        again = open_storage()
        assert again.schema_version() == SCHEMA_VERSION
        with again.unit_of_work() as uow:
            assert uow.repository(NOTES).get("n1") == Note("n1", "ana", "A", version=1)

    def test_migrate_false_refuses_an_empty_schema(self, open_storage: Opener) -> None:
        """Without migrate=True an out-of-date schema is our error."""
        with pytest.raises(StorageError) as info:
            open_storage(migrate=False)
        assert info.value.code == "storage.schema_outdated"

    def test_a_newer_schema_is_refused(self, open_storage: Opener) -> None:
        """A schema written by a newer enrollkit is refused."""
        storage = open_storage()
        _sql(storage, f"UPDATE {storage._version_table} SET version = version + 1")
        with pytest.raises(StorageError) as info:
            open_storage()
        assert info.value.code == "storage.schema_too_new"

    def test_bad_arguments_are_validation_errors(self, dsn: str) -> None:
        """A bad schema name, or both/neither of dsn and pool, is refused clearly."""
        with pytest.raises(ValidationError):
            PostgresStorage(dsn, schema="Robert'); DROP TABLE x;--")
        with pytest.raises(ValidationError):
            PostgresStorage()

    def test_unreachable_server_is_our_error(self) -> None:
        """A DSN nobody answers is StorageError storage.unavailable, not psycopg's."""
        pytest.importorskip("psycopg", reason="psycopg is not installed (the postgres extra)")
        with pytest.raises(StorageError) as info:
            PostgresStorage("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
        assert info.value.code == "storage.unavailable"

    def test_a_missing_driver_is_our_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without psycopg installed, opening says which extra to install."""
        monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
        with pytest.raises(StorageError) as info:
            PostgresStorage("postgresql://nobody@127.0.0.1:1/none")
        assert info.value.code == "storage.driver_missing"
        assert "enrollkit[postgres]" in info.value.message

    def test_reindex_on_a_new_index(self, open_storage: Opener) -> None:
        """A collection declared with another index has its entries rebuilt on first use."""
        plain = Collection("notes", Note, indexes=(Index[Note]("owner", lambda n: [n.owner]),))
        storage = open_storage()
        with storage.unit_of_work() as uow:
            uow.repository(plain).add(Note("n1", "ana", "Alpha"))
            uow.commit()
        by_title = Index[Note]("title", lambda n: [n.title.lower()], unique=True)
        richer = Collection("notes", Note, indexes=(*plain.indexes, by_title))
        with open_storage().unit_of_work() as uow:
            assert [n.id for n in uow.repository(richer).find(by_title, "alpha")] == ["n1"]


class TestAuditTables:
    def test_au_1_an_edited_entry_is_detected(self, open_storage: Opener) -> None:
        """Editing a stored audit entry breaks verify() at that entry."""
        storage = open_storage()
        for i in range(3):
            _add(storage, Note(f"n{i}", "ana", f"T{i}"))
        table = f'"{storage.schema}".enrollkit_audit_entries'
        _sql(storage, f"UPDATE {table} SET actor = 'mallory' WHERE seq = 1")
        verdict = storage.audit.verify()
        assert not verdict.ok
        assert verdict.first_broken == 1

    def test_au_1_a_removed_tail_is_detected(self, open_storage: Opener) -> None:
        """Deleting the last entry is caught by the stored head."""
        storage = open_storage()
        for i in range(3):
            _add(storage, Note(f"n{i}", "ana", f"T{i}"))
        table = f'"{storage.schema}".enrollkit_audit_entries'
        _sql(storage, f"DELETE FROM {table} WHERE seq = 2")
        verdict = storage.audit.verify()
        assert not verdict.ok
        assert verdict.first_broken == 2

    @pytest.mark.parametrize("keyed", [True, False])
    def test_au_1_a_rebuilt_chain_is_caught_only_with_a_key(
        self, open_storage: Opener, keyed: bool
    ) -> None:
        """An attacker who edits a row and recomputes every later hash (and the head) with
        plain SHA-256 is caught by a keyed chain; an unkeyed chain cannot tell (the
        documented limit), though an anchor taken before the edit still can."""
        storage = open_storage(audit_key=AUDIT_KEY if keyed else None)
        for i in range(4):
            _add(storage, Note(f"n{i}", "ana", f"T{i}"))
        anchor = storage.audit.head()
        assert anchor is not None
        assert storage.audit.verify().ok
        entries = list(storage.audit.entries())
        events = [entry.event for entry in entries]
        events[1] = attrs.evolve(events[1], actor="mallory")
        forged = chain(events[1:], after=ChainHead(count=1, last_hash=entries[0].hash))
        schema = f'"{storage.schema}"'
        for entry in forged:
            _sql(
                storage,
                f"UPDATE {schema}.enrollkit_audit_entries "
                "SET actor = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                (entry.event.actor, entry.prev_hash, entry.hash, entry.seq),
            )
        _sql(
            storage,
            f"UPDATE {schema}.enrollkit_audit_head SET count = %s, last_hash = %s",
            (len(entries), forged[-1].hash),
        )
        assert storage.audit.entries()[1].event.actor == "mallory"
        verdict = storage.audit.verify()
        if keyed:
            assert (verdict.ok, verdict.first_broken) == (False, 1)
            assert verdict.reason is not None and "audit key" in verdict.reason
        else:
            assert verdict.ok  # without a key a full rebuild is undetectable...
        caught = storage.audit.verify(anchor=anchor)  # ...except by an anchor
        assert (caught.ok, caught.first_broken) == (False, 1 if keyed else 3)

    def test_au_1_a_log_verifies_only_with_the_key_it_was_written_with(
        self, open_storage: Opener
    ) -> None:
        """The same schema opened without its key, or with another, reports the chain
        broken at its first entry."""
        _add(open_storage(audit_key=AUDIT_KEY), Note("n1", "ana", "T"))
        assert open_storage(audit_key=AUDIT_KEY).audit.verify().ok
        for key in (None, bytes(reversed(AUDIT_KEY))):
            verdict = open_storage(audit_key=key).audit.verify()
            assert (verdict.ok, verdict.first_broken) == (False, 0)
        assert AUDIT_KEY.hex() not in repr(open_storage(audit_key=AUDIT_KEY))

    def test_er_1_nul_text_is_refused_by_us(self, open_storage: Opener) -> None:
        """PostgreSQL text cannot hold NUL: ids and keys with one are our ValidationError."""
        storage = open_storage()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert repo.get("a\x00b") is None
            assert list(repo.find(NOTES.index("owner"), "a\x00")) == []
            with pytest.raises(ValidationError) as info:
                repo.add(Note("a\x00b", "ana", "A"))
            assert info.value.code == "storage.text"
            stored = repo.add(Note("n1", "ana", "A", tags=frozenset({"ok"})))
            uow.commit()
        assert stored.version == 1
