"""What every use case runs on: storage, clock, notifier, hasher and ids, in one place.

A use case opens one :class:`Transaction` (a unit of work plus the time it
started, its events and its notifications), asks the pure rules, saves, and
commits. Events go to the audit chain atomically with the changes (AU-1);
notifications go to the notifier only after the commit succeeded, so a
rolled-back change never sends mail.

>>> from enrollkit.adapters.memory import MemoryStorage
>>> from enrollkit.clock import FixedClock
>>> from datetime import datetime, timezone
>>> rt = Runtime(storage=MemoryStorage(), clock=FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)),
...              ids=SequentialIds())
>>> with rt.transaction() as tx:
...     tx.record("demo.happened", subject="x-1", actor=None, answer_count=1)
...     tx.commit()
>>> print(*(e.event.name for e in rt.storage.audit.entries()))
demo.happened
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, TypeVar

import attrs

from enrollkit.audit import DomainEvent
from enrollkit.clock import Clock, SystemClock
from enrollkit.errors import StorageError
from enrollkit.hashing import Argon2Hasher, SecretHasher
from enrollkit.notify import InMemoryNotifier, Notification, Notifier
from enrollkit.storage import Aggregate, Collection, Repository, Storage, UnitOfWork

__all__ = ["IdGenerator", "RandomIds", "Runtime", "SequentialIds", "Transaction"]

A = TypeVar("A", bound=Aggregate)


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
    """Readable, deterministic ids for tests and the demo: ``conn-000001``."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self, kind: str) -> str:
        """Return ``kind-NNNNNN`` with a process-wide increasing number."""
        with self._lock:
            return f"{kind}-{next(self._counter):06d}"


@attrs.define(eq=False)
class Runtime:
    """The injected collaborators of every use case."""

    storage: Storage
    clock: Clock = attrs.field(factory=SystemClock)
    notifier: Notifier = attrs.field(factory=InMemoryNotifier)
    hasher: SecretHasher = attrs.field(factory=Argon2Hasher)
    ids: IdGenerator = attrs.field(factory=RandomIds)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Open one use case's transaction; it rolls back unless committed."""
        with self.storage.unit_of_work() as uow:
            tx = Transaction(self, uow, self.clock.now())
            yield tx


class Transaction:
    """One use case: a unit of work, its start time, its events and notifications."""

    __slots__ = ("_notifications", "_runtime", "_uow", "committed", "now")

    def __init__(self, runtime: Runtime, uow: UnitOfWork, now: datetime) -> None:
        self._runtime = runtime
        self._uow = uow
        self._notifications: list[Notification] = []
        self.now = now
        self.committed = False

    def repo(self, collection: Collection[A]) -> Repository[A]:
        """The repository of *collection* inside this transaction."""
        return self._uow.repository(collection)

    def new_id(self, kind: str) -> str:
        """A new aggregate id from the runtime's generator."""
        return self._runtime.ids.new_id(kind)

    def record(self, name: str, /, *, subject: str, actor: str | None, **data: Any) -> None:
        """Record a domain event at this transaction's time (AU-1)."""
        self._uow.record(DomainEvent(name, subject=subject, actor=actor, at=self.now, data=data))

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
