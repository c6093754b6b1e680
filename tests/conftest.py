"""Shared test setup: hypothesis profiles ("ci" and "dev", chosen by environment)."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.clock import FixedClock
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import IA_PASSWORD_POLICY, AccountStates, PasswordPolicy
from enrollkit.notify import InMemoryNotifier
from enrollkit.runtime import IdGenerator, Runtime, SequentialIds
from enrollkit.storage import Storage
from enrollkit.testing.actors import Actors

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(
    os.environ.get("ENROLLKIT_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)

#: Where every test's clock starts.
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

#: For tests whose clock runs for months: the test accounts' passwords never expire, so
#: their principals stay good (PW-12 and AC-8 have tests of their own).
NO_EXPIRY = PasswordPolicy(max_age=None)

#: The host secret key of the tests (AC-8: seals principals; AC-3: keys decoys).
SECRET_KEY = b"enrollkit-tests-secret-key-32byte"


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at T0 that tests move by hand."""
    return FixedClock(T0)


@pytest.fixture
def notifier() -> InMemoryNotifier:
    """A notifier that records what it was given."""
    return InMemoryNotifier()


def make_runtime(
    storage: Storage | None = None,
    *,
    clock: FixedClock | None = None,
    notifier: InMemoryNotifier | None = None,
    password_policy: PasswordPolicy = IA_PASSWORD_POLICY,
    ids: IdGenerator | None = None,
) -> Runtime:
    """A test runtime: in-memory storage unless given, the tests' secret key, a cheap
    (test-only) hasher, readable ids and a clock standing at T0 unless given."""
    return Runtime(
        storage=storage if storage is not None else MemoryStorage(),
        secret_key=SECRET_KEY,
        accounts=AccountStates(password_policy),
        clock=clock if clock is not None else FixedClock(T0),
        notifier=notifier if notifier is not None else InMemoryNotifier(),
        hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
        ids=ids if ids is not None else SequentialIds(),
    )


@pytest.fixture
def runtime(clock: FixedClock, notifier: InMemoryNotifier) -> Runtime:
    """A runtime on in-memory storage with a cheap (test-only) hasher and readable ids."""
    return make_runtime(clock=clock, notifier=notifier)


@pytest.fixture
def actors(runtime: Runtime) -> Actors:
    """Accounts under chosen ids and their (host-asserted) principals (AC-8)."""
    return Actors(runtime)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report the rule catalogue's state: implemented and cited, and planned."""
    from enrollkit.rules import RULES, Status
    from tests.rule_citations import cited_ids

    cited = cited_ids()
    planned = [r.id for r in RULES.values() if r.status is Status.PLANNED]
    implemented = [r.id for r in RULES.values() if r.status is Status.IMPLEMENTED]
    terminalreporter.write_sep("-", "rule catalogue")
    fuzz = next((m for name, m in sys.modules.items() if name.endswith("test_hostile_input")), None)
    if fuzz is not None and fuzz.STATS["calls"]:
        stats, codes = fuzz.STATS, fuzz.CODES
        distinct = len({code for found in codes.values() for code in found})
        terminalreporter.write_line(
            f"hostile-input fuzz (ER-1): {stats['methods']} public methods, {stats['calls']} calls: "
            f"{stats['answered']} answered, {stats['refused']} refused with an EnrollkitError "
            f"({distinct} distinct codes), 0 other exceptions"
        )
    terminalreporter.write_line(
        f"{len(implemented)} rules implemented ({sum(r in cited for r in implemented)} cited by "
        f"tests); {len(planned)} planned and excluded from the citation check"
    )
