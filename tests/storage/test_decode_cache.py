"""The SQL adapters' decode cache: decoded aggregates reused while their row is unchanged.

The row is read from the database every time; the cache only spares decoding it
again, so an edited row is never served stale (ST-4: a corrupt row is still refused).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from enrollkit.adapters.kit import DecodeCache
from enrollkit.adapters.postgres import PostgresStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.errors import StorageError, ValidationError
from enrollkit.testing.contract import NOTES, Note
from tests.storage.pg import drop_schemas, new_schema, require_dsn

Storage = SQLiteStorage | PostgresStorage
#: (storage, run one SQL statement against its database directly)
Opened = tuple[Storage, Callable[[str], None]]
Opener = Callable[..., Opened]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Open SQLite or PostgreSQL storages (with any decode_cache_size) for one test."""
    opened: list[Storage] = []
    schemas: list[str] = []
    dsn = require_dsn() if request.param == "postgres" else ""

    def open_(*, again: bool = False, decode_cache_size: int = 50_000) -> Opened:
        """A storage on a new database, or (again=True) on the last one opened."""
        if request.param == "sqlite":
            path = tmp_path / f"cache-{len(opened) - (1 if again else 0)}.db"
            storage: Storage = SQLiteStorage(path, decode_cache_size=decode_cache_size)

            def run(sql: str) -> None:
                with sqlite3.connect(path) as conn:
                    conn.execute(sql.replace("{table}", "enrollkit_aggregates"))

        else:
            import psycopg

            if not again:
                schemas.append(new_schema())
            schema = schemas[-1]
            storage = PostgresStorage(dsn, schema=schema, decode_cache_size=decode_cache_size)

            def run(sql: str) -> None:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(sql.replace("{table}", f'"{schema}".enrollkit_aggregates'))

        opened.append(storage)
        return storage, run

    yield open_
    for storage in opened:
        storage.close()
    if schemas:
        drop_schemas(dsn, schemas)


def _add(storage: Storage, *notes: Note) -> None:
    with storage.unit_of_work() as uow:
        for note in notes:
            uow.repository(NOTES).add(note)
        uow.commit()


def _get(storage: Storage, obj_id: str) -> Note | None:
    with storage.unit_of_work() as uow:
        return uow.repository(NOTES).get(obj_id)


class TestDecodeCache:
    def test_st_4_an_unchanged_row_is_decoded_once(self, open_storage: Opener) -> None:
        """Reading an unchanged row again hands out the same immutable object."""
        storage, _run = open_storage()
        _add(storage, Note("n1", "ana", "A"))
        first = _get(storage, "n1")
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            found = repo.find(NOTES.index("owner"), "ana")
            ranged = repo.find_range(NOTES.index("due"))
        assert first is not None
        assert _get(storage, "n1") is first
        assert found[0] is first
        assert ranged[0] is first
        assert storage.decode_cache.hits >= 3

    def test_st_2_a_new_version_is_decoded_afresh(self, open_storage: Opener) -> None:
        """A save makes a new version: readers get the new object, never the old one."""
        storage, _run = open_storage()
        other, _ = open_storage(again=True)
        _add(storage, Note("n1", "ana", "A"))
        before = _get(other, "n1")
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            current = repo.get("n1")
            assert current is not None
            repo.save(attrs.evolve(current, title="B"))
            uow.commit()
        after = _get(other, "n1")
        assert before is not None
        assert after is not None
        assert (before.title, after.title, after.version) == ("A", "B", 2)

    def test_st_4_a_row_edited_in_place_is_never_served_stale(self, open_storage: Opener) -> None:
        """A row changed behind the storage's back (same version) is decoded again: the
        cache compares the stored text, so it cannot hide an edit."""
        storage, run = open_storage()
        _add(storage, Note("n1", "ana", "A"))
        assert _get(storage, "n1") is not None
        run('UPDATE {table} SET data = replace(data, \'"title":"A"\', \'"title":"Z"\')')
        edited = _get(storage, "n1")
        assert edited is not None
        assert (edited.title, edited.version) == ("Z", 1)
        run("UPDATE {table} SET data = '{\"id\": 5}'")
        with pytest.raises(StorageError) as info:
            _get(storage, "n1")
        assert info.value.code == "storage.corrupt"

    def test_the_cache_is_bounded(self, open_storage: Opener) -> None:
        """At most decode_cache_size aggregates are kept."""
        storage, _run = open_storage(decode_cache_size=3)
        _add(storage, *(Note(f"n{i}", "ana", f"T{i}") for i in range(10)))
        with storage.unit_of_work() as uow:
            assert len(uow.repository(NOTES).find(NOTES.index("owner"), "ana")) == 10
        assert len(storage.decode_cache) == 3

    def test_size_zero_turns_it_off(self, open_storage: Opener) -> None:
        """decode_cache_size=0 decodes every read (equal objects, never the same one)."""
        storage, _run = open_storage(decode_cache_size=0)
        _add(storage, Note("n1", "ana", "A"))
        first, second = _get(storage, "n1"), _get(storage, "n1")
        assert first == second
        assert first is not second
        assert (len(storage.decode_cache), storage.decode_cache.hits) == (0, 0)

    def test_er_1_a_negative_size_is_refused(self) -> None:
        """A negative size is our ValidationError."""
        with pytest.raises(ValidationError) as info:
            DecodeCache(-1)
        assert info.value.code == "storage.decode_cache_size"

    def test_threads_share_the_cache_safely(self, open_storage: Opener) -> None:
        """Threads reading and writing through one small cache always see the right rows."""
        storage, _run = open_storage(decode_cache_size=8)
        _add(storage, *(Note(f"n{i}", f"owner{i}", f"T{i}") for i in range(32)))
        failures: list[BaseException] = []

        def reader(offset: int) -> None:
            try:
                for round_ in range(60):
                    i = (offset * 7 + round_) % 32
                    note = _get(storage, f"n{i}")
                    assert note is not None
                    assert (note.id, note.owner) == (f"n{i}", f"owner{i}")
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        assert len(storage.decode_cache) <= 8
