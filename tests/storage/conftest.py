"""Shared fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.pg import drop_schemas, new_schema, require_dsn
from tests.storage.workers import Spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def spec(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Spec]:
    """Where racing processes meet: an SQLite file or a fresh PostgreSQL schema."""
    # A spawned child gets this process's sys.path; make sure it can import the tests
    # package however pytest was started (``pytest`` does not put the checkout on it).
    monkeypatch.syspath_prepend(str(ROOT))
    if request.param == "sqlite":
        yield ("sqlite", str(tmp_path / "race.db"))
        return
    dsn = require_dsn()
    schema = new_schema()
    yield ("postgres", dsn, schema)
    drop_schemas(dsn, [schema])
