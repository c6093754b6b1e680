# ruff: noqa: PT012  (a contract test may raise at save() or at commit(): one block)
"""The storage contract suite (Rule ST-3): what every enrollkit storage must do.

enrollkit ships its storage tests so that any storage proves itself the same
way: the in-memory, SQLite and PostgreSQL adapters each subclass
:class:`StorageContract`, and so can a host application's own storage::

    # tests/test_my_storage.py
    from enrollkit.testing.contract import StorageContract

    class TestMyStorage(StorageContract):
        def make_storage(self):
            return MyStorage(...)          # a fresh, empty storage each call

pytest then runs every contract test against ``MyStorage``. The suite covers
units of work (ST-1: all or nothing, rollback unless commit, rollback on
error, a failed commit writes nothing, a finished unit cannot be reused),
versioned saves (ST-2), flushing (:func:`~enrollkit.storage.flush`: flushed
writes are read back by their unit, invisible to others, committed with it or
discarded with it; a store that cannot flush passes by doing nothing), bulk
reads and writes (``get_many``, ``add_many``, ``find_ids``),
unique, multi-valued and ordered indexes (the queries
use cases make), reads that see the unit's own writes, the audit chain
appended at commit and checked against anchors (AU-1), keyed with the host's
audit key when the storage takes one (implement :meth:`StorageContract.make_keyed_storage`;
without it those tests skip), errors that are always enrollkit's (ER-1), and a
round trip of every listed collection through storage and the one converter
(ST-4), **index evolution** (a collection that gains an index over existing
data finds it: implement :meth:`StorageContract.reopen` to open a second
storage over the same data, as the next release would; a unique index over
data that breaks it is refused) and the rules of keys and names. Every error
code the suite expects is in :data:`CONTRACT_CODES` and on the error-code
page of the docs.

Every collection enrollkit defines (accounts, organizations, profiles,
associations, invitations, connections, applications, reportable changes,
signature sheets) is round-tripped by default, with the strategies of
:mod:`enrollkit.testing.strategies`, and the by-deadline queries the use
cases make (the connections' pending-deadline index the 30-day sweep reads,
the applications' development and approval deadlines) are checked through
the real :class:`~enrollkit.access.AccessService` sweep and range queries.
A host with aggregates of its own adds a case for each (save, load, find
under each of its index keys)::

    class TestMyStorage(StorageContract):
        round_trip_cases = StorageContract.round_trip_cases + (
            RoundTripCase(MY_COLLECTION, my_aggregates()),
        )

The suite is pytest-friendly: it needs ``pytest`` and ``hypothesis``, which
``pip install "enrollkit[testing]"`` installs; importing :mod:`enrollkit`
never imports this module. Build your adapter on :mod:`enrollkit.adapters.kit`
and most of the contract holds by construction.
"""

from __future__ import annotations

import abc
import enum
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Final, Generic, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from enrollkit.access import (
    CONNECTIONS,
    CONNECTIONS_PENDING_DEADLINE,
    AccessService,
    Connection,
    ConnectionState,
    Side,
    System,
)
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.audit import ChainHead, DomainEvent, chain, verify_chain
from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    APPLICATIONS,
    Application,
    DevelopmentRequest,
    Form,
    Kind,
    MacDecision,
)
from enrollkit.errors import (
    ConflictError,
    EnrollkitError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import AccountStates
from enrollkit.npi import NPI
from enrollkit.runtime import Runtime, SequentialIds
from enrollkit.serialization import from_data, to_data
from enrollkit.storage import (
    Aggregate,
    Collection,
    Index,
    Storage,
    add_many,
    find_ids,
    flush,
    get_many,
    guard,
    reader_of,
    save_many,
    time_key,
)
from enrollkit.testing.strategies import DOMAIN_STRATEGIES

__all__ = [
    "DOMAIN_ROUND_TRIP_CASES",
    "NOTES",
    "SPECIMENS",
    "T0",
    "Note",
    "Part",
    "RoundTripCase",
    "Specimen",
    "StorageContract",
    "Tone",
    "notes",
    "specimens",
]

A = TypeVar("A", bound=Aggregate)

#: Where the suite's clock stands.
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- the suite's own aggregates -------------------------------------------------------------


@attrs.frozen
class Note:
    """The workhorse aggregate: an owner, a unique title, tags and a due time."""

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
#: The collection of :class:`Note`: one plain, one unique, one multi-valued, one ordered index.
NOTES = Collection("contract_notes", Note, indexes=(BY_OWNER, BY_TITLE, BY_TAG, BY_DUE))


class Tone(enum.Enum):
    """An enum field for the round trip."""

    LOW = "low"
    HIGH = "high"


@attrs.frozen
class Part:
    """A nested value object."""

    name: str
    quantity: int
    until: date | None = None


@attrs.frozen
class Specimen:
    """An aggregate of many field shapes, to prove the converter round trip through storage."""

    id: str
    text: str
    number: int
    ratio: float
    flag: bool
    at: datetime
    day: date
    tone: Tone
    npi: NPI | None
    parts: tuple[Part, ...]
    labels: frozenset[str]
    maybe: str | None
    version: int = 0


SPECIMENS = Collection(
    "contract_specimens",
    Specimen,
    indexes=(
        Index[Specimen]("npi", lambda s: [] if s.npi is None else [str(s.npi)]),
        Index[Specimen]("label", lambda s: sorted(s.labels)),
        Index[Specimen]("at", lambda s: [time_key(s.at)], ordered=True),
        Index[Specimen]("text", lambda s: [s.text], ordered=True),
    ),
)


def _npis() -> st.SearchStrategy[NPI]:
    def build(base: str) -> NPI:
        return NPI.parse(base + str(NPI.check_digit_for(base)))

    return st.from_regex(r"\A[12][0-9]{8}\Z").map(build)


_TEXT = st.text(max_size=30)
#: Text that becomes index keys: any character but NUL, which PostgreSQL cannot hold in text.
_KEY_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=30)
_MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def notes() -> st.SearchStrategy[Note]:
    """Notes with arbitrary text (the round trip gives each a fresh id)."""
    return st.builds(
        Note,
        id=st.just("note"),
        owner=_KEY_TEXT,
        title=_KEY_TEXT,
        due=_MOMENTS,
        tags=st.frozensets(_KEY_TEXT, max_size=4),
    )


def specimens() -> st.SearchStrategy[Specimen]:
    """Specimens of every supported field shape."""
    return st.builds(
        Specimen,
        id=st.just("specimen"),
        text=_KEY_TEXT,
        number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
        ratio=st.floats(allow_nan=False, allow_infinity=False),
        flag=st.booleans(),
        at=_MOMENTS,
        day=st.dates(),
        tone=st.sampled_from(Tone),
        npi=st.none() | _npis(),
        parts=st.lists(
            st.builds(Part, name=_TEXT, quantity=st.integers(), until=st.none() | st.dates()),
            max_size=3,
        ).map(tuple),
        labels=st.frozensets(_KEY_TEXT, max_size=3),
        maybe=st.none() | _TEXT,
    )


@attrs.frozen
class RoundTripCase(Generic[A]):
    """A collection to round trip, with a strategy for its aggregates (any id, version 0)."""

    collection: Collection[A]
    strategy: st.SearchStrategy[A] = attrs.field(eq=False)


#: A round-trip case for every collection enrollkit defines (the suite's default).
DOMAIN_ROUND_TRIP_CASES: tuple[RoundTripCase[Any], ...] = tuple(
    RoundTripCase(collection, strategy) for collection, strategy in DOMAIN_STRATEGIES
)


def _keys(index: Index[Any], obj: Any) -> list[str]:
    return list(dict.fromkeys(index.keys(obj)))


def _refuses_batch(storage: Storage, own: Note, batch: list[Note], code: str) -> None:
    """In a unit that added *own*, ``add_many(batch)`` is the conflict *code*, and none
    of the batch (bob's notes, the first of them new) is buffered."""
    with storage.unit_of_work() as uow:
        repo = uow.repository(NOTES)
        repo.add(own)
        with pytest.raises(ConflictError) as info:
            add_many(repo, batch)
        assert info.value.code == code
        assert repo.get(batch[0].id) is None
        assert [n.id for n in repo.find(BY_OWNER, "bob")] == []


def _ids(objs: Sequence[Aggregate]) -> list[str]:
    return [obj.id for obj in objs]


def _event(name: str = "note.changed", subject: str = "n1", **data: Any) -> DomainEvent:
    return DomainEvent(name, subject=subject, actor="tester", at=T0, data=data)


def _must(obj: A | None) -> A:
    assert obj is not None, "expected a stored aggregate, found none"
    return obj


def _racing_adds(
    storage: Storage,
    first: Sequence[Note],
    second: Sequence[Note],
    *,
    events: Sequence[DomainEvent] = (),
) -> ConflictError:
    """Two open units add *first* and *second* (the second also records *events*); the first
    commits, and the second's commit must be refused: return that conflict."""
    with storage.unit_of_work() as a, storage.unit_of_work() as b:
        for note in first:
            a.repository(NOTES).add(note)
        for note in second:
            b.repository(NOTES).add(note)
        b.record(*events)
        a.commit()
        with pytest.raises(ConflictError) as info:
            b.commit()
    return info.value


_fresh = itertools.count()


def _fresh_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}-{next(_fresh)}"


#: Every error code the contract asks of a storage (the error-code catalogue lists them).
CONTRACT_CODES: Final = (
    "storage.uow_closed",
    "storage.uow_reused",
    "storage.add_version",
    "storage.wrong_type",
    "storage.duplicate",
    "storage.stale",
    "storage.missing",
    "storage.unique",
    "storage.unknown_index",
    "storage.unordered_index",
    "storage.index_key",
    "storage.collection_mismatch",
    "storage.not_an_event",
    "storage.text",
    "storage.closed",
    "audit.key_too_short",
)


class StorageContract(abc.ABC):
    """The contract every storage keeps. Subclass it and implement :meth:`make_storage`.

    Class attributes a subclass may change:

    * :attr:`round_trip_cases`: the collections to round trip (every enrollkit
      collection by default; add yours);
    * :attr:`round_trip_examples`: hypothesis examples per round-trip test;
    * :attr:`thread_count`: writers in the concurrent-threads test (0 to skip it).
    """

    #: Collections every round-trip test covers, each with a strategy for its aggregates:
    #: the suite's own two and every collection enrollkit defines.
    round_trip_cases: ClassVar[tuple[RoundTripCase[Any], ...]] = (
        RoundTripCase(NOTES, notes()),
        RoundTripCase(SPECIMENS, specimens()),
        *DOMAIN_ROUND_TRIP_CASES,
    )
    #: Hypothesis examples per round-trip and error-property test.
    round_trip_examples: ClassVar[int] = 25
    #: Threads racing in the lost-update test; 0 skips it (a storage for one thread).
    thread_count: ClassVar[int] = 4

    @abc.abstractmethod
    def make_storage(self) -> Storage:
        """Return a new, empty storage (the suite closes it after each test)."""

    def make_keyed_storage(self, audit_key: bytes) -> Storage:
        """Return a new, empty storage whose audit chain is keyed with *audit_key* (AU-1).

        A storage must refuse a key shorter than 32 bytes with a ValidationError
        (code ``audit.key_too_short``). Implement this to run the keyed-chain tests;
        by default they skip.
        """
        pytest.skip(f"{type(self).__name__} does not implement make_keyed_storage(audit_key)")

    def reopen(self, storage: Storage) -> Storage:
        """Return a second storage over *storage*'s data, as the next release of the host
        would open it (the same file, schema or engine). The index-evolution test uses it;
        the default returns *storage* itself (right for a store that lives in memory).
        The suite closes what this returns when it is not *storage*."""
        return storage

    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        """A fresh storage from :meth:`make_storage`, closed after the test."""
        storage = self.make_storage()
        try:
            yield storage
        finally:
            storage.close()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Give each listed collection its own round-trip test."""
        if "round_trip_case" in metafunc.fixturenames:
            metafunc.parametrize(
                "round_trip_case",
                self.round_trip_cases,
                ids=[case.collection.name for case in self.round_trip_cases],
            )

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def add(storage: Storage, *objs: Note, events: Sequence[DomainEvent] = ()) -> None:
        """Add *objs* and record *events* in one committed unit."""
        with storage.unit_of_work() as uow:
            for obj in objs:
                uow.repository(NOTES).add(obj)
            uow.record(*events)
            uow.commit()

    @staticmethod
    def load(storage: Storage, obj_id: str) -> Note | None:
        """The committed note *obj_id*, read in a unit of its own."""
        with storage.unit_of_work() as uow:
            return uow.repository(NOTES).get(obj_id)

    # -- ST-1: units of work -------------------------------------------------------------------

    def test_st_1_add_then_get_round_trips(self, storage: Storage) -> None:
        """An added aggregate is stored at version 1 and read back equal."""
        note = Note("n1", "ana", "First", tags=frozenset({"x"}))
        with storage.unit_of_work() as uow:
            stored = uow.repository(NOTES).add(note)
            uow.commit()
        assert stored == attrs.evolve(note, version=1)
        assert self.load(storage, "n1") == stored

    def test_st_1_get_of_unknown_is_none(self, storage: Storage) -> None:
        """get() of an id never stored returns None."""
        assert self.load(storage, "nope") is None

    def test_st_1_rolls_back_unless_committed(self, storage: Storage) -> None:
        """Leaving the block without commit() keeps nothing: no aggregate, no event."""
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "First"))
            uow.record(_event())
        assert self.load(storage, "n1") is None
        assert list(storage.audit.entries()) == []
        assert storage.audit.head() is None

    def test_st_1_explicit_rollback_discards_everything(self, storage: Storage) -> None:
        """rollback() discards the unit's writes and events; the unit is then finished."""
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "First"))
            uow.record(_event())
            uow.rollback()
            with pytest.raises(StorageError):
                uow.commit()
        assert self.load(storage, "n1") is None
        assert list(storage.audit.entries()) == []

    def test_st_1_rolls_back_on_error(self, storage: Storage) -> None:
        """An exception inside the block rolls everything back and propagates."""
        with pytest.raises(RuntimeError, match="boom"), storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "First"))
            uow.record(_event())
            raise RuntimeError("boom")
        assert self.load(storage, "n1") is None
        assert list(storage.audit.entries()) == []

    def test_st_1_commit_applies_changes_and_events_together(self, storage: Storage) -> None:
        """A commit stores every change and appends every event to the chain."""
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "First"))
            uow.repository(NOTES).add(Note("n2", "ana", "Second"))
            uow.record(_event("note.added", "n1"), _event("note.added", "n2"))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert _ids(uow.repository(NOTES).find(BY_OWNER, "ana")) == ["n1", "n2"]
        entries = storage.audit.entries()
        assert [(e.seq, e.event.subject) for e in entries] == [(0, "n1"), (1, "n2")]
        assert storage.audit.verify().ok

    def test_st_1_a_failed_commit_writes_nothing(self, storage: Storage) -> None:
        """When one write of a unit conflicts, none of its writes or events land."""
        self.add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as first, storage.unit_of_work() as second:
            first.repository(NOTES).save(_must(first.repository(NOTES).get("n1")))
            second_repo = second.repository(NOTES)
            second_repo.add(Note("n2", "bob", "Second"))
            second_repo.save(_must(second_repo.get("n1")))
            second.record(_event())
            first.commit()
            with pytest.raises(ConflictError) as info:
                second.commit()
            assert info.value.code == "storage.stale"
            with pytest.raises(StorageError):
                second.commit()
        assert self.load(storage, "n2") is None
        assert _must(self.load(storage, "n1")).version == 2
        assert list(storage.audit.entries()) == []

    def test_st_1_a_commit_failing_on_a_unique_key_writes_nothing(self, storage: Storage) -> None:
        """A unique-key clash found at commit leaves none of the unit's writes behind."""
        conflict = _racing_adds(
            storage,
            [Note("n1", "ana", "Same")],
            [Note("n2", "bob", "Other"), Note("n3", "bob", "same")],
            events=[_event()],
        )
        assert conflict.code == "storage.unique"
        assert self.load(storage, "n2") is None
        assert self.load(storage, "n3") is None
        assert list(storage.audit.entries()) == []

    def test_st_1_unit_of_work_cannot_be_used_after_it_ends(self, storage: Storage) -> None:
        """Repositories, record() and commit() of a finished unit raise our StorageError."""
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            uow.commit()
        for action in (
            lambda: repo.get("n1"),
            lambda: repo.add(Note("n1", "ana", "x")),
            lambda: repo.find(BY_OWNER, "ana"),
            lambda: repo.find_range(BY_DUE),
            lambda: uow.record(_event()),
            uow.commit,
            lambda: uow.repository(NOTES),
        ):
            with pytest.raises(StorageError) as info:
                action()
            assert info.value.code == "storage.uow_closed"

    def test_st_1_unit_of_work_cannot_be_entered_twice(self, storage: Storage) -> None:
        """A unit of work is used once; entering it again is refused."""
        uow = storage.unit_of_work()
        with uow:
            uow.commit()
        with pytest.raises(StorageError) as info, uow:
            pass
        assert info.value.code == "storage.uow_reused"

    def test_st_1_reads_see_own_writes(self, storage: Storage) -> None:
        """Inside a unit, gets and index queries see the unit's own uncommitted writes."""
        self.add(storage, Note("n1", "ana", "First", due=T0 + timedelta(days=5)))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            moved = repo.save(attrs.evolve(_must(repo.get("n1")), owner="bob", due=T0))
            repo.add(Note("n2", "bob", "Second", due=T0 + timedelta(days=1)))
            assert repo.get("n1") == moved
            assert _ids(repo.find(BY_OWNER, "bob")) == ["n1", "n2"]
            assert list(repo.find(BY_OWNER, "ana")) == []
            assert _ids(repo.find(BY_TITLE, "second")) == ["n2"]
            assert _ids(repo.find_range(BY_DUE)) == ["n1", "n2"]
            assert _ids(repo.find_range(BY_DUE, start=time_key(T0 + timedelta(days=1)))) == ["n2"]
            # Not committed: another unit sees the committed state only.
            with storage.unit_of_work() as other:
                assert _ids(other.repository(NOTES).find(BY_OWNER, "ana")) == ["n1"]
                assert other.repository(NOTES).get("n2") is None

    # -- ST-2: versioned saves --------------------------------------------------------------

    def test_st_2_versions_increase_on_each_save(self, storage: Storage) -> None:
        """add() stores version 1; each save() stores the next version."""
        self.add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            note = _must(repo.get("n1"))
            assert note.version == 1
            saved = repo.save(attrs.evolve(note, title="Renamed"))
            assert saved.version == 2
            again = repo.save(attrs.evolve(saved, title="Renamed again"))
            assert again.version == 3
            uow.commit()
        assert self.load(storage, "n1") == Note("n1", "ana", "Renamed again", version=3)

    def test_st_2_stale_save_raises_conflict_and_changes_nothing(self, storage: Storage) -> None:
        """Two writers load version 1; the second save is stale and overwrites nothing."""
        self.add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as a, storage.unit_of_work() as b:
            note_a = _must(a.repository(NOTES).get("n1"))
            note_b = _must(b.repository(NOTES).get("n1"))
            a.repository(NOTES).save(attrs.evolve(note_a, title="By A"))
            a.commit()
            with pytest.raises(ConflictError) as info:  # at save() or at the latest at commit()
                b.repository(NOTES).save(attrs.evolve(note_b, title="By B"))
                b.record(_event())
                b.commit()
        assert info.value.code == "storage.stale"
        stored = _must(self.load(storage, "n1"))
        assert (stored.title, stored.version) == ("By A", 2)
        assert list(storage.audit.entries()) == []

    def test_st_2_a_guard_makes_units_that_change_other_things_conflict(
        self, storage: Storage
    ) -> None:
        """Two units guard the same aggregate (an unchanged save, ``storage.guard``) and each
        changes *another* one: only the first commits, the second is stale and writes
        nothing. This is how an invariant across aggregates holds at commit (RO-5)."""
        for note in (Note("org", "x", "Guarded"), Note("a", "x", "A"), Note("b", "x", "B")):
            self.add(storage, note)
        with storage.unit_of_work() as first, storage.unit_of_work() as second:
            for unit, own in ((first, "a"), (second, "b")):
                repo = unit.repository(NOTES)
                guard(repo, _must(repo.get("org")))
                repo.save(attrs.evolve(_must(repo.get(own)), title="changed"))
            first.commit()
            with pytest.raises(ConflictError) as info:
                second.commit()
        assert info.value.code == "storage.stale"
        assert _must(self.load(storage, "org")).version == 2
        assert _must(self.load(storage, "a")).title == "changed"
        assert _must(self.load(storage, "b")).title == "B"

    def test_st_2_stale_save_is_refused_at_once_inside_a_unit(self, storage: Storage) -> None:
        """Saving an object older than the unit's own copy is refused immediately."""
        self.add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            old = _must(repo.get("n1"))
            repo.save(old)
            with pytest.raises(ConflictError) as info:
                repo.save(old)
            assert info.value.code == "storage.stale"

    def test_st_2_add_of_an_existing_id_is_a_conflict(self, storage: Storage) -> None:
        """Adding an id that exists is a conflict, and changes nothing."""
        self.add(storage, Note("n1", "ana", "First"))
        with pytest.raises(ConflictError) as info:
            self.add(storage, Note("n1", "bob", "Other"))
        assert info.value.code == "storage.duplicate"
        assert _must(self.load(storage, "n1")).owner == "ana"

    def test_st_2_concurrent_adds_of_one_id_one_wins(self, storage: Storage) -> None:
        """Two units adding the same id: the first commit wins, the second is a conflict."""
        conflict = _racing_adds(storage, [Note("n1", "ana", "A")], [Note("n1", "bob", "B")])
        assert conflict.code == "storage.duplicate"
        assert _must(self.load(storage, "n1")).owner == "ana"

    def test_st_2_save_of_unknown_is_not_found(self, storage: Storage) -> None:
        """Saving something never added is NotFound, not an insert."""
        with storage.unit_of_work() as uow, pytest.raises(NotFoundError) as info:
            uow.repository(NOTES).save(Note("n9", "ana", "x", version=1))
        assert info.value.code == "storage.missing"
        assert self.load(storage, "n9") is None

    def test_st_2_add_requires_version_zero(self, storage: Storage) -> None:
        """A loaded object cannot be re-added as new."""
        with storage.unit_of_work() as uow, pytest.raises(StorageError) as info:
            uow.repository(NOTES).add(Note("n1", "ana", "x", version=3))
        assert info.value.code == "storage.add_version"

    def test_st_2_concurrent_threads_never_lose_an_update(self, storage: Storage) -> None:
        """Threads incrementing one counter, retrying on conflict, lose no increment."""
        if self.thread_count < 2:
            pytest.skip("this storage is not shared between threads")
        self.add(storage, Note("n1", "ana", "0"))
        rounds = 15
        failures: list[BaseException] = []

        def worker() -> None:
            try:
                for _ in range(rounds):
                    while True:
                        with storage.unit_of_work() as uow:
                            repo = uow.repository(NOTES)
                            note = _must(repo.get("n1"))
                            try:
                                repo.save(attrs.evolve(note, title=str(int(note.title) + 1)))
                                uow.record(_event("note.incremented"))
                                uow.commit()
                            except ConflictError:
                                continue
                            break
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(self.thread_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        total = rounds * self.thread_count
        note = _must(self.load(storage, "n1"))
        assert (note.title, note.version) == (str(total), total + 1)
        assert len(storage.audit.entries()) == total
        assert storage.audit.verify().ok

    # -- indexes: the queries use cases make ----------------------------------------------

    def _add_owned_notes(self, storage: Storage) -> None:
        """Three notes of ana's (ids that sort differently as text and as numbers), one of bob's."""
        self.add(
            storage,
            Note("n3", "ana", "C"),
            Note("n1", "ana", "A"),
            Note("n2", "bob", "B"),
            Note("n10", "ana", "D"),
        )

    def test_find_returns_matches_ordered_by_id(self, storage: Storage) -> None:
        """find() returns every aggregate holding the key, ordered by id, and nothing else."""
        self._add_owned_notes(storage)
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert _ids(repo.find(BY_OWNER, "ana")) == ["n1", "n10", "n3"]
            assert list(repo.find(BY_OWNER, "nobody")) == []

    def test_a_reader_answers_as_a_unit_of_work_does(self, storage: Storage) -> None:
        """The read path of pure questions (``reader_of(storage)``: the store's own
        ``reader()``, or one over units of work) answers gets, finds and a batch of both
        in one ``fetch`` as a unit of work would, each find ordered by id, and nothing
        for an id or key the store cannot hold."""
        self._add_owned_notes(storage)
        reader = reader_of(storage)
        assert _must(reader.get(NOTES, "n2")).title == "B"
        assert reader.get(NOTES, "none") is None
        anas: Sequence[Note] = reader.find(NOTES, BY_OWNER, "ana")
        assert _ids(anas) == ["n1", "n10", "n3"]
        found = reader.fetch(
            [
                (NOTES, None, "n3"),
                (NOTES, BY_OWNER, "ana"),
                (NOTES, None, "none"),
                (NOTES, BY_OWNER, "bob"),
                (NOTES, BY_OWNER, "a\x00b"),
            ]
        )
        assert [_ids(answer) for answer in found] == [["n3"], ["n1", "n10", "n3"], [], ["n2"], []]
        with storage.unit_of_work() as uow:
            assert list(found[1]) == list(uow.repository(NOTES).find(BY_OWNER, "ana"))

    # -- ST-1, ST-2: bulk reads and writes (storage.get_many, add_many, save_many) ----------

    def test_st_1_get_many_answers_as_get_does(self, storage: Storage) -> None:
        """get_many() gives each id's aggregate as of the unit (own writes first) or None,
        in the order asked, across more ids than one bulk read holds."""
        self.add(storage, *(Note(f"n{i:03d}", "ana", f"T{i}") for i in range(0, 600, 2)))
        ids = [f"n{i:03d}" for i in reversed(range(600))] + ["nope", "n000"]
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            own = repo.add(Note("n001", "bob", "Own"))
            changed = repo.save(attrs.evolve(_must(repo.get("n002")), title="Changed"))
            found = get_many(repo, ids)
            assert found == [repo.get(obj_id) for obj_id in ids]
        assert found[ids.index("n001")] == own
        assert found[ids.index("n002")] == changed
        assert found[ids.index("n003")] is None
        assert found[-2] is None
        assert found[-1] == Note("n000", "ana", "T0", version=1)

    def test_st_1_add_many_stores_like_add(self, storage: Storage) -> None:
        """add_many() returns the aggregates at version 1; the unit reads them back and the
        commit stores them with their index entries."""
        notes = [Note(f"n{i:03d}", "ana" if i % 2 else "bob", f"T{i}") for i in range(300)]
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            stored = add_many(repo, notes)
            assert stored == [attrs.evolve(note, version=1) for note in notes]
            assert repo.get("n007") == stored[7]
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert get_many(repo, [n.id for n in notes]) == stored
            assert _ids(repo.find(BY_TITLE, "t42")) == ["n042"]
            assert len(repo.find(BY_OWNER, "ana")) == 150

    def test_st_2_add_many_refuses_an_existing_id_and_buffers_nothing(
        self, storage: Storage
    ) -> None:
        """add_many() of an id stored, written by the unit, or twice in the batch is a
        conflict, and none of the batch is buffered."""
        self.add(storage, Note("stored", "ana", "First"))
        for r, taken in enumerate(("stored", "own", "twice")):
            batch = [Note(f"a{r}", "bob", f"A{r}"), Note(taken, "bob", f"T{r}")]
            if taken == "twice":
                batch.append(Note(taken, "bob", f"U{r}"))
            _refuses_batch(storage, Note("own", "ana", "Own"), batch, "storage.duplicate")
        assert _must(self.load(storage, "stored")).owner == "ana"
        assert self.load(storage, "own") is None

    def test_st_2_add_many_refuses_a_taken_unique_key(self, storage: Storage) -> None:
        """add_many() refuses a unique key held by a stored aggregate, by the unit's own
        writes or twice in the batch; a key the unit released is free."""
        self.add(storage, Note("n1", "ana", "Stored"), Note("n2", "ana", "Released"))
        for batch in (
            [Note("n3", "bob", "New"), Note("n4", "bob", "STORED")],
            [Note("n3", "bob", "own")],
            [Note("n3", "bob", "Twice"), Note("n4", "bob", "twice")],
        ):
            _refuses_batch(storage, Note("n9", "ana", "Own"), batch, "storage.unique")
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            repo.save(attrs.evolve(_must(repo.get("n2")), title="Other"))
            add_many(repo, [Note("n3", "bob", "released")])
            uow.commit()
        with storage.unit_of_work() as uow:
            assert _ids(uow.repository(NOTES).find(BY_TITLE, "released")) == ["n3"]

    def test_st_2_add_many_conflicts_at_commit_with_a_concurrent_unit(
        self, storage: Storage
    ) -> None:
        """A unit that took an id or a unique key after add_many() checked it commits
        first; the bulk unit's commit is refused and writes nothing."""
        for r, code in enumerate(("storage.duplicate", "storage.unique")):
            mine = [Note(f"m{r}", "ana", f"Mine {r}"), Note(f"x{r}", "ana", f"Taken {r}")]
            theirs = Note(f"x{r}" if r == 0 else f"y{r}", "bob", f"taken {r}")
            with storage.unit_of_work() as a, storage.unit_of_work() as b:
                add_many(b.repository(NOTES), mine)
                a.repository(NOTES).add(theirs)
                a.commit()
                with pytest.raises(ConflictError) as info:
                    b.commit()
            assert info.value.code == code
            assert self.load(storage, f"m{r}") is None
            assert _must(self.load(storage, theirs.id)).owner == "bob"

    # -- ST-1, ST-2: flushing (storage.flush) ---------------------------------------------------

    def test_st_1_flushed_writes_are_read_back_and_committed_with_the_unit(
        self, storage: Storage
    ) -> None:
        """After flush() the unit reads its writes back (get, get_many, find, find_ids,
        ranges), saves them again under ST-2, and others see none of them until commit."""
        self.add(storage, Note("n1", "ana", "First", due=T0 + timedelta(days=5)))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            first = _must(repo.get("n1"))
            moved = repo.save(attrs.evolve(first, owner="bob", due=T0))
            added = add_many(repo, [Note(f"n{i}", "bob", f"T{i}") for i in range(2, 5)])
            uow.record(_event("note.added", "n2"))
            flush(uow)
            assert repo.get("n1") == moved
            assert get_many(repo, ["n4", "n1", "nope"]) == [added[2], moved, None]
            assert _ids(repo.find(BY_OWNER, "bob")) == ["n1", "n2", "n3", "n4"]
            assert find_ids(repo, BY_OWNER, "bob") == ["n1", "n2", "n3", "n4"]
            assert list(repo.find(BY_OWNER, "ana")) == []
            assert _ids(repo.find(BY_TITLE, "t3")) == ["n3"]
            assert _ids(repo.find_range(BY_DUE, stop=time_key(T0 + timedelta(days=1)))) == [
                "n1",
                "n2",
                "n3",
                "n4",
            ]
            with storage.unit_of_work() as other:
                assert _ids(other.repository(NOTES).find(BY_OWNER, "ana")) == ["n1"]
                assert other.repository(NOTES).get("n2") is None
            with pytest.raises(ConflictError) as info:
                repo.save(first)  # version 1; the flushed one is 2
            assert info.value.code == "storage.stale"
            again = repo.save(attrs.evolve(moved, title="Again"))
            assert again.version == moved.version + 1
            with pytest.raises(ConflictError) as info:
                repo.add(Note("n2", "ana", "Twice"))
            assert info.value.code == "storage.duplicate"
            with pytest.raises(ConflictError) as info:
                add_many(repo, [Note("n9", "ana", "t2")])
            assert info.value.code == "storage.unique"
            repo.add(Note("n5", "ana", "Five"))
            flush(uow)
            flush(uow)  # nothing pending: nothing happens
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert _ids(repo.find(BY_OWNER, "bob")) == ["n1", "n2", "n3", "n4"]
            assert _must(repo.get("n1")).title == "Again"
            assert _must(repo.get("n5")).version == 1
        assert [e.event.subject for e in storage.audit.entries()] == ["n2"]
        assert storage.audit.verify().ok

    def test_st_1_a_flushed_unit_rolled_back_leaves_nothing(self, storage: Storage) -> None:
        """Flushed writes of a unit that rolls back (explicitly, on an error, or by leaving
        its block) land nowhere, nor do its events."""
        self.add(storage, Note("n1", "ana", "First"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            repo.save(attrs.evolve(_must(repo.get("n1")), owner="bob"))
            repo.add(Note("n2", "bob", "Second"))
            uow.record(_event())
            flush(uow)
            repo.add(Note("n3", "bob", "Third"))
            flush(uow)
            uow.rollback()
            if hasattr(uow, "flush"):  # a unit that flushes refuses it once finished
                with pytest.raises(StorageError) as info:
                    flush(uow)
                assert info.value.code == "storage.uow_closed"
        with pytest.raises(RuntimeError, match="boom"), storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n4", "bob", "Fourth"))
            flush(uow)
            raise RuntimeError("boom")
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n5", "bob", "Fifth"))
            flush(uow)
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert _must(repo.get("n1")) == Note("n1", "ana", "First", version=1)
            assert [repo.get(f"n{i}") for i in range(2, 6)] == [None] * 4
            assert find_ids(repo, BY_OWNER, "bob") == []
        assert list(storage.audit.entries()) == []
        self.add(storage, Note("n2", "cy", "Second"))  # the store is writable again
        assert _must(self.load(storage, "n2")).owner == "cy"

    def test_st_2_a_flush_refused_lands_nothing(self, storage: Storage) -> None:
        """A flush refuses what a commit refuses (an id another unit took since add_many()
        checked it); the unit is rolled back and none of its writes land."""
        with storage.unit_of_work() as a, storage.unit_of_work() as b:
            add_many(b.repository(NOTES), [Note("m1", "ana", "Mine"), Note("x1", "ana", "X")])
            b.record(_event())
            a.repository(NOTES).add(Note("x1", "bob", "Theirs"))
            a.commit()
            with pytest.raises(ConflictError) as info:
                flush(b)
                b.commit()
            assert info.value.code == "storage.duplicate"
            with pytest.raises(StorageError):
                b.commit()
        assert self.load(storage, "m1") is None
        assert _must(self.load(storage, "x1")).owner == "bob"
        assert list(storage.audit.entries()) == []

    def test_find_ids_lists_the_ids_find_lists(self, storage: Storage) -> None:
        """find_ids() gives, in order, the ids find() gives: committed, the unit's own
        writes, a key the unit released, and none for a key no one holds."""
        self._add_owned_notes(storage)
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            repo.save(attrs.evolve(_must(repo.get("n3")), owner="bob"))
            repo.add(Note("n0", "ana", "Zero"))
            for key in ("ana", "bob", "nobody"):
                assert find_ids(repo, BY_OWNER, key) == _ids(repo.find(BY_OWNER, key))
            assert find_ids(repo, BY_OWNER, "ana")[0] == "n0"

    def test_st_2_save_many_stores_like_save(self, storage: Storage) -> None:
        """save_many() returns each aggregate at its next version; after the commit every
        index answers by the new keys only (keys that changed, kept or dropped), and the
        ones a concurrent unit did not touch are as they were."""
        notes = [
            Note(f"n{i:03d}", "ana", f"T{i}", due=T0 + timedelta(days=i), tags=frozenset("ab"))
            for i in range(300)
        ]
        self.add(
            storage,
            *notes,
            Note("z", "zoe", "Zed", due=T0 + timedelta(days=999), tags=frozenset("a")),
        )
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            loaded = list(repo.find_range(BY_DUE, stop=time_key(T0 + timedelta(days=200))))
            changed = [
                attrs.evolve(n, owner="bob", tags=frozenset("bc"))
                if i % 2
                else attrs.evolve(n, title=f"New {i}", due=n.due + timedelta(days=400))
                for i, n in enumerate(loaded)
            ]
            changed.append(attrs.evolve(_must(repo.get("n250")), tags=frozenset()))
            stored = save_many(repo, changed)
            assert stored == [attrs.evolve(n, version=2) for n in changed]
            assert _must(repo.get("n001")).owner == "bob"
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            found = get_many(repo, ["n000", "n001", "n250", "n299"])
            assert [_must(n).version for n in found] == [2, 2, 2, 1]
            assert _ids(repo.find(BY_OWNER, "bob")) == [f"n{i:03d}" for i in range(1, 200, 2)]
            assert len(repo.find(BY_OWNER, "ana")) == 200
            assert _ids(repo.find(BY_TAG, "c")) == [f"n{i:03d}" for i in range(1, 200, 2)]
            assert len(repo.find(BY_TAG, "a")) == 100 + 99 + 1  # kept, untouched, and z
            assert "n250" not in _ids(repo.find(BY_TAG, "b"))
            assert _ids(repo.find(BY_TITLE, "new 4")) == ["n004"]
            assert repo.find(BY_TITLE, "t4") == []
            due = _ids(repo.find_range(BY_DUE, stop=time_key(T0 + timedelta(days=200))))
            assert due == [f"n{i:03d}" for i in range(1, 200, 2)]
            assert _ids(repo.find_range(BY_DUE, start=time_key(T0 + timedelta(days=400))))[:2] == [
                "n000",
                "n002",
            ]
            # a key released by one update is free for another aggregate
            repo.add(Note("t4", "ana", "T4"))
            uow.commit()

    def test_st_2_save_many_refuses_as_save_does(self, storage: Storage) -> None:
        """save_many() of a stale version, of an aggregate never added, or taking a unique
        key another holds is refused with save()'s error; nothing is committed."""
        self.add(storage, Note("n1", "ana", "One"), Note("n2", "ana", "Two"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            one, two = _must(repo.get("n1")), _must(repo.get("n2"))
            cases = [
                ([attrs.evolve(one, owner="bob"), attrs.evolve(one, owner="cy")], "storage.stale"),
                ([attrs.evolve(one, owner="bob"), Note("n9", "ana", "Nine")], "storage.missing"),
                (
                    [attrs.evolve(one, owner="bob"), attrs.evolve(two, title="one")],
                    "storage.unique",
                ),
            ]
        for batch, code in cases:
            with pytest.raises(EnrollkitError) as info, storage.unit_of_work() as uow:
                save_many(uow.repository(NOTES), batch)
                uow.commit()
            assert info.value.code == code
            assert _must(self.load(storage, "n1")).owner == "ana"
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert save_many(repo, []) == []
            save_many(repo, [attrs.evolve(one, owner="bob")])
            with storage.unit_of_work() as other:
                other.repository(NOTES).save(attrs.evolve(one, owner="cy"))
                other.commit()
            with pytest.raises(ConflictError) as conflict:
                uow.commit()
        assert conflict.value.code == "storage.stale"
        assert _ids(self._find(storage, "cy")) == ["n1"]

    def test_st_2_save_many_works_on_a_repository_without_it(self, storage: Storage) -> None:
        """A repository with no save_many() of its own is asked save() once per aggregate,
        with the same answers."""
        self.add(storage, Note("n1", "ana", "One"), Note("n2", "ana", "Two"))

        class Plain:
            def __init__(self, inner: Any) -> None:
                self.save = inner.save

        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            notes = [attrs.evolve(_must(repo.get(i)), owner="bob") for i in ("n1", "n2")]
            stored = save_many(Plain(repo), notes)  # type: ignore[arg-type]
            assert stored == [attrs.evolve(n, version=2) for n in notes]
            uow.commit()
        assert _ids(self._find(storage, "bob")) == ["n1", "n2"]

    @staticmethod
    def _find(storage: Storage, owner: str) -> Sequence[Note]:
        with storage.unit_of_work() as uow:
            return uow.repository(NOTES).find(BY_OWNER, owner)

    def test_unique_index_is_enforced(self, storage: Storage) -> None:
        """A unique index refuses a second holder of a key (as AC-1 needs)."""
        self.add(storage, Note("n1", "ana", "First"))
        with pytest.raises(ConflictError) as info:
            self.add(storage, Note("n2", "bob", "FIRST"))
        assert info.value.code == "storage.unique"
        assert self.load(storage, "n2") is None

    def test_unique_index_is_enforced_across_concurrent_units(self, storage: Storage) -> None:
        """Two units that both claim a unique key: the second commit is refused."""
        conflict = _racing_adds(storage, [Note("n1", "ana", "Same")], [Note("n2", "bob", "same")])
        assert conflict.code == "storage.unique"
        assert self.load(storage, "n2") is None

    def test_unique_key_can_be_released_and_taken(self, storage: Storage) -> None:
        """A key released by a save can be taken by another aggregate, even in one unit."""
        self.add(storage, Note("n1", "ana", "Alpha"), Note("n2", "bob", "Beta"))
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            repo.save(attrs.evolve(_must(repo.get("n1")), title="Gamma"))
            repo.save(attrs.evolve(_must(repo.get("n2")), title="Alpha"))
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert _ids(repo.find(BY_TITLE, "alpha")) == ["n2"]
            assert _ids(repo.find(BY_TITLE, "gamma")) == ["n1"]
            assert list(repo.find(BY_TITLE, "beta")) == []

    def test_unique_key_is_refused_within_one_unit(self, storage: Storage) -> None:
        """Two aggregates of one unit claiming one unique key: refused at add() or commit()."""
        with pytest.raises(ConflictError) as info, storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "Same"))
            uow.repository(NOTES).add(Note("n2", "bob", "SAME"))
            uow.commit()
        assert info.value.code == "storage.unique"
        assert self.load(storage, "n1") is None

    def test_multi_valued_index(self, storage: Storage) -> None:
        """An aggregate appears under each of its keys; a changed key moves it."""
        self.add(
            storage,
            Note("n1", "ana", "A", tags=frozenset({"x", "y"})),
            Note("n2", "ana", "B", tags=frozenset({"y"})),
        )
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert _ids(repo.find(BY_TAG, "y")) == ["n1", "n2"]
            assert _ids(repo.find(BY_TAG, "x")) == ["n1"]
            repo.save(attrs.evolve(_must(repo.get("n2")), tags=frozenset({"z"})))
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            assert _ids(repo.find(BY_TAG, "y")) == ["n1"]
            assert _ids(repo.find(BY_TAG, "z")) == ["n2"]

    def test_an_aggregate_with_no_key_is_not_indexed(self, storage: Storage) -> None:
        """An aggregate whose index gives no key is absent from that index."""
        self.add(storage, Note("n1", "ana", "A"))
        with storage.unit_of_work() as uow:
            assert list(uow.repository(NOTES).find(BY_TAG, "")) == []

    def test_range_query_orders_by_key_then_id(self, storage: Storage) -> None:
        """An ordered index answers ``start <= key < stop`` in key order, ties by id."""
        self.add(
            storage,
            *(Note(f"n{i}", "ana", f"T{i}", due=T0 + timedelta(days=10 - i)) for i in range(10)),
            Note("m7", "bob", "Tie", due=T0 + timedelta(days=3)),
        )
        with storage.unit_of_work() as uow:
            repo = uow.repository(NOTES)
            due = repo.find_range(
                BY_DUE,
                start=time_key(T0 + timedelta(days=3)),
                stop=time_key(T0 + timedelta(days=6)),
            )
            assert _ids(due) == ["m7", "n7", "n6", "n5"]
            before_day_3 = repo.find_range(BY_DUE, stop=time_key(T0 + timedelta(days=3)))
            assert _ids(before_day_3) == ["n9", "n8"]
            assert _ids(repo.find_range(BY_DUE, start=time_key(T0 + timedelta(days=9)))) == [
                "n1",
                "n0",
            ]
            assert len(repo.find_range(BY_DUE)) == 11

    def test_range_query_lists_an_aggregate_once(self, storage: Storage) -> None:
        """An aggregate with several keys in the range appears once, at its first key."""
        tags = Index[Note]("tags_ordered", lambda n: sorted(n.tags), ordered=True)
        collection = Collection("contract_notes_by_tag", Note, indexes=(tags,))
        with storage.unit_of_work() as uow:
            repo = uow.repository(collection)
            repo.add(Note("n1", "ana", "A", tags=frozenset({"a", "c"})))
            repo.add(Note("n2", "ana", "B", tags=frozenset({"b"})))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert _ids(uow.repository(collection).find_range(tags)) == ["n1", "n2"]
            assert _ids(uow.repository(collection).find_range(tags, start="b")) == ["n2", "n1"]

    def test_range_query_needs_an_ordered_index(self, storage: Storage) -> None:
        """find_range() on an unordered index is our StorageError."""
        with storage.unit_of_work() as uow, pytest.raises(StorageError) as info:
            uow.repository(NOTES).find_range(BY_OWNER)
        assert info.value.code == "storage.unordered_index"

    def test_unknown_index_is_refused(self, storage: Storage) -> None:
        """Querying an index the collection does not declare is our StorageError."""
        stray = Index[Note]("stray", lambda n: [n.owner])
        with storage.unit_of_work() as uow, pytest.raises(StorageError) as info:
            uow.repository(NOTES).find(stray, "ana")
        assert info.value.code == "storage.unknown_index"

    def test_wrong_type_is_refused(self, storage: Storage) -> None:
        """A collection stores its own type only."""
        bad: Any = Part("p", 1)
        with storage.unit_of_work() as uow, pytest.raises(StorageError) as info:
            uow.repository(NOTES).add(bad)
        assert info.value.code == "storage.wrong_type"

    def test_collections_are_kept_apart(self, storage: Storage) -> None:
        """The same id in two collections names two different aggregates."""
        other = Collection("contract_notes_other", Note, indexes=(BY_OWNER,))
        with storage.unit_of_work() as uow:
            uow.repository(NOTES).add(Note("n1", "ana", "A"))
            uow.repository(other).add(Note("n1", "bob", "B"))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert _must(uow.repository(NOTES).get("n1")).owner == "ana"
            assert _must(uow.repository(other).get("n1")).owner == "bob"
            assert list(uow.repository(other).find(BY_OWNER, "ana")) == []

    # -- AU-1: the audit chain ---------------------------------------------------------------

    def test_au_1_chain_continues_across_commits(self, storage: Storage) -> None:
        """Each commit appends its events after the last head; the chain verifies."""
        self.add(storage, Note("n1", "ana", "A"), events=[_event("note.added", "n1", n=1)])
        self.add(storage, events=[_event("note.seen", "n2"), _event("note.seen", "n1")])
        with storage.unit_of_work() as uow:  # a commit without events keeps the chain
            uow.repository(NOTES).add(Note("n2", "ana", "B"))
            uow.commit()
        self.add(storage, events=[_event("note.closed", "n1", ok=True, list=[1, "x", None])])
        entries = storage.audit.entries()
        assert [e.seq for e in entries] == [0, 1, 2, 3]
        assert [e.event.name for e in entries] == [
            "note.added",
            "note.seen",
            "note.seen",
            "note.closed",
        ]
        for before, after in itertools.pairwise(entries):
            assert after.prev_hash == before.hash
        head = _must_head(storage)
        assert (head.count, head.last_hash) == (4, entries[-1].hash)
        verdict = storage.audit.verify()
        assert verdict.ok
        assert verdict.checked == 4
        assert entries[3].event.data == {"ok": True, "list": [1, "x", None]}
        assert entries[0].event == _event("note.added", "n1", n=1)

    def test_au_1_entries_slice_and_for_subject(self, storage: Storage) -> None:
        """entries(start, stop) slices by seq; for_subject() lists one subject's entries in order."""
        for i in range(5):
            self.add(storage, events=[_event("note.touched", f"n{i % 2}", i=i)])
        assert [e.seq for e in storage.audit.entries(start=1, stop=3)] == [1, 2]
        assert [e.seq for e in storage.audit.entries(start=3)] == [3, 4]
        assert [e.seq for e in storage.audit.for_subject("n0")] == [0, 2, 4]
        assert [e.event.data["i"] for e in storage.audit.for_subject("n1")] == [1, 3]
        assert list(storage.audit.for_subject("nobody")) == []

    def test_au_1_empty_log_verifies(self, storage: Storage) -> None:
        """A storage without events has no head and a valid (empty) chain."""
        assert storage.audit.head() is None
        assert storage.audit.verify().ok

    def test_au_1_an_anchor_from_an_earlier_head_still_verifies(self, storage: Storage) -> None:
        """A head exported earlier (an anchor) verifies after more commits, as does the
        current head."""
        self.add(storage, events=[_event("note.touched", "n1", i=0)])
        first = _must_head(storage)
        self.add(storage, events=[_event("note.touched", "n1", i=1), _event("note.seen", "n2")])
        middle = _must_head(storage)
        self.add(storage, events=[_event("note.touched", "n1", i=2)])
        for anchor in (first, middle, _must_head(storage)):
            verdict = storage.audit.verify(anchor=anchor)
            assert verdict.ok, verdict.reason
            assert verdict.checked == 4
        assert (first.count, middle.count) == (1, 3)

    def test_au_1_a_made_up_anchor_is_refused(self, storage: Storage) -> None:
        """An anchor beyond the log (truncated) or with another hash (rebuilt) fails
        verification, naming what happened at the anchored entry."""
        self.add(storage, events=[_event("note.touched", "n1", i=i) for i in range(3)])
        head = _must_head(storage)
        beyond = storage.audit.verify(anchor=ChainHead(count=5, last_hash=head.last_hash))
        assert (beyond.ok, beyond.first_broken) == (False, 3)
        assert "truncated" in (beyond.reason or "")
        entries = storage.audit.entries()
        wrong = storage.audit.verify(anchor=ChainHead(count=2, last_hash=entries[2].hash))
        assert (wrong.ok, wrong.first_broken) == (False, 1)
        assert "rebuilt" in (wrong.reason or "")
        made_up = storage.audit.verify(anchor=ChainHead(count=3, last_hash="f" * 64))
        assert (made_up.ok, made_up.first_broken) == (False, 2)
        assert storage.audit.verify().ok  # the log itself is intact

    def test_au_1_an_anchor_of_an_empty_log_is_a_truncation(self, storage: Storage) -> None:
        """An anchor checked against a log with no entries reports the log truncated."""
        verdict = storage.audit.verify(anchor=ChainHead(count=1, last_hash="0" * 64))
        assert (verdict.ok, verdict.first_broken) == (False, 0)
        assert "truncated" in (verdict.reason or "")

    def test_au_1_keyed_chain_verifies_with_its_key_only(self) -> None:
        """With an audit key the chain is HMAC-SHA-256: it verifies (with anchors) on the
        storage, and its entries verify with that key, not with another or none."""
        key = bytes(range(32, 80))
        storage = self.make_keyed_storage(key)
        try:
            self.add(storage, events=[_event("note.added", "n1", n=1)])
            anchor = _must_head(storage)
            self.add(storage, events=[_event("note.seen", "n2"), _event("note.seen", "n1")])
            verdict = storage.audit.verify()
            assert verdict.ok, verdict.reason
            assert verdict.checked == 3
            assert storage.audit.verify(anchor=anchor).ok
            entries = list(storage.audit.entries())
            events = [entry.event for entry in entries]
            assert entries == chain(events, key=key)
            assert [e.hash for e in entries] != [e.hash for e in chain(events)]
            assert verify_chain(entries, key=key).ok
            for other in (None, bytes(32), key[:-1] + bytes([key[-1] ^ 1])):
                wrong = verify_chain(entries, key=other)
                assert (wrong.ok, wrong.first_broken) == (False, 0)
            for text in (repr(storage), str(storage)):
                assert repr(key) not in text
                assert key.hex() not in text
        finally:
            storage.close()

    def test_au_1_a_short_audit_key_is_refused(self) -> None:
        """An audit key under 32 bytes is refused when the storage is made, without
        the key in the error."""
        key = b"k" * 31
        with pytest.raises(ValidationError) as info:
            storage = self.make_keyed_storage(key)
            storage.close()
        assert info.value.code == "audit.key_too_short"
        shown = f"{info.value!r} {info.value} {info.value.fields}"
        assert "kkkk" not in shown

    def test_au_1_record_refuses_non_events(self, storage: Storage) -> None:
        """record() takes DomainEvents only."""
        bad: Any = {"name": "x"}
        with storage.unit_of_work() as uow, pytest.raises(EnrollkitError) as info:
            uow.record(bad)
        assert info.value.code == "storage.not_an_event"

    # -- index evolution and the rules of keys ------------------------------------------------

    def test_st_3_a_new_index_finds_what_was_stored_before_it(self, storage: Storage) -> None:
        """Index evolution: a release declares one more index on a collection with data
        (same name, same type). Opened again, the store builds the new index's entries
        before answering, so the new index finds the old aggregates, and keeps the new
        entries up to date on later writes."""
        self.add(storage, Note("n1", "ana", "Hello"), Note("n2", "bob", "Hi"))
        initial = Index[Note]("initial", lambda n: [n.title[:1]])
        grown = Collection(NOTES.name, Note, indexes=(*NOTES.indexes, initial))
        later = self.reopen(storage)
        try:
            with later.unit_of_work() as uow:
                assert _ids(uow.repository(grown).find(initial, "H")) == ["n1", "n2"]
                uow.repository(grown).add(Note("n3", "cy", "Howdy"))
                uow.commit()
            with later.unit_of_work() as uow:
                assert _ids(uow.repository(grown).find(initial, "H")) == ["n1", "n2", "n3"]
                assert _ids(uow.repository(grown).find(grown.index("owner"), "ana")) == ["n1"]
        finally:
            if later is not storage:
                later.close()

    def test_st_3_a_new_unique_index_over_duplicates_is_refused(self, storage: Storage) -> None:
        """A unique index a release adds over data that breaks it is refused
        (``storage.unique``), and the old collection keeps working."""
        self.add(storage, Note("n1", "ana", "Apple"), Note("n2", "bob", "Avocado"))
        unique_initial = Index[Note]("initial", lambda n: [n.title[:1]], unique=True)
        grown = Collection(NOTES.name, Note, indexes=(*NOTES.indexes, unique_initial))
        later = self.reopen(storage)
        try:
            with later.unit_of_work() as uow, pytest.raises(ConflictError) as info:
                uow.repository(grown).find(unique_initial, "A")
            assert info.value.code == "storage.unique"
            with later.unit_of_work() as uow:
                assert _ids(uow.repository(NOTES).find(NOTES.index("owner"), "ana")) == ["n1"]
        finally:
            if later is not storage:
                later.close()

    def test_two_collections_of_different_types_cannot_share_a_name(self, storage: Storage) -> None:
        """A collection name belongs to one aggregate type (``storage.collection_mismatch``)."""
        impostor = Collection(NOTES.name, Specimen, indexes=())
        with storage.unit_of_work() as uow:
            uow.repository(NOTES)
            with pytest.raises(StorageError) as info:
                uow.repository(impostor)
        assert info.value.code == "storage.collection_mismatch"

    def test_index_keys_are_text(self, storage: Storage) -> None:
        """An index whose key function gives a non-string is refused before anything is
        written (``storage.index_key``)."""
        numbered: Index[Note] = Index("numbered", lambda n: [len(n.title)])  # type: ignore[list-item]
        collection = Collection("contract_numbered_notes", Note, indexes=(numbered,))
        with storage.unit_of_work() as uow, pytest.raises(ValidationError) as info:
            uow.repository(collection).add(Note("n1", "ana", "Hello"))
        assert info.value.code == "storage.index_key"

    # -- ER-1: errors are ours ------------------------------------------------------------

    def test_er_1_closed_storage_refuses_units(self) -> None:
        """After close(), a new unit of work is our StorageError."""
        storage = self.make_storage()
        storage.close()
        with pytest.raises(StorageError) as info:
            storage.unit_of_work()
        assert info.value.code == "storage.closed"

    def test_er_1_any_text_is_stored_or_refused_with_our_error(self, storage: Storage) -> None:
        """Ids and keys of any text are stored and found, or refused by an EnrollkitError."""

        @settings(
            max_examples=self.round_trip_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(obj_id=st.text(max_size=20), owner=st.text(max_size=20), tag=st.text(max_size=5))
        def check(obj_id: str, owner: str, tag: str) -> None:
            note = Note(obj_id, owner, _fresh_id("title"), tags=frozenset({tag}))
            try:
                with storage.unit_of_work() as uow:
                    repo = uow.repository(NOTES)
                    if repo.get(obj_id) is not None:
                        reject()
                    repo.add(note)
                    uow.record(_event("note.added", obj_id, owner=owner))
                    uow.commit()
            except EnrollkitError:
                return
            with storage.unit_of_work() as uow:
                repo = uow.repository(NOTES)
                assert repo.get(obj_id) == attrs.evolve(note, version=1)
                assert obj_id in _ids(repo.find(BY_OWNER, owner))
                assert obj_id in _ids(repo.find(BY_TAG, tag))
                assert obj_id in _ids(repo.find_range(BY_DUE, start=time_key(T0)))
            assert storage.audit.for_subject(obj_id)[-1].event.data == {"owner": owner}

        try:
            check()
        except EnrollkitError:
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in _DRIVER_MODULES:
                pytest.fail(f"a driver error escaped: {exc!r}")
            raise
        assert storage.audit.verify().ok

    # -- ST-4: round trips of every listed collection ---------------------------------------

    def test_st_4_round_trip_through_storage(
        self, storage: Storage, round_trip_case: RoundTripCase[Any]
    ) -> None:
        """Every listed collection's aggregates survive add, get, index lookups and save."""
        collection = round_trip_case.collection

        @settings(
            max_examples=self.round_trip_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(round_trip_case.strategy)
        def check(obj: Any) -> None:
            obj = attrs.evolve(obj, id=_fresh_id(collection.name), version=0)
            assert from_data(to_data(obj), collection.type) == obj
            try:
                with storage.unit_of_work() as uow:
                    stored = uow.repository(collection).add(obj)
                    uow.commit()
            except ConflictError as exc:  # an earlier example holds a unique key
                if exc.code != "storage.unique":
                    raise
                reject()
            except ValidationError as exc:  # text this storage cannot hold (NUL in PostgreSQL)
                if exc.code != "storage.text":
                    raise
                reject()
            assert stored == attrs.evolve(obj, version=1)
            with storage.unit_of_work() as uow:
                repo = uow.repository(collection)
                assert repo.get(obj.id) == stored
                for index in collection.indexes:
                    keys = _keys(index, stored)
                    for key in keys:
                        assert stored in repo.find(index, key), (index.name, key)
                    if index.ordered and keys:
                        assert stored in repo.find_range(index, start=min(keys))
                        assert stored not in repo.find_range(index, stop=min(keys))
                saved = repo.save(stored)
                uow.commit()
            assert saved.version == 2
            with storage.unit_of_work() as uow:
                assert uow.repository(collection).get(obj.id) == saved

        check()

    # -- by-deadline queries the use cases make ---------------------------------------------

    def test_co_5_sweep_reads_only_due_pending_connections(self, storage: Storage) -> None:
        """The real sweep expires exactly the overdue pending requests, in deadline order,
        reading the pending-deadline index; decided ones and future ones stay (CO-5)."""
        states = [ConnectionState.PENDING, ConnectionState.APPROVED, ConnectionState.PENDING]
        with storage.unit_of_work() as uow:
            repo = uow.repository(CONNECTIONS)
            for day in range(12):
                repo.add(_connection(f"c{day:02d}", T0 + timedelta(days=day), states[day % 3]))
            uow.commit()
        clock = FixedClock(T0 + timedelta(days=35))  # requests of days 0..5 are past day 30
        service = AccessService(_runtime(storage, clock))
        with storage.unit_of_work() as uow:
            due = uow.repository(CONNECTIONS).find_range(
                CONNECTIONS_PENDING_DEADLINE, stop=time_key(clock.now() + timedelta(microseconds=1))
            )
        assert _ids(due) == ["c00", "c02", "c03", "c05"]
        first = service.sweep_expired_connections(limit=3)
        assert _ids(first) == ["c00", "c02", "c03"]
        rest = service.sweep_expired_connections()
        assert _ids(rest) == ["c05"]
        assert service.sweep_expired_connections() == ()
        with storage.unit_of_work() as uow:
            repo = uow.repository(CONNECTIONS)
            assert _ids(repo.find_range(CONNECTIONS_PENDING_DEADLINE)) == [
                "c06",
                "c08",
                "c09",
                "c11",
            ]
            expired = _must(repo.get("c05"))
            assert (expired.state, expired.version) == (ConnectionState.EXPIRED, 2)
            assert expired.decided_at == expired.deadline
            assert _must(repo.get("c04")).state is ConnectionState.APPROVED
        names = [(e.event.name, e.event.subject) for e in storage.audit.entries()]
        assert names == [("connection.expired", c) for c in ("c00", "c02", "c03", "c05")]
        assert storage.audit.verify().ok

    def test_en_4_application_deadline_indexes_answer_ranges(self, storage: Storage) -> None:
        """Open development requests are found by due time, approvals by decision time;
        answered requests and refusals leave those indexes."""
        development_due = APPLICATIONS.index("development_due")
        approved_at = APPLICATIONS.index("approved_at")
        with storage.unit_of_work() as uow:
            repo = uow.repository(APPLICATIONS)
            for day in range(6):
                at = T0 + timedelta(days=day)
                repo.add(
                    attrs.evolve(
                        _application(f"a{day}", at),
                        development=DevelopmentRequest(
                            requested_at=T0,
                            due_at=T0 + timedelta(days=30 - day),
                            reason="Fix the address",
                            responded_at=T0 if day == 2 else None,
                        ),
                        decision=MacDecision(approved=day % 2 == 0, decided_at=at),
                    )
                )
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(APPLICATIONS)
            soon = repo.find_range(development_due, stop=time_key(T0 + timedelta(days=28)))
            assert _ids(soon) == ["a5", "a4", "a3"]
            assert _ids(repo.find_range(development_due)) == ["a5", "a4", "a3", "a1", "a0"]
            approvals = repo.find_range(
                approved_at,
                start=time_key(T0 + timedelta(days=1)),
                stop=time_key(T0 + timedelta(days=5)),
            )
            assert _ids(approvals) == ["a2", "a4"]
            answered = _must(repo.get("a5"))
            assert answered.development is not None
            responded = attrs.evolve(answered.development, responded_at=T0)
            repo.save(attrs.evolve(answered, development=responded))
            uow.commit()
        with storage.unit_of_work() as uow:
            repo = uow.repository(APPLICATIONS)
            assert _ids(repo.find_range(development_due)) == ["a4", "a3", "a1", "a0"]

    # -- everything together: the storage behaves like the reference adapter ---------------

    def test_st_1_st_2_behaves_like_the_reference_adapter(self) -> None:
        """Random units of work give the same results and errors as the in-memory adapter."""
        make_storage = self.make_storage
        ids = st.sampled_from(["a", "b", "c", "d"])
        owners = st.sampled_from(["x", "y", "z"])
        titles = st.sampled_from(["t1", "t2", "T1", "t3"])
        days = st.integers(min_value=0, max_value=5)
        bounds = st.none() | days.map(lambda d: time_key(T0 + timedelta(days=d)))

        class Differential(RuleBasedStateMachine):
            """Apply each step to the storage under test and to MemoryStorage; compare."""

            def __init__(self) -> None:
                super().__init__()
                self.pair: tuple[Storage, Storage] = (MemoryStorage(), make_storage())
                self.units: tuple[Any, Any] | None = None

            def both(self, action: Callable[[Storage, Any], Any]) -> Any:
                outcomes: list[tuple[Any, ...]] = []
                for storage, unit in zip(self.pair, self.units or (None, None), strict=True):
                    try:
                        outcomes.append(("ok", action(storage, unit)))
                    except EnrollkitError as exc:
                        outcomes.append(("error", type(exc).__name__, exc.code))
                expected, actual = outcomes
                assert actual == expected, f"reference {expected!r}, storage {actual!r}"
                return expected

            @precondition(lambda self: self.units is None)
            @rule()
            def begin(self) -> None:
                units = tuple(storage.unit_of_work() for storage in self.pair)
                for unit in units:
                    unit.__enter__()
                self.units = (units[0], units[1])

            @precondition(lambda self: self.units is not None)
            @rule(obj_id=ids, owner=owners, title=titles, day=days)
            def add(self, obj_id: str, owner: str, title: str, day: int) -> None:
                note = Note(obj_id, owner, title, due=T0 + timedelta(days=day))
                self.both(lambda _s, uow: uow.repository(NOTES).add(note))

            @precondition(lambda self: self.units is not None)
            @rule(obj_id=ids, owner=st.none() | owners, title=st.none() | titles, day=days)
            def save(self, obj_id: str, owner: str | None, title: str | None, day: int) -> None:
                def change(_storage: Storage, uow: Any) -> Any:
                    repo = uow.repository(NOTES)
                    note = repo.get(obj_id)
                    if note is None:
                        return None
                    return repo.save(
                        attrs.evolve(
                            note,
                            owner=owner or note.owner,
                            title=title or note.title,
                            due=T0 + timedelta(days=day),
                        )
                    )

                self.both(change)

            @precondition(lambda self: self.units is not None)
            @rule(obj_id=ids, title=titles)
            def concurrent_save(self, obj_id: str, title: str) -> None:
                """Another unit commits a change while this one is open."""

                def change(storage: Storage, _uow: Any) -> Any:
                    with storage.unit_of_work() as other:
                        repo = other.repository(NOTES)
                        note = repo.get(obj_id)
                        if note is None:
                            return None
                        saved = repo.save(attrs.evolve(note, title=title))
                        other.record(_event("note.renamed", obj_id))
                        other.commit()
                        return saved

                self.both(change)

            @precondition(lambda self: self.units is not None)
            @rule(owner=owners, title=titles)
            def find(self, owner: str, title: str) -> None:
                self.both(lambda _s, uow: _ids(uow.repository(NOTES).find(BY_OWNER, owner)))
                self.both(lambda _s, uow: _ids(uow.repository(NOTES).find(BY_TITLE, title.lower())))

            @precondition(lambda self: self.units is not None)
            @rule(start=bounds, stop=bounds)
            def find_range(self, start: str | None, stop: str | None) -> None:
                self.both(
                    lambda _s, uow: _ids(
                        uow.repository(NOTES).find_range(BY_DUE, start=start, stop=stop)
                    )
                )

            @precondition(lambda self: self.units is not None)
            @rule(obj_id=ids)
            def record(self, obj_id: str) -> None:
                self.both(lambda _s, uow: uow.record(_event("note.touched", obj_id)))

            @precondition(lambda self: self.units is not None)
            @rule(commit=st.booleans())
            def end(self, commit: bool) -> None:
                self.both(lambda _s, uow: uow.commit() if commit else uow.rollback())
                for unit in self.units or ():
                    unit.__exit__(None, None, None)
                self.units = None

            @invariant()
            def committed_state_matches(self) -> None:
                def snapshot(storage: Storage, _uow: Any) -> Any:
                    with storage.unit_of_work() as uow:
                        repo = uow.repository(NOTES)
                        notes = [repo.get(obj_id) for obj_id in "abcd"]
                    events = [(e.seq, e.event) for e in storage.audit.entries()]
                    return notes, events, storage.audit.verify().ok

                self.both(snapshot)

            def teardown(self) -> None:
                for unit in self.units or ():
                    unit.__exit__(None, None, None)
                for storage in self.pair:
                    storage.close()

        run_state_machine_as_test(  # type: ignore[no-untyped-call,unused-ignore]
            Differential,
            settings=settings(
                max_examples=self.round_trip_examples,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )


def _connection(obj_id: str, requested_at: datetime, state: ConnectionState) -> Connection:
    decided = state is not ConnectionState.PENDING
    return Connection(
        obj_id,
        surrogate_id="org-surrogate",
        profile_id=f"prof-{obj_id}",
        requested_systems=frozenset({System.PECOS}),
        approved_systems=frozenset({System.PECOS}) if decided else frozenset(),
        initiator=Side.SURROGATE,
        requested_by="acct-requester",
        requested_at=requested_at,
        state=state,
        decided_at=requested_at if decided else None,
        decided_by="acct-approver" if decided else None,
    )


def _application(obj_id: str, created_at: datetime) -> Application:
    return Application(
        id=obj_id,
        profile_id="prof-1",
        form=Form.CMS_855I,
        kind=Kind.INITIAL,
        created_by="acct-preparer",
        created_at=created_at,
        status_changed_at=created_at,
    )


def _runtime(storage: Storage, clock: FixedClock) -> Runtime:
    return Runtime(
        storage=storage,
        secret_key=b"enrollkit-contract-suite-key-0123",
        accounts=AccountStates(),
        clock=clock,
        ids=SequentialIds(),
        hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
    )


_DRIVER_MODULES = frozenset({"sqlite3", "psycopg", "psycopg_pool", "_sqlite3"})


def _must_head(storage: Storage) -> ChainHead:
    head = storage.audit.head()
    assert head is not None
    return head
