"""AU-1: the hash-chained audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.audit import (
    AuditEntry,
    ChainHead,
    DomainEvent,
    chain,
    verify_chain,
)
from enrollkit.errors import ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)

names = st.sampled_from(["account.registered", "connection.approved", "application.submitted"])
events = st.builds(
    DomainEvent,
    names,
    subject=st.text("abc123-", min_size=1, max_size=8),
    actor=st.none() | st.text("xyz", min_size=1, max_size=4),
    at=st.integers(0, 10_000).map(lambda m: T0 + timedelta(minutes=m)),
    data=st.dictionaries(
        st.sampled_from(["systems", "reason", "count"]),
        st.integers(0, 9) | st.text(max_size=5),
        max_size=2,
    ),
)
logs = st.lists(events, min_size=1, max_size=12).map(chain)


def head_of(entries: list[AuditEntry]) -> ChainHead:
    return ChainHead(count=len(entries), last_hash=entries[-1].hash)


class TestAuditChain:
    @given(logs)
    def test_au_1_untouched_chain_verifies(self, entries: list[AuditEntry]) -> None:
        """A chain as written verifies, with its head."""
        result = verify_chain(entries, head=head_of(entries))
        assert result.ok and result.first_broken is None
        assert result.checked == len(entries)

    @given(logs, st.data())
    def test_au_1_edit_is_found_at_its_index(
        self, entries: list[AuditEntry], data: st.DataObject
    ) -> None:
        """Editing any entry's event makes verify() fail at that entry."""
        i = data.draw(st.integers(0, len(entries) - 1))
        event = entries[i].event
        edited = attrs.evolve(event, data={**event.data, "tampered": True})
        tampered = [*entries[:i], attrs.evolve(entries[i], event=edited), *entries[i + 1 :]]
        result = verify_chain(tampered, head=head_of(entries))
        assert not result.ok
        assert result.first_broken == i
        assert result.reason

    @given(logs, st.data())
    def test_au_1_removal_is_found_at_its_index(
        self, entries: list[AuditEntry], data: st.DataObject
    ) -> None:
        """Removing any entry (the last one too) is reported where the entry is missing."""
        i = data.draw(st.integers(0, len(entries) - 1))
        removed = entries[:i] + entries[i + 1 :]
        result = verify_chain(removed, head=head_of(entries))
        assert not result.ok
        assert result.first_broken == i

    @given(logs, events, st.data())
    def test_au_1_insertion_is_found_at_its_index(
        self, entries: list[AuditEntry], extra: DomainEvent, data: st.DataObject
    ) -> None:
        """Inserting an entry anywhere is reported at the inserted position."""
        i = data.draw(st.integers(0, len(entries)))
        prev = entries[i - 1].hash if i else "0" * 64
        forged = chain([extra], after=ChainHead(i, prev))[0] if i else chain([extra])[0]
        # A forged entry that links correctly to its predecessor still breaks the next link,
        # so the verifier reports the inserted position or (if it was well forged) the end.
        inserted = [*entries[:i], attrs.evolve(forged, seq=i + 1000), *entries[i:]]
        result = verify_chain(inserted, head=head_of(entries))
        assert not result.ok
        assert result.first_broken == i

    @given(logs, st.data())
    def test_au_1_reordering_is_found_at_the_first_moved_index(
        self, entries: list[AuditEntry], data: st.DataObject
    ) -> None:
        """Swapping two entries is reported at the earlier of the two positions."""
        if len(entries) < 2:
            return
        i = data.draw(st.integers(0, len(entries) - 2))
        j = data.draw(st.integers(i + 1, len(entries) - 1))
        swapped = list(entries)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        result = verify_chain(swapped, head=head_of(entries))
        assert not result.ok
        assert result.first_broken == i

    def test_au_1_well_forged_append_is_caught_by_the_head(self) -> None:
        """An entry appended with a correct link is caught by the stored head."""
        at = T0
        entries = chain([DomainEvent("a.b", subject="s", actor=None, at=at)])
        head = head_of(entries)
        extra = chain([DomainEvent("a.c", subject="s", actor=None, at=at)], after=head)
        result = verify_chain(entries + extra, head=head)
        assert (result.ok, result.first_broken) == (False, 1)

    def test_chain_continues_after_a_head(self) -> None:
        """Entries chained in two batches equal one chain of all events."""
        evs = [DomainEvent(f"e.n{i}", subject="s", actor=None, at=T0) for i in range(4)]
        first = chain(evs[:2])
        second = chain(evs[2:], after=head_of(first))
        assert first + second == chain(evs)


class TestDomainEvent:
    @pytest.mark.parametrize("key", ["password", "pin", "one_time_code", "answer", "PIN"])
    def test_au_1_events_refuse_secret_keys(self, key: str) -> None:
        """An event carrying a secret-named field is refused outright."""
        with pytest.raises(ValidationError) as info:
            DomainEvent("x.y", subject="s", actor=None, at=T0, data={key: "hunter2"})
        assert info.value.code == "event.secret"

    def test_events_refuse_nested_secret_keys(self) -> None:
        """A secret nested inside the data is found too."""
        with pytest.raises(ValidationError):
            DomainEvent("x.y", subject="s", actor=None, at=T0, data={"form": [{"pin": "1"}]})

    def test_events_take_only_json_ready_data(self) -> None:
        """Non-JSON values are refused with a hint how to convert them."""
        with pytest.raises(ValidationError) as info:
            DomainEvent("x.y", subject="s", actor=None, at=T0, data={"when": T0})
        assert info.value.code == "event.data_type"

    def test_events_refuse_naive_times(self) -> None:
        """Event times are UTC-aware."""
        with pytest.raises(ValidationError):
            DomainEvent("x.y", subject="s", actor=None, at=datetime(2026, 1, 1))
