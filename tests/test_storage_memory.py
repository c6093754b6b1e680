"""The in-memory adapter's own behaviour; the shared contract runs in tests/storage/.

The generic storage tests (ST-1, ST-2, indexes, the audit chain) moved into the
shipped contract suite, :mod:`enrollkit.testing.contract`, which
``tests/storage/test_memory_contract.py`` runs against MemoryStorage.
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.adapters.memory import MemoryStorage, _IndexStore
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


#: Enough keys that a large commit also changes some keys by only a few ids.
_KEYS = "abcdefghijklmnop"
_ENTRY = st.tuples(st.sampled_from(_KEYS), st.text("uvwxyz", min_size=1, max_size=3))
#: Batches from one entry to past the size that rebuilds each touched key at once.
_BATCH = st.lists(_ENTRY, max_size=3) | st.lists(_ENTRY, min_size=130, max_size=200)


class TestIndexEntries:
    @given(
        ordered=st.booleans(),
        changes=st.lists(st.tuples(_BATCH, _BATCH), min_size=1, max_size=6),
    )
    def test_entries_behave_as_a_set_of_pairs(
        self,
        ordered: bool,
        changes: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]],
    ) -> None:
        """However the ids under a key are held (one id, a tuple, a list), small and large
        commits leave exactly the entries a set of (key, id) pairs would, each key's ids
        sorted and unique, and the ordered pairs sorted. (A commit removes entries at most
        once and adds entries not left in the index, as the adapter's commits do.)"""
        store = _IndexStore(ordered=ordered)
        model: set[tuple[str, str]] = set()
        for drawn_removed, drawn_added in changes:
            removed = list(dict.fromkeys(drawn_removed))
            left = model - set(removed)
            added = [entry for entry in dict.fromkeys(drawn_added) if entry not in left]
            store.change(removed, added)
            model = (model - set(removed)) | set(added)
            for key in _KEYS:
                assert list(store.ids(key)) == sorted(i for k, i in model if k == key)
            assert set(store.by_key) == {k for k, _ in model}
            if ordered:
                assert store.range(None, None) == sorted(model)
