"""PostgreSQL for tests: the DSN from ENROLLKIT_PG_DSN, a fresh schema per storage.

Without ENROLLKIT_PG_DSN the PostgreSQL tests skip, saying how to run them;
under CI=true a missing DSN FAILS them instead (CI must run them for real).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Final

import pytest

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.storage import Storage

DSN_VARIABLE = "ENROLLKIT_PG_DSN"

_HOW = (
    f"PostgreSQL tests need {DSN_VARIABLE} (a libpq DSN or URL); "
    'start a local server with: eval "$(.ci/postgres.sh)"'
)


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_dsn() -> str:
    """The DSN to test against; skip (locally) or fail (under CI=true) without one."""
    dsn = os.environ.get(DSN_VARIABLE, "").strip()
    if not dsn:
        if _under_ci():
            pytest.fail(f"{_HOW}. Under CI=true these tests must run, not skip.", pytrace=False)
        pytest.skip(_HOW)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if _under_ci():
            pytest.fail("psycopg is not installed (the tests dependency group has it).")
        pytest.skip("psycopg is not installed")
    return dsn


def new_schema() -> str:
    """A schema name no other test uses."""
    return f"t_{uuid.uuid4().hex[:20]}"


def drop_schemas(dsn: str, schemas: Iterable[str]) -> None:
    """Drop the test schemas (and everything in them)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


#: pytest parameters over every shipped adapter; PostgreSQL's carry the ``postgres`` mark.
EVERY_ADAPTER: Final = ("memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


@contextmanager
def shipped_storage(kind: str, tmp_path: Path) -> Iterator[Storage]:
    """A fresh store of the shipped adapter *kind* (``memory``, ``sqlite`` or
    ``postgres``: a new schema, dropped afterwards), closed on the way out."""
    if kind == "memory":
        yield MemoryStorage()
        return
    if kind == "sqlite":
        with closing(SQLiteStorage(tmp_path / "enrollkit.db")) as sqlite:
            yield sqlite
        return
    from enrollkit.adapters.postgres import PostgresStorage

    dsn, schema = require_dsn(), new_schema()
    try:
        with closing(PostgresStorage(dsn, schema=schema)) as postgres:
            yield postgres
    finally:
        drop_schemas(dsn, [schema])
