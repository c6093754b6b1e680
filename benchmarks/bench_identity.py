"""Identity benchmarks: the password policy check, argon2id, and AC-3's timing parity.

Run: ``python benchmarks/bench_identity.py`` (or ``nox -s bench``); ``--quick`` for fewer
samples.

* ``PasswordPolicy.check`` for a compliant and a non-compliant password
  (target: median under 20 µs), without history (PW-10 costs one argon2
  verification per remembered hash, measured below);
* argon2id hash and verify at the default parameters (OWASP minimum:
  m=19 MiB, t=2, p=1), so integrators see what one login costs on their
  machine; and the test-only parameters for comparison;
* AC-3, side by side: a wrong password, "forgot user ID" and a reset with wrong answers,
  for a known account and for an unknown one, on SQLite (the embedded default, a
  commit is an fsync) and in memory, at the default argon2 parameters and at the
  test-only ones (where storage, not hashing, dominates: the harder case). Samples of
  known and unknown alternate; the ratio of the medians should be close to 1.
"""

from __future__ import annotations

import functools
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.hashing import (
    FAST_INSECURE_PARAMETERS,
    OWASP_MINIMUM,
    Argon2Hasher,
    Argon2Parameters,
)
from enrollkit.identity import (
    IA_ACCOUNT_POLICY,
    IA_PASSWORD_POLICY,
    AccountStates,
    FactorKind,
    IdentityService,
    NewFactor,
    Profile,
)
from enrollkit.runtime import Runtime
from enrollkit.storage import Storage

TARGET_NS = 20_000


def measure(fn: Callable[[], object], *, repeat: int, inner: int = 1) -> tuple[float, float]:
    """Median and p99 of one call, in nanoseconds, over *repeat* samples of *inner* calls."""
    for _ in range(min(repeat, 100)):
        fn()
    samples: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter_ns() - start) / inner)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def fmt(ns: float) -> str:
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:8.2f} ms"
    return f"{ns / 1_000:8.2f} µs"


def main() -> None:
    policy = IA_PASSWORD_POLICY

    def check(password: str) -> object:
        return policy.check(password, user_id="JSmith01", first_name="Jane", last_name="Smith")

    cases = {
        "compliant      'Blue#Sky42'": "Blue#Sky42",
        "non-compliant  '1 smithhh'": "1 smithhh",
    }
    print("PasswordPolicy.check (IA_PASSWORD_POLICY, no history)")
    for label, password in cases.items():
        violations = len(
            policy.check(password, user_id="JSmith01", first_name="Jane", last_name="Smith")
        )
        median, p99 = measure(functools.partial(check, password), repeat=2000, inner=20)
        verdict = "ok" if median < TARGET_NS else "OVER TARGET"
        print(
            f"  {label:28} median {fmt(median)}  p99 {fmt(p99)}  "
            f"violations={violations}  target<{TARGET_NS // 1000} µs: {verdict} "
            f"({median / TARGET_NS:.2f}x of target)"
        )

    print()
    print("argon2id (argon2-cffi)")
    for name, params in (
        ("default (OWASP minimum)", OWASP_MINIMUM),
        ("test-only FAST_INSECURE", FAST_INSECURE_PARAMETERS),
    ):
        hasher = Argon2Hasher(params)
        digest = hasher.hash("Blue#Sky42")
        repeat = 30 if params is OWASP_MINIMUM else 2000
        hash_median, hash_p99 = measure(functools.partial(hasher.hash, "Blue#Sky42"), repeat=repeat)
        verify_median, verify_p99 = measure(
            functools.partial(hasher.verify, digest, "Blue#Sky42"), repeat=repeat
        )
        p = params
        print(
            f"  {name:24} m={p.memory_kib} KiB t={p.time_cost} p={p.parallelism}: "
            f"hash median {fmt(hash_median)} (p99 {fmt(hash_p99)}), "
            f"verify median {fmt(verify_median)} (p99 {fmt(verify_p99)})"
        )
    default = Argon2Hasher()
    digest = default.hash("Blue#Sky42")
    verify_median, _ = measure(lambda: default.verify(digest, "Blue#Sky42"), repeat=30)
    check_median, _ = measure(functools.partial(check, "Blue#Sky42"), repeat=2000, inner=20)
    print()
    print(
        f"One login at the defaults costs about one verify ({fmt(verify_median).strip()}) plus "
        f"one hash of the one-time code; a password change with a full history (PW-10) "
        f"adds up to 6 verifies. The policy check is {verify_median / check_median:,.0f}x "
        "cheaper than one verify."
    )


def _identity(storage: Storage, parameters: Argon2Parameters) -> IdentityService:
    """An identity service whose accounts never lock during the benchmark (the lock is a
    write like any other failure; here it would end the known account's samples)."""
    runtime = Runtime(
        storage=storage,
        secret_key=secrets.token_bytes(32),
        accounts=AccountStates(),
        hasher=Argon2Hasher(parameters),
    )
    policy = IA_ACCOUNT_POLICY.__class__(max_failed_logins=10**9, max_failed_answers=10**9)
    identity = IdentityService(runtime, account_policy=policy)
    questions = policy.question_catalogue[:3]
    identity.register(
        user_id="JSmith01",
        password="Blue#Sky42",
        profile=Profile("Jane", "Smith", "jane@example.org"),
        security_answers=dict.fromkeys(questions, "right"),
        factor=NewFactor(FactorKind.EMAIL, "jane@example.org"),
    )
    return identity


def _paired(
    known: Callable[[], object], unknown: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Medians (ns) of *known* and *unknown*, sampled alternately."""
    for fn in (known, unknown):
        fn()
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        for fn, out in ((known, a), (unknown, b)):
            start = time.perf_counter_ns()
            fn()
            out.append(time.perf_counter_ns() - start)
    return statistics.median(a), statistics.median(b)


def enumeration(*, quick: bool) -> None:
    """AC-3: known versus unknown, for every step that could tell them apart."""
    print()
    print("AC-3: comparable work for a known and an unknown account (medians; ratio known/unknown)")
    print(f"  {'storage':8} {'argon2':9} {'step':34} {'known':>11} {'unknown':>11} {'ratio':>6}")
    wrong = dict.fromkeys(IA_ACCOUNT_POLICY.question_catalogue[:3], "wrong")
    with tempfile.TemporaryDirectory() as folder:
        for storage_name in ("sqlite", "memory"):
            for argon_name, parameters in (
                ("default", OWASP_MINIMUM),
                ("test", FAST_INSECURE_PARAMETERS),
            ):
                storage: Storage = (
                    SQLiteStorage(Path(folder) / f"{argon_name}.db")
                    if storage_name == "sqlite"
                    else MemoryStorage()
                )
                identity = _identity(storage, parameters)
                heavy = parameters is OWASP_MINIMUM
                repeat = (5 if quick else 15) if heavy else (50 if quick else 300)
                steps = {
                    "login, wrong password": (
                        lambda i=identity: i.login("JSmith01", "Wrong#pass1"),
                        lambda i=identity: i.login("Nobody99", "Wrong#pass1"),
                    ),
                    "forgot user ID": (
                        lambda i=identity: i.forgot_user_id("jane@example.org"),
                        lambda i=identity: i.forgot_user_id("nobody@example.org"),
                    ),
                    "reset password, wrong answers": (
                        lambda i=identity: i.reset_password(
                            "JSmith01", answers=wrong, new_password="Red$Moon17"
                        ),
                        lambda i=identity: i.reset_password(
                            "Nobody99", answers=wrong, new_password="Red$Moon17"
                        ),
                    ),
                    "security questions": (
                        lambda i=identity: i.security_questions("JSmith01"),
                        lambda i=identity: i.security_questions("Nobody99"),
                    ),
                }
                for step, (known, unknown) in steps.items():
                    k, u = _paired(known, unknown, repeat)
                    print(
                        f"  {storage_name:8} {argon_name:9} {step:34} {fmt(k)} {fmt(u)} {k / u:6.2f}"
                    )
                storage.close()


if __name__ == "__main__":
    main()
    enumeration(quick="--quick" in sys.argv)
