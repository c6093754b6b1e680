"""What every use case runs on: storage, clock, notifier, hasher and ids, in one place.

A use case opens one :class:`Transaction` (a unit of work plus the time it
started, its events and its notifications), asks the pure rules, saves, and
commits. Events go to the audit chain atomically with the changes (AU-1);
notifications go to the notifier only after the commit succeeded, so a
rolled-back change never sends mail.

>>> from enrollkit.adapters.memory import MemoryStorage
>>> from enrollkit.clock import FixedClock
>>> from enrollkit.identity import AccountStates
>>> from datetime import datetime, timezone
>>> rt = Runtime(storage=MemoryStorage(), secret_key=b"k" * 32, accounts=AccountStates(),
...              clock=FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), ids=SequentialIds())
>>> with rt.transaction() as tx:
...     tx.record("demo.happened", subject="x-1", actor=None, answer_count=1)
...     tx.commit()
>>> print(*(e.event.name for e in rt.storage.audit.entries()))
demo.happened
"""

from __future__ import annotations

import functools
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, TypeVar

import attrs

from enrollkit.audit import DomainEvent
from enrollkit.boundary import Text, boundary
from enrollkit.clock import Clock, SystemClock
from enrollkit.errors import (
    ConflictError,
    NotPermittedError,
    StorageError,
    ValidationError,
    a_or_an,
)
from enrollkit.hashing import Argon2Hasher, SecretHasher
from enrollkit.notify import InMemoryNotifier, Notification, Notifier
from enrollkit.principals import AccountGate, HostKey, Principal, PrincipalKind
from enrollkit.storage import (
    Aggregate,
    Collection,
    Index,
    Lookup,
    Reader,
    ReadRepository,
    Repository,
    Storage,
    UnitOfWork,
    flush,
    lookup_in,
    reader_of,
    require,
)

__all__ = [
    "IdGenerator",
    "RandomIds",
    "ReadView",
    "Reads",
    "Runtime",
    "SequentialIds",
    "Transaction",
    "use_case",
]

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: Storage conflicts a use case absorbs by running again on fresh data (ST-2): a
#: concurrent change won, so the retry decides on what is now stored.
RETRIED_CONFLICTS: Final = frozenset({"storage.stale", "storage.unique", "storage.duplicate"})
#: How many times a use case runs before a conflict is reported.
USE_CASE_ATTEMPTS: Final = 8
_ACCOUNTS_ONLY: Final = frozenset({PrincipalKind.ACCOUNT})
#: How many answers a runtime remembers for one committed version of its storage.
MEMO_SIZE: Final = 1 << 14


class IdGenerator(Protocol):
    """Makes identities for new aggregates."""

    def new_id(self, kind: str) -> str:
        """Return a new, never-used id for an aggregate of *kind* (e.g. ``"conn"``)."""
        ...


class RandomIds:
    """Random ids: ``conn-<32 hex digits>`` (uuid4)."""

    __slots__ = ()

    def new_id(self, kind: str) -> str:
        """Return ``kind-<uuid4 hex>``."""
        return f"{kind}-{uuid.uuid4().hex}"


class SequentialIds:
    """Readable, deterministic ids for tests and the demo: each kind counts on its own,
    ``acct-000001``, ``acct-000002``, then ``conn-000001`` for the first connection.

    >>> ids = SequentialIds()
    >>> ids.new_id("acct"), ids.new_id("mfa"), ids.new_id("acct")
    ('acct-000001', 'mfa-000001', 'acct-000002')
    """

    def __init__(self, start: int = 1) -> None:
        self._start = start
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def new_id(self, kind: str) -> str:
        """Return ``kind-NNNNNN``, numbered from *start* for each kind in this process."""
        with self._lock:
            counter = self._counters.setdefault(kind, itertools.count(self._start))
            return f"{kind}-{next(counter):06d}"


def _host_key(value: HostKey | bytes) -> HostKey:
    return HostKey.of(value)


def _memo_size(_instance: object, _attribute: object, value: object) -> None:
    if type(value) is not int or value < 0:
        shown = repr(value) if type(value) is int else f"a {type(value).__name__}"
        raise ValidationError(
            "runtime.memo_size",
            f"memo_size is how many decisions to remember: a whole number, 0 or more; got {shown}.",
        )


@attrs.define(eq=False)
class Runtime:
    """The injected collaborators of every use case.

    ``secret_key`` (32+ random bytes, the same in every worker and across
    restarts) seals principals and keys the AC-3 decoys; ``accounts`` answers
    whether an account may act now (AC-8), and is
    :class:`enrollkit.identity.AccountStates` unless a host brings its own.
    """

    storage: Storage
    secret_key: HostKey = attrs.field(converter=_host_key, repr=False)
    accounts: AccountGate
    clock: Clock = attrs.field(factory=SystemClock)
    notifier: Notifier = attrs.field(factory=InMemoryNotifier)
    hasher: SecretHasher = attrs.field(factory=Argon2Hasher)
    ids: IdGenerator = attrs.field(factory=RandomIds)
    #: How many pure answers (access decisions) to remember per committed version of a
    #: storage that counts its versions (memory, SQLite); 0 remembers none. A full memo
    #: starts over (an entry holds a decision and its facts: about 700 bytes).
    memo_size: int = attrs.field(default=MEMO_SIZE, kw_only=True, validator=_memo_size)
    _reader: Reader | None = attrs.field(init=False, default=None, repr=False)
    #: The reader's ``committed_version`` getter (None: it has none), then the version
    #: the memo was filled at and the memo.
    _version_of: Callable[[], object] | None = attrs.field(init=False, default=None, repr=False)
    _memo: tuple[object, dict[Any, Any]] = attrs.field(
        init=False, factory=lambda: (None, {}), repr=False
    )

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Open one use case's transaction; it rolls back unless committed."""
        with self.storage.unit_of_work() as uow:
            tx = Transaction(self, uow, self.clock.now())
            yield tx

    def reading(self) -> ReadView:
        """A pure read's view of committed state as of now: no unit of work (the read
        path of access decisions, CO-7)."""
        reader = self._reader
        if reader is None:
            reader = self._reader = reader_of(self.storage)
            if self.memo_size > 0 and hasattr(type(reader), "committed_version"):
                self._version_of = functools.partial(getattr, reader, "committed_version")
        version_of = self._version_of
        memo = None
        if version_of is not None:  # read before the facts: a later commit moves it on
            version = version_of()
            if version is not None:
                remembered, memo = self._memo
                if remembered != version or len(memo) >= self.memo_size:
                    memo = {}
                    self._memo = (version, memo)
        return ReadView(self, reader, self.clock.now(), memo)

    @boundary
    def load(self, collection: Collection[A], obj_id: Text, *, what: Text) -> A:
        """The committed aggregate of *collection* with id *obj_id*, read in a unit of
        work of its own; NotFoundError naming *what* if there is none (a host read, its
        arguments checked at the boundary, ER-1)."""
        with self.transaction() as tx:
            return require(tx.repo(collection), obj_id, what=what)

    def retrying(self, use_case: Callable[[], T], *, attempts: int = USE_CASE_ATTEMPTS) -> T:
        """Run *use_case* (one transaction); run it again when a concurrent change to
        the same aggregates won at commit (ST-2), so the loser of a race gets the
        domain's answer on what is now stored, never a storage conflict, unless the
        conflict persists through every attempt."""
        for _ in range(attempts - 1):
            try:
                return use_case()
            except ConflictError as exc:
                if exc.code not in RETRIED_CONFLICTS:
                    raise
        return use_case()


class Reads(Protocol):
    """What a pure question reads through: a :class:`Transaction` inside a use case, or
    a :class:`ReadView` of committed state (the access decisions take either)."""

    @property
    def now(self) -> datetime:
        """The moment the question is asked."""
        ...

    @property
    def explains_later(self) -> bool:
        """Whether an answer may compose its explanation when it is first read (a view
        of committed state can be read later; a unit of work is closed by then)."""
        ...

    def repo(self, collection: Collection[A]) -> ReadRepository[A]:
        """Read the aggregates of *collection*."""
        ...

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """Answer several lookups at once (:meth:`enrollkit.storage.Reader.fetch`)."""
        ...

    def account_is_known(self, account_id: str) -> bool:
        """Whether *account_id* names an account that is not disabled (AC-8)."""
        ...


class _ReadRepository:
    __slots__ = ("_collection", "_reader")

    def __init__(self, reader: Reader, collection: Collection[Any]) -> None:
        self._reader = reader
        self._collection = collection

    def get(self, obj_id: str) -> Any:
        return self._reader.get(self._collection, obj_id)

    def find(self, index: Index[Any], key: str) -> Sequence[Any]:
        return self._reader.find(self._collection, index, key)


class ReadView:
    """Committed state as of :attr:`now`, read without a unit of work (:class:`Reads`)."""

    __slots__ = ("_reader", "_runtime", "fetch", "memo", "now")
    explains_later: Final = True

    def __init__(
        self,
        runtime: Runtime,
        reader: Reader,
        now: datetime,
        memo: dict[Any, Any] | None = None,
    ) -> None:
        self._runtime = runtime
        self._reader = reader
        self.now = now
        #: Answers remembered for the committed version this view reads (``None``: the
        #: storage does not count versions, or the runtime remembers nothing). Only a
        #: pure function of committed state may be remembered here, under a key naming
        #: the function and all its arguments.
        self.memo = memo
        #: Answer several lookups in one consistent read (one statement on SQL): the
        #: reader's own, bound here (a decision calls it once).
        self.fetch = reader.fetch

    def repo(self, collection: Collection[A]) -> ReadRepository[A]:
        """Read the committed aggregates of *collection*."""
        return _ReadRepository(self._reader, collection)

    def account_is_known(self, account_id: str) -> bool:
        """Whether *account_id* names an account that is not disabled (AC-8)."""
        return self._runtime.accounts.is_known(self, account_id)


class Transaction:
    """One use case: a unit of work, its start time, its events and notifications."""

    __slots__ = ("_notifications", "_runtime", "_uow", "committed", "now")
    #: a unit of work is closed after the use case: explanations are composed at once
    explains_later: Final = False

    def __init__(self, runtime: Runtime, uow: UnitOfWork, now: datetime) -> None:
        self._runtime = runtime
        self._uow = uow
        self._notifications: list[Notification] = []
        self.now = now
        self.committed = False

    def repo(self, collection: Collection[A]) -> Repository[A]:
        """The repository of *collection* inside this transaction."""
        return self._uow.repository(collection)

    def fetch(self, lookups: Sequence[Lookup]) -> list[Sequence[Any]]:
        """Answer several lookups as of this unit of work (its own writes included)."""
        return [lookup_in(self.repo(c), index, key) for c, index, key in lookups]

    def flush(self) -> None:
        """Write the changes made so far into this transaction's database transaction
        (:func:`enrollkit.storage.flush`): a bulk use case holds one batch in memory;
        still all or nothing (ST-1)."""
        flush(self._uow)

    def new_id(self, kind: str) -> str:
        """A new aggregate id from the runtime's generator."""
        return self._runtime.ids.new_id(kind)

    def act(
        self,
        actor: object,
        *,
        kinds: Iterable[PrincipalKind] = _ACCOUNTS_ONLY,
        fresh_within: timedelta | None = None,
        password_change: bool = False,
    ) -> Principal:
        """The principal this use case acts for, checked now (AC-8).

        Refused: anything but a principal sealed by this installation, a kind the
        use case does not take (an operator where an account must act, or the
        reverse), an authentication older than *fresh_within* (step-up for
        signing), and an account that is unknown, locked, disabled, or whose
        password expired or changed since (ask :attr:`Runtime.accounts`).
        """
        principal = self._runtime.secret_key.check(actor)
        allowed = frozenset(kinds)
        if principal.kind not in allowed:
            wanted = " or ".join(sorted(k.value.replace("_", " ") for k in allowed))
            raise NotPermittedError(
                "principal.kind",
                f"Only {a_or_an(wanted)} principal may do this; "
                f"this one is {a_or_an(principal.kind.value.replace('_', ' '))} (AC-8).",
                kind=principal.kind.value,
                allowed=sorted(k.value for k in allowed),
            )
        age = self.now - principal.authenticated_at
        if age < timedelta(minutes=-5):
            raise NotPermittedError(
                "principal.from_the_future",
                "This principal says it was authenticated in the future; check the clocks "
                "and log in again (AC-8).",
            )
        if fresh_within is not None and age > fresh_within:
            minutes = int(fresh_within.total_seconds() // 60)
            raise NotPermittedError(
                "principal.stale",
                f"This needs a login within the last {minutes} minutes; log in again "
                "(password and code) to confirm it is you (AC-8).",
                authenticated_at=principal.authenticated_at.isoformat(),
                fresh_within_minutes=minutes,
            )
        if principal.kind is PrincipalKind.ACCOUNT:
            self._runtime.accounts.require_usable(self, principal, password_change=password_change)
        return principal

    def account_is_known(self, account_id: str) -> bool:
        """Whether *account_id* names an account that is not disabled (AC-8): read-only
        questions such as access decisions never match a missing one."""
        return self._runtime.accounts.is_known(self, account_id)

    def record(self, name: str, /, *, subject: str, actor: str | None, **data: Any) -> None:
        """Record a domain event at this transaction's time (AU-1)."""
        self._uow.record(DomainEvent(name, subject=subject, actor=actor, at=self.now, data=data))

    def add(
        self, collection: Collection[A], new: A, event: str, /, *, actor: str | None, **data: Any
    ) -> A:
        """Store the new aggregate *new* in *collection* and record *event* about it
        (subject: its id) with *data*, in one step (AU-1: every change is an event).
        Returns it as stored (version 1)."""
        stored = self.repo(collection).add(new)
        self.record(event, subject=stored.id, actor=actor, **data)
        return stored

    def save(
        self,
        collection: Collection[A],
        changed: A,
        event: str,
        /,
        *,
        actor: str | None,
        **data: Any,
    ) -> A:
        """Save the changed aggregate *changed* in *collection* (ST-2: only over the
        version it was loaded at) and record *event* about it (subject: its id) with
        *data*, in one step (AU-1: every change is an event). Returns it as stored."""
        stored = self.repo(collection).save(changed)
        self.record(event, subject=stored.id, actor=actor, **data)
        return stored

    def notify(self, notification: Notification) -> None:
        """Queue a notification, delivered after a successful commit."""
        self._notifications.append(notification)

    def commit(self) -> None:
        """Commit the unit of work, then hand the notifications to the notifier."""
        if self.committed:
            raise StorageError("storage.double_commit", "This transaction already committed.")
        self._uow.commit()
        self.committed = True
        for notification in self._notifications:
            self._runtime.notifier.send(notification)
        self._notifications.clear()


class _HasRuntime(Protocol):
    runtime: Runtime


def use_case(fn: F) -> F:
    """A service method that is one use case: its arguments are checked at the boundary
    (ER-1), and it runs again when a concurrent change won at commit (ST-2), so the
    loser of a race gets the domain's answer (:meth:`Runtime.retrying`). The method
    opens its own transaction; its notifications go out only after the commit."""

    @functools.wraps(fn)
    def run(self: _HasRuntime, *args: Any, **kwargs: Any) -> Any:
        return self.runtime.retrying(lambda: fn(self, *args, **kwargs))

    return boundary(run)  # type: ignore[return-value]
