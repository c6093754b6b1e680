"""AU-1: the hash-chained audit log, keyed (HMAC-SHA-256) with the host's key, and anchors."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.audit import (
    GENESIS_HASH,
    SECRET_KEYS,
    AuditEntry,
    ChainHead,
    DomainEvent,
    chain,
    entry_hash,
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


keys = st.binary(min_size=32, max_size=64)
#: What a writer of the database may change in an entry's event.
edits: st.SearchStrategy[Callable[[DomainEvent], DomainEvent]] = st.sampled_from(
    [
        lambda e: attrs.evolve(e, actor="mallory"),
        lambda e: attrs.evolve(e, subject=e.subject + "x"),
        lambda e: attrs.evolve(e, name="account.deleted"),
        lambda e: attrs.evolve(e, at=e.at + timedelta(seconds=1)),
        lambda e: attrs.evolve(e, data={**e.data, "tampered": True}),
    ]
)


def rebuilt(
    entries: list[AuditEntry], i: int, edit: Callable[[DomainEvent], DomainEvent]
) -> list[AuditEntry]:
    """Entry *i* edited and it and every later hash recomputed with plain SHA-256: what
    someone who can write the database, but holds no key, can do."""
    events = [entry.event for entry in entries]
    events[i] = edit(events[i])
    prev = entries[i - 1].hash if i else GENESIS_HASH
    return entries[:i] + chain(events[i:], after=ChainHead(count=i, last_hash=prev))


class TestKeyedChain:
    """AU-1 (amended): with a host-held key the chain is HMAC-SHA-256."""

    EVENT = DomainEvent("account.registered", subject="u1", actor="u1", at=T0, data={"n": 1})
    CANONICAL = (
        b'{"actor":"u1","at":"2026-01-01T00:00:00+00:00","data":{"n":1},'
        b'"name":"account.registered","prev":"' + b"0" * 64 + b'","seq":0,"subject":"u1"}'
    )

    def test_au_1_unkeyed_hashes_are_unchanged(self) -> None:
        """Without a key an entry's hash is the SHA-256 it always was: stored chains verify."""
        digest = entry_hash(0, self.EVENT, GENESIS_HASH)
        assert digest == hashlib.sha256(self.CANONICAL).hexdigest()
        assert digest == "76d23e536c95e23bb201c4b94b44245cdebfb7f04cafbc5146f7299c392fb62b"

    def test_au_1_keyed_hash_is_hmac_sha256_of_the_same_bytes(self) -> None:
        """With a key the hash is HMAC-SHA-256 over the same canonical bytes."""
        key = bytes(range(32))
        expected = hmac.new(key, self.CANONICAL, hashlib.sha256).hexdigest()
        assert entry_hash(0, self.EVENT, GENESIS_HASH, key=key) == expected
        assert chain([self.EVENT], key=key)[0].hash == expected

    @given(
        st.lists(
            st.builds(
                DomainEvent,
                st.text(min_size=1, max_size=8),
                subject=st.text(max_size=8),
                actor=st.none() | st.text(max_size=8),
                at=st.integers(0, 10**9).map(lambda s: T0 + timedelta(microseconds=s * 7)),
                data=st.dictionaries(
                    st.text(max_size=4).filter(lambda k: k.lower() not in SECRET_KEYS),
                    st.recursive(
                        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda inner: st.lists(inner, max_size=3),
                        max_leaves=5,
                    ),
                    max_size=3,
                ),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def test_au_1_hashes_cover_the_canonical_json_of_each_entry(
        self, events_: list[DomainEvent]
    ) -> None:
        """Each entry's hash is the SHA-256 of ``json.dumps`` of its document with sorted
        keys, no spaces, ASCII: the bytes every stored chain was hashed over."""
        prev = GENESIS_HASH
        for entry in chain(events_):
            event = entry.event
            document = {
                "seq": entry.seq,
                "prev": prev,
                "name": event.name,
                "subject": event.subject,
                "actor": event.actor,
                "at": event.at.isoformat(),
                "data": event.data,
            }
            text = json.dumps(
                document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
            )
            assert entry.hash == hashlib.sha256(text.encode("ascii")).hexdigest()
            prev = entry.hash

    @given(st.lists(events, min_size=1, max_size=12), keys, keys)
    def test_au_1_a_keyed_chain_verifies_with_its_key_only(
        self, evs: list[DomainEvent], key: bytes, other: bytes
    ) -> None:
        """A keyed chain verifies with its key (and head); with another key or none it is
        broken at its first entry, and so is an unkeyed chain checked with a key."""
        entries = chain(evs, key=key)
        assert verify_chain(entries, head=head_of(entries), key=key).ok
        assert verify_chain(entries).first_broken == 0
        if other != key:
            assert verify_chain(entries, key=other).first_broken == 0
        assert verify_chain(chain(evs), key=key).first_broken == 0

    @given(st.lists(events, min_size=1, max_size=12), keys, edits, st.data())
    def test_au_1_a_rebuild_without_the_key_is_caught_with_it(
        self,
        evs: list[DomainEvent],
        key: bytes,
        edit: Callable[[DomainEvent], DomainEvent],
        data: st.DataObject,
    ) -> None:
        """Changing any entry and recomputing every later hash (and the head) without the
        key is caught with the key, at the changed entry."""
        entries = chain(evs, key=key)
        i = data.draw(st.integers(0, len(entries) - 1), label="edited entry")
        forged = rebuilt(entries, i, edit)
        result = verify_chain(forged, head=head_of(forged), key=key)
        assert (result.ok, result.first_broken) == (False, i)
        assert "audit key" in (result.reason or "")

    @given(st.lists(events, min_size=1, max_size=12), edits, st.data())
    def test_au_1_without_a_key_a_rebuild_is_caught_only_by_an_anchor(
        self,
        evs: list[DomainEvent],
        edit: Callable[[DomainEvent], DomainEvent],
        data: st.DataObject,
    ) -> None:
        """The documented limit: an unkeyed chain rebuilt from an edited entry verifies;
        an anchor taken before the edit at or after that entry catches it."""
        entries = chain(evs)
        i = data.draw(st.integers(0, len(entries) - 1), label="edited entry")
        forged = rebuilt(entries, i, edit)
        assert verify_chain(forged, head=head_of(forged)).ok
        p = data.draw(st.integers(1, len(entries)), label="anchored count")
        result = verify_chain(forged, head=head_of(forged), anchor=head_of(entries[:p]))
        if p <= i:
            assert result.ok  # the anchored prefix was not touched
        else:
            assert (result.ok, result.first_broken) == (False, p - 1)
            assert "rebuilt" in (result.reason or "")

    @given(st.lists(events, min_size=1, max_size=12), st.none() | keys, st.data())
    def test_au_1_anchors_from_any_prefix_verify(
        self, evs: list[DomainEvent], key: bytes | None, data: st.DataObject
    ) -> None:
        """The head of any prefix of a log (an anchor exported back then) verifies against
        the whole log, which grew from that prefix."""
        p = data.draw(st.integers(1, len(evs)), label="anchored count")
        earlier = chain(evs[:p], key=key)
        grown = earlier + chain(evs[p:], after=head_of(earlier), key=key)
        assert grown == chain(evs, key=key)
        result = verify_chain(grown, head=head_of(grown), key=key, anchor=head_of(earlier))
        assert result.ok
        assert result.checked == len(evs)

    @given(st.lists(events, min_size=2, max_size=12), st.none() | keys, st.data())
    def test_au_1_a_truncated_log_fails_its_anchor(
        self, evs: list[DomainEvent], key: bytes | None, data: st.DataObject
    ) -> None:
        """A log cut back below an anchor (its head reset to match) fails the anchor, at
        the first missing entry, with a reason that says it was truncated."""
        entries = chain(evs, key=key)
        q = data.draw(st.integers(1, len(entries) - 1), label="entries kept")
        kept = entries[:q]
        assert verify_chain(kept, head=head_of(kept), key=key).ok  # a key alone cannot tell
        result = verify_chain(kept, head=head_of(kept), key=key, anchor=head_of(entries))
        assert (result.ok, result.first_broken) == (False, q)
        assert "truncated" in (result.reason or "")

    @pytest.mark.parametrize("length", [0, 1, 16, 31])
    def test_au_1_a_short_key_is_refused_without_showing_it(self, length: int) -> None:
        """A key under 32 bytes is refused (audit.key_too_short); the error names its
        length, never its bytes."""
        key = b"\x07" * length
        for call in (
            lambda: entry_hash(0, self.EVENT, GENESIS_HASH, key=key),
            lambda: chain([self.EVENT], key=key),
            lambda: verify_chain([], key=key),
        ):
            with pytest.raises(ValidationError) as info:
                call()
            assert info.value.code == "audit.key_too_short"
            assert info.value.fields == {"length": length, "minimum": 32}
            assert "\\x07\\x07" not in repr(info.value)

    def test_au_1_a_key_is_bytes(self) -> None:
        """A text key is refused (audit.key_type) rather than encoded some way."""
        bad: Any = "k" * 40
        with pytest.raises(ValidationError) as info:
            chain([self.EVENT], key=bad)
        assert info.value.code == "audit.key_type"
        assert "kkkk" not in str(info.value)

    @pytest.mark.parametrize("count", [0, -1, True])
    def test_au_1_a_malformed_anchor_is_refused(self, count: int) -> None:
        """An anchor counts at least one entry; anything else is audit.bad_anchor."""
        with pytest.raises(ValidationError) as info:
            verify_chain(chain([self.EVENT]), anchor=ChainHead(count=count, last_hash="0" * 64))
        assert info.value.code == "audit.bad_anchor"


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
