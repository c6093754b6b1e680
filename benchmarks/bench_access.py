"""Access-decision benchmark: enrollkit's decide() against pycasbin, same facts.

Builds a population proportional to N connections and asks "may user U act on
behalf of provider profile P in system S" (CO-7), through the in-memory
storage exactly as a use case would (one read transaction per decision):

* surrogate organizations: N/100 (credentialing companies with 100 clients
  each), 5 staff users each (AO, AM, 3 SEUs);
* provider profiles: N/2 (half Type 1 owned by their provider, half Type 2 of
  a provider organization with one AO);
* connections: N, each between a surrogate and a profile, 80 % approved for
  a random non-empty subset of {PECOS, NPPES, EHR}, 10 % pending, 10 % removed.

Reported per size: median and p99 decision latency, and bytes of memory per
connection (tracemalloc: the growth of allocated memory while the connections
are loaded, divided by N; plus what the whole population's storage holds,
organizations, profiles, associations and connections, divided by N; the
benchmark's own lists of facts to load, drawn connections and query helpers are
dropped or built outside the measured windows).

Beside enrollkit, two other engines answer the same queries, checked to agree on
every timed query before anything is timed:

* **the floor**: the same decision as plain Python dict and set lookups over the
  same facts (user -> organizations, (organization, profile) -> approved
  systems): what CPython itself costs;
* **pycasbin, set up the way its docs recommend for speed**: ``FastEnforcer``
  with ``cache_key_order`` indexing the policy on (profile, system); request and
  policy both ``(sub, obj, sys, act)``; ``g = _, _`` maps each user to their
  surrogate organization; the matcher tests the cheap equalities before ``g``.
  (Plain ``casbin.Enforcer`` scans every policy line per call; its cost grows
  with the data, which is no fair comparison: ``--naive-casbin`` prints it as a
  footnote.)

Each size prints medians for allowed queries only and for the mix (half
allowed), the ratio to the floor, pycasbin's median and how many times faster
enrollkit is, and the growth of the median from the smallest to the largest
size.

The service remembers each answer until the next commit (the in-memory storage
counts its versions; the account is checked on every call). The timed queries
repeat (4,000 distinct ones), so after the warm-up nearly every call is answered
from memory: the ``c.`` columns ("computed") ask the same storage through a
runtime that remembers nothing (``memo_size=0``), every decision fetched and
decided afresh, the cost of a question asked for the first time since a commit.

Facts are bulk-loaded through units of work (no events): this measures
decisions, not the use cases that create facts.

Run: ``python benchmarks/bench_access.py`` (sizes 1k, 100k, 1M; pycasbin at 1k and
100k) or ``--quick`` (1k, 10k, 100k; pycasbin at each).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import attrs

from enrollkit.access import (
    ASSOCIATIONS,
    CONNECTIONS,
    ORGANIZATIONS,
    PROFILES,
    AccessService,
    Action,
    Association,
    AssociationState,
    Connection,
    ConnectionState,
    Employer,
    Grant,
    GrantBasis,
    Organization,
    ProviderProfile,
    Role,
    Side,
    System,
)
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.clock import FixedClock
from enrollkit.npi import NPI, NPIType
from enrollkit.principals import Principal
from enrollkit.runtime import Reads, Runtime, SequentialIds, Transaction
from enrollkit.storage import Aggregate, Collection

A = TypeVar("A", bound=Aggregate)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SYSTEMS = list(System)
SUBSETS = [frozenset(s) for s in ([System.PECOS], [System.PECOS, System.NPPES], list(System))]
#: Facts per unit of work when loading: small for collections with unique indexes (the
#: memory adapter checks a new key against the unit's own writes), large otherwise.
BATCH_UNIQUE = 16
BATCH = 2_000


class EveryIdIsAnAccount:
    """The runtime's accounts port for populations that store no account aggregates:
    every id is a known, usable account (the benchmark times decisions, not logins)."""

    def require_usable(
        self, tx: Transaction, principal: Principal, *, password_change: bool = False
    ) -> None:
        """Every principal's account may act."""

    def is_known(self, tx: Reads, account_id: str) -> bool:
        """Every id is an account."""
        return True


def staff_user(surrogate: int, number: int) -> str:
    """The id of staff user *number* (0 is the AO) of surrogate organization *surrogate*."""
    return f"su-{surrogate}-{number}"


def npi_for(n: int) -> NPI:
    base = f"{100_000_000 + n:09d}"
    return NPI(base + str(NPI.check_digit_for(base)))


@attrs.define
class Population:
    """The facts, and a query list shared by both engines."""

    runtime: Runtime
    service: AccessService
    computed: AccessService  #: the same storage through a runtime that remembers nothing
    connections: int
    bytes_per_connection: float
    bytes_total_per_connection: float
    queries: list[tuple[str, str, System]]
    casbin_g: list[list[str]]
    casbin_p: list[list[str]]
    orgs_of: dict[str, frozenset[str]]  #: the floor's facts: user -> organizations
    approved: dict[tuple[str, str], frozenset[System]]  #: (org, profile) -> systems


def _load(runtime: Runtime, collection: Collection[A], objects: Sequence[A]) -> None:
    for start in range(0, len(objects), BATCH_UNIQUE):
        with runtime.transaction() as tx:
            repo = tx.repo(collection)
            for obj in objects[start : start + BATCH_UNIQUE]:
                repo.add(obj)
            tx.commit()


def _state(roll: float) -> ConnectionState:
    if roll < 0.8:
        return ConnectionState.APPROVED
    return ConnectionState.PENDING if roll < 0.9 else ConnectionState.REMOVED


def build(n: int, *, seed: int = 7, with_casbin: bool) -> Population:
    rng = random.Random(seed)
    clock = FixedClock(T0 + timedelta(days=10))
    runtime = Runtime(
        storage=MemoryStorage(),
        secret_key=b"enrollkit-benchmark-secret-key-32",
        accounts=EveryIdIsAnAccount(),
        clock=clock,
        ids=SequentialIds(),
    )
    service = AccessService(runtime)
    n_surrogates = max(1, n // 100)
    n_profiles = max(2, n // 2)
    tracemalloc.start()
    base_mem = tracemalloc.get_traced_memory()[0]

    organizations: list[Organization] = []
    associations: list[Association] = []
    profiles: list[ProviderProfile] = []
    grant = Grant(GrantBasis.VERIFIER, None, None, T0)
    for s in range(n_surrogates):
        org_id = f"sur-{s}"
        organizations.append(Organization(org_id, f"Surrogate {s} LLC", npi=None, ein=None))
        for k, role in enumerate(
            (Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, *[Role.STAFF_END_USER] * 3)
        ):
            user = staff_user(s, k)
            associations.append(
                Association(
                    f"asc-{user}",
                    user,
                    Employer.organization(org_id),
                    role,
                    AssociationState.ACTIVE,
                    requested_at=T0,
                    grant=grant,
                )
            )
    for p in range(n_profiles):
        if p % 2 == 0:
            profiles.append(
                ProviderProfile(
                    f"prof-{p}", npi_for(p), NPIType.INDIVIDUAL, f"Provider {p} MD", f"ip-{p}", None
                )
            )
        else:
            org_id = f"porg-{p}"
            organizations.append(Organization(org_id, f"Clinic {p} PLLC", npi=npi_for(p), ein=None))
            profiles.append(
                ProviderProfile(
                    f"prof-{p}", npi_for(p), NPIType.ORGANIZATION, f"Clinic {p} PLLC", None, org_id
                )
            )
            associations.append(
                Association(
                    f"asc-ao-{p}",
                    f"ao-{p}",
                    Employer.organization(org_id),
                    Role.AUTHORIZED_OFFICIAL,
                    AssociationState.ACTIVE,
                    requested_at=T0,
                    grant=grant,
                )
            )

    _load(runtime, ORGANIZATIONS, organizations)
    _load(runtime, PROFILES, profiles)
    _load(runtime, ASSOCIATIONS, associations)
    # The lists held the objects to load (a profile's stored copy is another object, at
    # version 1): what the population stores is what is left.
    del organizations, associations, profiles
    gc.collect()
    populated = tracemalloc.get_traced_memory()[0]

    # Draw the connections first (as small ints), so the measured window holds only
    # what storing them costs.
    specs: list[tuple[int, int, float, int, int]] = []
    pairs: set[tuple[int, int]] = set()
    while len(specs) < n:
        s, p = rng.randrange(n_surrogates), rng.randrange(n_profiles)
        if (s, p) not in pairs:
            pairs.add((s, p))
            specs.append((s, p, rng.random(), rng.randrange(len(SUBSETS)), rng.randrange(14_400)))
    del pairs
    gc.collect()
    before_connections = tracemalloc.get_traced_memory()[0]
    for start in range(0, n, BATCH):
        with runtime.transaction() as tx:
            repo = tx.repo(CONNECTIONS)
            for number, (s, p, roll, subset, minutes) in enumerate(
                specs[start : start + BATCH], start
            ):
                state = _state(roll)
                decided = state is not ConnectionState.PENDING
                repo.add(
                    Connection(
                        f"conn-{number}",
                        surrogate_id=f"sur-{s}",
                        profile_id=f"prof-{p}",
                        requested_systems=SUBSETS[subset],
                        approved_systems=SUBSETS[subset] if decided else frozenset(),
                        initiator=Side.SURROGATE,
                        requested_by=f"su-{s}-0",
                        requested_at=T0 + timedelta(minutes=minutes),
                        state=state,
                        decided_at=T0 + timedelta(days=2) if decided else None,
                        decided_by=f"ip-{p}" if decided else None,
                    )
                )
            tx.commit()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    stored = (populated - base_mem) + (after - before_connections)  # not the drawn specs
    staff = {f"sur-{s}": [staff_user(s, k) for k in range(5)] for s in range(n_surrogates)}
    casbin_g = [[user, org] for org, users in staff.items() for user in users]
    casbin_p: list[list[str]] = []
    approved_facts: list[tuple[str, str, System]] = []
    approved: dict[tuple[str, str], frozenset[System]] = {}
    for s, p, roll, subset, _minutes in specs:
        if _state(roll) is ConnectionState.APPROVED:
            approved[(f"sur-{s}", f"prof-{p}")] = SUBSETS[subset]
            for system in SUBSETS[subset]:
                approved_facts.append((f"sur-{s}", f"prof-{p}", system))
                if with_casbin:
                    casbin_p.append([f"sur-{s}", f"prof-{p}", system.value, "act_on_behalf"])
    orgs_of = {user: frozenset({org}) for org, users in staff.items() for user in users}

    queries: list[tuple[str, str, System]] = []
    for i in range(4000):
        if i % 2 == 0 and approved_facts:
            org, profile, system = rng.choice(approved_facts)
            user = rng.choice(staff[org])
        else:
            org = f"sur-{rng.randrange(n_surrogates)}"
            user = rng.choice(staff[org])
            profile, system = f"prof-{rng.randrange(n_profiles)}", rng.choice(SYSTEMS)
        queries.append((user, profile, system))
    computed = AccessService(
        Runtime(
            storage=runtime.storage,
            secret_key=b"enrollkit-benchmark-secret-key-32",
            accounts=EveryIdIsAnAccount(),
            clock=clock,
            ids=SequentialIds(),
            memo_size=0,
        )
    )
    return Population(
        runtime,
        service,
        computed,
        n,
        (after - before_connections) / n,
        stored / n,
        queries,
        casbin_g if with_casbin else [],
        casbin_p if with_casbin else [],
        orgs_of,
        approved,
    )


def measure(call: Callable[[int], object], reps: int, *, start: int = 0) -> float:
    """Median latency in microseconds of ``call(i)`` over *reps* calls."""
    for i in range(min(reps, 200)):  # warm-up
        call(start + i)
    samples: list[int] = []
    for i in range(reps):
        begin = time.perf_counter_ns()
        call(start + i)
        samples.append(time.perf_counter_ns() - begin)
    return statistics.median(samples) / 1000


def best_of(runs: int, call: Callable[[int], object], reps: int) -> float:
    """The lowest of *runs* medians (the machine is shared: the least disturbed run)."""
    return min(measure(call, reps, start=run * reps) for run in range(runs))


CASBIN_MODEL = """
[request_definition]
r = sub, obj, sys, act

[policy_definition]
p = sub, obj, sys, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.obj == p.obj && r.sys == p.sys && r.act == p.act && g(r.sub, p.sub)
"""


def casbin_enforcer(population: Population, *, fast: bool = True) -> object:
    """pycasbin loaded the usual way (a model file and a policy CSV; ``add_policies`` at
    run time is quadratic in pycasbin and would dominate): ``FastEnforcer`` indexing the
    policy on (profile, system), the setup its docs recommend for speed, or the plain
    ``Enforcer`` with ``fast=False``."""
    import casbin  # the peer, installed for benchmarks only

    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder, "model.conf")
        model.write_text(CASBIN_MODEL, encoding="utf-8")
        policy = Path(folder, "policy.csv")
        with policy.open("w", encoding="utf-8") as out:
            out.writelines("p, " + ", ".join(rule) + "\n" for rule in population.casbin_p)
            out.writelines("g, " + ", ".join(rule) + "\n" for rule in population.casbin_g)
        if fast:
            return casbin.FastEnforcer(str(model), str(policy), cache_key_order=[1, 2])
        return casbin.Enforcer(str(model), str(policy))


Engine = Callable[[int], bool]


def engines(population: Population, *, casbin: bool, naive: bool) -> dict[str, Engine]:
    """The engines answering query *i* of the population, by name."""
    service, queries = population.service, population.queries
    orgs_of, approved = population.orgs_of, population.approved
    found: dict[str, Engine] = {}

    def ours(i: int) -> bool:
        user, profile, system = queries[i % len(queries)]
        return service.decide(
            user_id=user, action=Action.ACT_ON_BEHALF, profile_id=profile, system=system
        ).allowed

    def floor(i: int) -> bool:
        user, profile, system = queries[i % len(queries)]
        return any(system in approved.get((org, profile), ()) for org in orgs_of.get(user, ()))

    computed = population.computed

    def ours_computed(i: int) -> bool:
        user, profile, system = queries[i % len(queries)]
        return computed.decide(
            user_id=user, action=Action.ACT_ON_BEHALF, profile_id=profile, system=system
        ).allowed

    found["enrollkit"], found["floor"] = ours, floor
    found["enrollkit computed"] = ours_computed
    for name, fast in (("casbin", True), ("casbin naive", False)):
        if (casbin and fast) or (naive and not fast):
            enforcer = casbin_enforcer(population, fast=fast)

            def peer(i: int, enforcer: object = enforcer) -> bool:
                user, profile, system = queries[i % len(queries)]
                return bool(enforcer.enforce(user, profile, system.value, "act_on_behalf"))  # type: ignore[attr-defined]

            found[name] = peer
    return found


def check_agreement(found: dict[str, Engine], count: int) -> None:
    """Every engine answers every one of the first *count* queries as enrollkit does."""
    reference = [found["enrollkit"](i) for i in range(count)]
    for name, engine in found.items():
        wrong = sum(engine(i) != expected for i, expected in enumerate(reference))
        if wrong:
            raise SystemExit(f"{name} disagrees with enrollkit on {wrong} of {count} queries")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (1k, 10k, 100k)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument(
        "--naive-casbin", action="store_true", help="also time plain casbin.Enforcer (slow)"
    )
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    casbin_sizes = set(sizes) if args.quick else {1_000, 100_000}
    print(f"enrollkit access benchmark, Python {sys.version.split()[0]}; medians in us, best of")
    print(f"{args.runs} runs; every engine agrees with enrollkit on every timed query.")
    print(
        f"{'connections':>12} {'allowed':>8} {'mix':>7} {'floor':>7} {'x floor':>8} "
        f"{'c.allowed':>9} {'c.mix':>8} {'c.x fl':>8} "
        f"{'casbin':>8} {'ek faster':>10} {'c. faster':>10} {'B/conn':>7} {'B/conn all':>11}"
    )
    allowed_medians: dict[int, float] = {}
    computed_medians: dict[int, float] = {}
    for n in sizes:
        started = time.perf_counter()
        population = build(n, with_casbin=n in casbin_sizes or args.naive_casbin)
        built = time.perf_counter() - started
        found = engines(
            population, casbin=n in casbin_sizes, naive=args.naive_casbin and n <= 10_000
        )
        queries = population.queries
        reps = min(20_000, 50 * len(queries))
        check_agreement(found, reps)  # every query a measurement will ask
        ours = found["enrollkit"]
        allowed = [i for i in range(len(queries)) if ours(i)]

        def allowed_only(i: int, allowed: list[int] = allowed, ours: Engine = ours) -> bool:
            return ours(allowed[i % len(allowed)])

        computed = found["enrollkit computed"]

        def computed_allowed(
            i: int, allowed: list[int] = allowed, computed: Engine = computed
        ) -> bool:
            return computed(allowed[i % len(allowed)])

        ours_allowed = best_of(args.runs, allowed_only, reps)
        ours_mix = best_of(args.runs, ours, reps)
        floor_mix = best_of(args.runs, found["floor"], reps)
        computed_cells = (
            best_of(args.runs, computed_allowed, reps),
            best_of(args.runs, computed, reps),
        )
        allowed_medians[n] = ours_allowed
        computed_medians[n] = computed_cells[0]
        peer_cells = f"{'-':>8} {'-':>10} {'-':>10}"
        if "casbin" in found:
            peer = best_of(args.runs, found["casbin"], max(200, min(reps, 2_000_000 // n)))
            peer_cells = f"{peer:>8.1f} {peer / ours_mix:>9.1f}x {peer / computed_cells[1]:>9.1f}x"
        print(
            f"{n:>12,} {ours_allowed:>8.2f} {ours_mix:>7.2f} {floor_mix:>7.2f} "
            f"{ours_mix / floor_mix:>7.1f}x {computed_cells[0]:>9.2f} {computed_cells[1]:>8.2f} "
            f"{computed_cells[1] / floor_mix:>7.1f}x {peer_cells} "
            f"{population.bytes_per_connection:>7.0f} {population.bytes_total_per_connection:>11.0f}"
            f"   (built in {built:.1f}s)"
        )
        if "casbin naive" in found:
            naive = best_of(1, found["casbin naive"], 200)
            print(f"{'':>12} footnote: plain casbin.Enforcer {naive:,.0f} us (scans every policy)")
        del population, found
        gc.collect()
    smallest, largest = min(allowed_medians), max(allowed_medians)
    print(
        f"median growth (allowed) {smallest:,} -> {largest:,} connections: "
        f"{allowed_medians[largest] / allowed_medians[smallest]:.2f}x (target <= 1.3x); "
        f"computed: {computed_medians[largest] / computed_medians[smallest]:.2f}x"
    )


if __name__ == "__main__":
    main()
