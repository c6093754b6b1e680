"""The runtime's Transaction: a change is saved and its event recorded in one step (AU-1)."""

from __future__ import annotations

import attrs
import pytest

from enrollkit import Enrollkit
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.errors import ConflictError, NotFoundError, ValidationError
from enrollkit.runtime import Runtime
from enrollkit.storage import Collection, not_found_error
from tests.conftest import T0


@attrs.frozen
class Note:
    id: str
    text: str
    version: int = 0


NOTES = Collection("runtime_notes", Note)


class TestTransactionAddAndSave:
    def test_au_1_add_stores_the_new_aggregate_and_records_its_event(
        self, runtime: Runtime
    ) -> None:
        """tx.add stores at version 1 and records the event about it, data in order."""
        with runtime.transaction() as tx:
            stored = tx.add(
                NOTES, Note(tx.new_id("note"), "hi"), "note.added", actor="ana", b=2, a=1
            )
            tx.commit()
        assert stored == Note("note-000001", "hi", version=1)
        (entry,) = runtime.storage.audit.entries()
        assert entry.event.name == "note.added"
        assert (entry.event.subject, entry.event.actor, entry.event.at) == (stored.id, "ana", T0)
        assert list(entry.event.data.items()) == [("b", 2), ("a", 1)]

    def test_au_1_save_stores_the_change_and_records_its_event(self, runtime: Runtime) -> None:
        """tx.save returns the change at the next version and records its event."""
        with runtime.transaction() as tx:
            note = tx.repo(NOTES).add(Note("n1", "hi"))
            tx.commit()
        with runtime.transaction() as tx:
            changed = tx.save(NOTES, attrs.evolve(note, text="ho"), "note.edited", actor=None)
            tx.commit()
        assert changed == Note("n1", "ho", version=2)
        with runtime.transaction() as tx:
            assert tx.repo(NOTES).get("n1") == changed
        (entry,) = runtime.storage.audit.entries()
        assert (entry.event.name, entry.event.subject, entry.event.actor) == (
            "note.edited",
            "n1",
            None,
        )
        assert dict(entry.event.data) == {}

    def test_st_1_load_reads_the_committed_aggregate_or_names_what_is_missing(
        self, runtime: Runtime
    ) -> None:
        """runtime.load returns what was committed, and a missing id is a NotFoundError
        naming the kind of record, not the collection."""
        with runtime.transaction() as tx:
            tx.repo(NOTES).add(Note("n1", "hi"))  # rolled back: never committed
        with pytest.raises(NotFoundError) as missing:
            runtime.load(NOTES, "n1", what="note")
        assert missing.value.code == "note.not_found"
        assert "runtime_notes" not in missing.value.message
        with runtime.transaction() as tx:
            tx.repo(NOTES).add(Note("n1", "hi"))
            tx.commit()
        assert runtime.load(NOTES, "n1", what="note") == Note("n1", "hi", version=1)

    @pytest.mark.parametrize(
        ("args", "code"),
        [
            ((NOTES, None), "input.type"),
            ((NOTES, 5), "input.type"),
            ((NOTES, "n" * 100_000), "input.too_long"),
            ((NOTES, "\ud800"), "input.text"),
            (("runtime_notes", "n1"), "input.type"),
            ((None, "n1"), "input.type"),
        ],
    )
    def test_er_1_load_refuses_garbage_at_the_boundary(
        self, runtime: Runtime, args: tuple[object, object], code: str
    ) -> None:
        """runtime.load is a host entry point: garbage is a ValidationError with a short
        message, never a builtin exception from deep in an adapter (ER-1)."""
        with pytest.raises(ValidationError) as refused:
            runtime.load(*args, what="note")  # type: ignore[arg-type]
        assert refused.value.code == code
        assert len(refused.value.message) < 200

    def test_er_1_not_found_echoes_a_short_prefix_of_the_id(self) -> None:
        """A NotFoundError quotes at most a short prefix of the id it was given (ER-1);
        its fields keep the id for logs."""
        error = not_found_error("n" * 499 + "\x00", what="note")
        assert error.code == "note.not_found"
        assert len(error.message) < 120 and "500 characters" in error.message
        assert error.fields["id"] == "n" * 499 + "\x00"

    def test_st_2_a_stale_save_records_no_event(self, runtime: Runtime) -> None:
        """A save over a version that is no longer stored is refused before any event."""
        with runtime.transaction() as tx:
            note = tx.repo(NOTES).add(Note("n1", "hi"))
            tx.commit()
        with runtime.transaction() as tx:
            tx.repo(NOTES).save(note)
            tx.commit()
        with runtime.transaction() as tx, pytest.raises(ConflictError):
            tx.save(NOTES, note, "note.edited", actor="ana")
        assert list(runtime.storage.audit.entries()) == []

    def test_st_1_without_commit_neither_the_change_nor_the_event_stays(
        self, runtime: Runtime
    ) -> None:
        """A rolled-back transaction keeps neither what tx.add stored nor its event."""
        with runtime.transaction() as tx:
            tx.add(NOTES, Note("n1", "hi"), "note.added", actor="ana")
        with runtime.transaction() as tx:
            assert tx.repo(NOTES).get("n1") is None
        assert list(runtime.storage.audit.entries()) == []


@pytest.mark.parametrize("size", ["16", -1, None, True, 2.5])
def test_memo_size_is_a_whole_number(size: object) -> None:
    """A host's memo size that is not a whole number of answers, 0 or more, is refused
    with a clear error, never a crash at the first decision (ER-1)."""
    with pytest.raises(ValidationError) as info:
        Enrollkit(storage=MemoryStorage(), secret_key=b"k" * 32, memo_size=size)  # type: ignore[arg-type]
    assert info.value.code == "runtime.memo_size"
