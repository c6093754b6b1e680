"""Decisions remembered over SQLite: a commit by another storage on the same file (as
another process would make) is seen by the very next question (CO-7, ST-1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from enrollkit.access import AccessReads, Action, System
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.clock import FixedClock
from enrollkit.notify import InMemoryNotifier
from enrollkit.runtime import Runtime
from tests.access.conftest import World
from tests.conftest import make_runtime


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "access.db"


@pytest.fixture
def runtime(clock: FixedClock, notifier: InMemoryNotifier, path: Path) -> Iterator[Runtime]:
    """The world's runtime, on a SQLite file."""
    storage = SQLiteStorage(path)
    yield make_runtime(storage=storage, clock=clock, notifier=notifier)
    storage.close()


def test_co_7_a_commit_elsewhere_ends_what_was_remembered(
    world: World, path: Path, clock: FixedClock
) -> None:
    """A second host process (its own storage on the file) remembers cred's access; when
    the world's process removes the connection, the next question is denied."""
    connection = world.connect(world.p_individual, System.PECOS)
    other = SQLiteStorage(path)
    try:
        reads = AccessReads(make_runtime(storage=other, clock=clock))

        def ask() -> bool:
            return reads.decide(
                user_id="cred", action=Action.ACT_ON_BEHALF, profile_id=world.p_individual
            ).allowed

        assert ask()
        assert ask()
        world.service.remove_connection(actor=world.actor("ana"), connection_id=connection.id)
        assert not ask()
        world.connect(world.p_individual, System.PECOS)
        assert ask()
    finally:
        other.close()
