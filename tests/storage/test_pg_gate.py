"""The PostgreSQL tests skip locally without a DSN, but fail under CI=true (ST-3 in CI)."""

from __future__ import annotations

import pytest

from tests.storage.pg import DSN_VARIABLE, require_dsn


class TestPostgresGate:
    def test_st_3_missing_dsn_skips_locally(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without ENROLLKIT_PG_DSN and without CI, the tests skip and say how to run them."""
        monkeypatch.delenv(DSN_VARIABLE, raising=False)
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match=r"\.ci/postgres\.sh"):
            require_dsn()

    def test_st_3_missing_dsn_fails_under_ci(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Under CI=true a missing DSN is a failure: CI must run the PostgreSQL suite."""
        monkeypatch.delenv(DSN_VARIABLE, raising=False)
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="must run"):
            require_dsn()

    def test_given_dsn_is_used(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A DSN in the environment is returned as given."""
        monkeypatch.setenv(DSN_VARIABLE, "postgresql://u@h/db")
        assert require_dsn() == "postgresql://u@h/db"
