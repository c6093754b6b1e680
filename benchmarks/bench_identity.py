"""Identity benchmarks: the password policy check and argon2id at the default parameters.

Run: ``python benchmarks/bench_identity.py`` (or ``nox -s bench``).

* ``PasswordPolicy.check`` for a compliant and a non-compliant password
  (target: median under 20 µs), without history (PW-10 costs one argon2
  verification per remembered hash, measured below);
* argon2id hash and verify at the default parameters (OWASP minimum:
  m=19 MiB, t=2, p=1), so integrators see what one login costs on their
  machine; and the test-only parameters for comparison.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable

from enrollkit.hashing import FAST_INSECURE_PARAMETERS, OWASP_MINIMUM, Argon2Hasher
from enrollkit.identity import IA_PASSWORD_POLICY

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


if __name__ == "__main__":
    main()
