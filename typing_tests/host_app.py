"""A host application's use of the public API, checked by mypy --strict (not executed).

If a public signature loses its precision (returns Any, drops a type), the
``assert_type`` lines here fail the typecheck session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import assert_type

import attrs

from enrollkit import (
    NPI,
    ChainHead,
    ChainVerification,
    Collection,
    EnrollkitError,
    FixedClock,
    Index,
    InMemoryNotifier,
    Notification,
    Runtime,
    SequentialIds,
    from_data,
    to_data,
)
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.identity import AccountStates


@attrs.frozen
class Task:
    id: str
    title: str
    version: int = 0


TASKS = Collection("tasks", Task, indexes=(Index[Task]("title", lambda t: [t.title]),))


def host() -> None:
    npi = NPI.parse("1234567893")
    assert_type(npi, NPI)
    assert_type(NPI.is_valid("x"), bool)
    runtime = Runtime(
        storage=MemoryStorage(audit_key=bytes(32)),
        secret_key=b"0123456789abcdef0123456789abcdef",
        accounts=AccountStates(),
        clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        notifier=InMemoryNotifier(),
        ids=SequentialIds(),
    )
    with runtime.transaction() as tx:
        task = tx.repo(TASKS).add(Task(tx.new_id("task"), "sign"))
        assert_type(task, Task)
        found = tx.repo(TASKS).get(task.id)
        assert_type(found, Task | None)
        tx.notify(Notification("ana@example.org", "task.created", {"title": task.title}))
        tx.commit()
    assert_type(runtime.storage.audit.verify(), ChainVerification)
    anchor = runtime.storage.audit.head()
    assert_type(anchor, ChainHead | None)
    if anchor is not None:
        assert_type(runtime.storage.audit.verify(anchor=anchor), ChainVerification)
    assert_type(from_data(to_data(npi), NPI), NPI)
    try:
        NPI.parse("0")
    except EnrollkitError as err:
        assert_type(err.code, str)
