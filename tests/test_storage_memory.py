"""The in-memory adapter's own behaviour; the shared contract runs in tests/storage/.

The generic storage tests (ST-1, ST-2, indexes, the audit chain) moved into the
shipped contract suite, :mod:`enrollkit.testing.contract`, which
``tests/storage/test_memory_contract.py`` runs against MemoryStorage.
"""

from __future__ import annotations

import attrs
import pytest

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.errors import NotFoundError, StorageError
from enrollkit.storage import Collection, Index, compose_key, require


@attrs.frozen
class Note:
    id: str
    owner: str
    version: int = 0


BY_OWNER = Index[Note]("owner", lambda n: [n.owner])
NOTES = Collection("notes", Note, indexes=(BY_OWNER,))


class TestStorageHelpers:
    def test_compose_key_keeps_parts_apart(self) -> None:
        """Composite keys cannot collide by concatenation."""
        assert compose_key("a", "bc") != compose_key("ab", "c")

    def test_require_names_what_is_missing(self) -> None:
        """require() raises NotFoundError with a code naming the thing."""
        storage = MemoryStorage()
        with storage.unit_of_work() as uow, pytest.raises(NotFoundError) as info:
            require(uow.repository(NOTES), "n404", what="note")
        assert info.value.code == "note.not_found"


class TestMemoryAdapter:
    def test_two_collections_of_different_types_cannot_share_a_name(self) -> None:
        """A second collection of another type under a used name is refused."""

        @attrs.frozen
        class Other:
            id: str
            version: int = 0

        storage = MemoryStorage()
        other = Collection("notes", Other, indexes=())
        with storage.unit_of_work() as uow:
            uow.repository(NOTES)
            with pytest.raises(StorageError) as info:
                uow.repository(other)
        assert info.value.code == "storage.collection_mismatch"

    def test_a_changed_index_set_rebuilds_the_entries(self) -> None:
        """The same type declared with another index (a new release) is index evolution:
        the entries are rebuilt, so the new index finds what was stored before."""
        storage = MemoryStorage()
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana"))
            uow.commit()
        by_id = Index[Note]("by_id", lambda n: [n.id])
        grown = Collection("notes", Note, indexes=(BY_OWNER, by_id))
        with storage.unit_of_work() as uow:
            assert [n.id for n in uow.repository(grown).find(by_id, "n1")] == ["n1"]

    def test_repr_counts_what_is_stored(self) -> None:
        """The repr shows counts, never contents."""
        storage = MemoryStorage()
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "secret-owner"))
            uow.commit()
        assert "secret-owner" not in repr(storage)
        assert "'notes': 1" in repr(storage)
