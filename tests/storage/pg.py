"""PostgreSQL for tests: the DSN from ENROLLKIT_PG_DSN, a fresh schema per storage.

Without ENROLLKIT_PG_DSN the PostgreSQL tests skip, saying how to run them;
under CI=true a missing DSN FAILS them instead (CI must run them for real).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable

import pytest

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
