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
are loaded, divided by N; plus the whole population divided by N).

pycasbin enforces the same facts as an RBAC-with-domains model (users ->
roles per organization via ``g``; surrogate organizations -> provider
profiles per system via ``p``), at 1k and 100k, on the same queries; the
script checks both give the same answers and prints the ratios.

Facts are bulk-loaded through units of work (no events): this measures
decisions, not the use cases that create facts.

Run: ``python benchmarks/bench_access.py`` (sizes 1k, 100k, 1M) or
``--quick`` (1k, 10k, 100k without the 1M run; pycasbin at 1k and 10k).
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
from enrollkit.runtime import Runtime, SequentialIds, Transaction
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

    def is_known(self, tx: Transaction, account_id: str) -> bool:
        """Every id is an account."""
        return True


def npi_for(n: int) -> NPI:
    base = f"{100_000_000 + n:09d}"
    return NPI(base + str(NPI.check_digit_for(base)))


@attrs.define
class Population:
    """The facts, and a query list shared by both engines."""

    runtime: Runtime
    service: AccessService
    connections: int
    bytes_per_connection: float
    bytes_total_per_connection: float
    queries: list[tuple[str, str, System]]
    casbin_g: list[list[str]]
    casbin_p: list[list[str]]


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
    staff: dict[str, list[str]] = {}
    casbin_g: list[list[str]] = []
    for s in range(n_surrogates):
        org_id = f"sur-{s}"
        organizations.append(Organization(org_id, f"Surrogate {s} LLC", npi=None, ein=None))
        staff[org_id] = []
        for k, role in enumerate(
            (Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER, *[Role.STAFF_END_USER] * 3)
        ):
            user = f"su-{s}-{k}"
            staff[org_id].append(user)
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
            casbin_g.append([user, role.value, org_id])
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
            casbin_g.append([f"ao-{p}", "AO", org_id])
    _load(runtime, ORGANIZATIONS, organizations)
    _load(runtime, PROFILES, profiles)
    _load(runtime, ASSOCIATIONS, associations)
    del organizations, associations
    gc.collect()
    before_connections = tracemalloc.get_traced_memory()[0]

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
    casbin_p: list[list[str]] = []
    approved_facts: list[tuple[str, str, System]] = []
    for s, p, roll, subset, _minutes in specs:
        if _state(roll) is ConnectionState.APPROVED:
            for system in SUBSETS[subset]:
                approved_facts.append((f"sur-{s}", f"prof-{p}", system))
                if with_casbin:
                    casbin_p.append(
                        ["member", f"sur-{s}", f"prof-{p}", system.value, "act_on_behalf"]
                    )
    # Surrogate staff are "members" of their organization for the casbin model.
    for org_id, users in staff.items():
        casbin_g.extend([user, "member", org_id] for user in users)

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
    return Population(
        runtime,
        service,
        n,
        (after - before_connections) / n,
        (after - base_mem) / n,
        queries,
        casbin_g if with_casbin else [],
        casbin_p if with_casbin else [],
    )


def measure(call: Callable[[int], object], reps: int) -> tuple[float, float]:
    """Median and p99 latency in microseconds of ``call(i)`` over *reps* calls."""
    for i in range(min(reps, 200)):  # warm-up
        call(i)
    samples: list[int] = []
    for i in range(reps):
        start = time.perf_counter_ns()
        call(i)
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(0.99 * (len(samples) - 1))] / 1000


CASBIN_MODEL = """
[request_definition]
r = sub, obj, sys, act

[policy_definition]
p = sub, dom, obj, sys, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, p.dom) && r.obj == p.obj && r.sys == p.sys && r.act == p.act
"""


def casbin_enforcer(population: Population) -> object:
    """A pycasbin enforcer loaded the usual way: a model file and a policy CSV file
    (``add_policies`` at run time is quadratic in pycasbin and would dominate)."""
    import casbin  # the peer, installed for benchmarks only

    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder, "model.conf")
        model.write_text(CASBIN_MODEL, encoding="utf-8")
        policy = Path(folder, "policy.csv")
        with policy.open("w", encoding="utf-8") as out:
            out.writelines("p, " + ", ".join(rule) + "\n" for rule in population.casbin_p)
            out.writelines("g, " + ", ".join(rule) + "\n" for rule in population.casbin_g)
        return casbin.Enforcer(str(model), str(policy))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (1k, 10k, 100k)")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    casbin_sizes = {1_000, 10_000} if args.quick else {1_000, 100_000}
    print(f"enrollkit access benchmark, Python {sys.version.split()[0]}")
    print(
        f"{'connections':>12} {'median us':>10} {'p99 us':>9} {'B/conn':>8} {'B/conn all':>11} "
        f"{'casbin med us':>14} {'casbin p99 us':>14} {'speed-up':>9}"
    )
    medians: dict[int, float] = {}
    for n in sizes:
        t0 = time.perf_counter()
        population = build(n, with_casbin=n in casbin_sizes)
        build_s = time.perf_counter() - t0
        service, queries = population.service, population.queries

        def ours(
            i: int,
            service: AccessService = service,
            queries: list[tuple[str, str, System]] = queries,
        ) -> bool:
            user, profile, system = queries[i % len(queries)]
            return service.decide(
                user_id=user, action=Action.ACT_ON_BEHALF, profile_id=profile, system=system
            ).allowed

        median, p99 = measure(ours, 20_000)
        medians[n] = median
        casbin_cells = f"{'-':>14} {'-':>14} {'-':>9}"
        if n in casbin_sizes:
            enforcer = casbin_enforcer(population)

            def peer(
                i: int,
                enforcer: object = enforcer,
                queries: list[tuple[str, str, System]] = queries,
            ) -> bool:
                user, profile, system = queries[i % len(queries)]
                return bool(enforcer.enforce(user, profile, system.value, "act_on_behalf"))  # type: ignore[attr-defined]

            agree = sum(ours(i) == peer(i) for i in range(200))
            assert agree == 200, f"pycasbin and enrollkit disagree on {200 - agree} of 200 queries"
            reps = max(20, min(2_000, 2_000_000 // n))
            c_median, c_p99 = measure(peer, reps)
            casbin_cells = f"{c_median:>14.1f} {c_p99:>14.1f} {c_median / median:>8.0f}x"
        print(
            f"{n:>12,} {median:>10.1f} {p99:>9.1f} {population.bytes_per_connection:>8.0f} "
            f"{population.bytes_total_per_connection:>11.0f} {casbin_cells}"
            f"   (built in {build_s:.1f}s)"
        )
        del population, service, queries
        gc.collect()
    smallest, largest = min(medians), max(medians)
    print(
        f"median growth {smallest:,} -> {largest:,} connections: "
        f"{medians[largest] / medians[smallest]:.2f}x (target <= 1.5x)"
    )


if __name__ == "__main__":
    main()
