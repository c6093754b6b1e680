"""Storage benchmarks: in-memory (the baseline) vs SQLite vs PostgreSQL.

    python benchmarks/bench_storage.py            # full sizes (100k finds, 1M sweep)
    python benchmarks/bench_storage.py --quick    # small sizes, a few seconds

PostgreSQL runs when ENROLLKIT_PG_DSN is set (a fresh schema, dropped after).

1. commits/s of a typical use case: load an aggregate, change it, a versioned
   save and one audit event, commit;
2. an access decision through storage: ``find`` through an index among 100k
   aggregates (inside an open unit, and as a whole read-only unit);
3. the 30-day sweep: ``find_range`` over an ordered deadline index holding 1M
   keys, every aggregate read back (SQLite and in-memory).

Targets (issue 6): an indexed lookup through SQLite under 50 µs median at
100k; the 1M sweep under 10 s on SQLite. Printed with ratios to in-memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import attrs

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.audit import DomainEvent
from enrollkit.storage import Collection, Index, Storage, compose_key, time_key

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@attrs.frozen
class Connection:
    """A connection request between a requester and a profile (the shape use cases store)."""

    id: str
    requester: str
    profile: str
    state: str
    requested_at: datetime
    expires_at: datetime
    systems: tuple[str, ...] = ("PECOS",)
    version: int = 0


BY_REQUESTER = Index[Connection]("requester", lambda c: [c.requester])
BY_PAIR = Index[Connection]("pair", lambda c: [compose_key(c.requester, c.profile)], unique=True)
BY_EXPIRY = Index[Connection](
    "expiry", lambda c: [time_key(c.expires_at)] if c.state == "pending" else [], ordered=True
)
CONNECTIONS = Collection(
    "bench_connections", Connection, indexes=(BY_REQUESTER, BY_PAIR, BY_EXPIRY)
)


def connection(i: int) -> Connection:
    at = T0 + timedelta(seconds=i)
    return Connection(
        id=f"conn-{i:08d}",
        requester=f"user-{i // 3:07d}",
        profile=f"profile-{i:08d}",
        state="pending",
        requested_at=at,
        expires_at=at + timedelta(days=30),
    )


def populate(storage: Storage, count: int, *, batch: int = 5000) -> None:
    if isinstance(storage, MemoryStorage):
        # The in-memory adapter scans a unit's own writes on each query: keep its units small.
        batch = min(batch, 50)
    for low in range(0, count, batch):
        with storage.unit_of_work() as uow:
            repo = uow.repository(CONNECTIONS)
            for i in range(low, min(count, low + batch)):
                repo.add(connection(i))
            uow.commit()


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def summary(samples: list[int]) -> tuple[float, float]:
    """(median, p99) in microseconds."""
    return statistics.median(samples) / 1000, percentile(samples, 0.99)


def bench_commits(storage: Storage, repetitions: int) -> list[int]:
    populate(storage, 100)
    samples: list[int] = []
    for n in range(repetitions):
        obj_id = f"conn-{n % 100:08d}"
        start = time.perf_counter_ns()
        with storage.unit_of_work() as uow:
            repo = uow.repository(CONNECTIONS)
            current = repo.get(obj_id)
            assert current is not None
            repo.save(attrs.evolve(current, systems=(*current.systems[-3:], f"S{n}")))
            uow.record(
                DomainEvent("connection.updated", subject=obj_id, actor="user-1", at=T0, data={})
            )
            uow.commit()
        samples.append(time.perf_counter_ns() - start)
    return samples


def bench_find(storage: Storage, size: int, repetitions: int) -> dict[str, list[int]]:
    """Lookups among *size* aggregates: an access decision (the unique requester-profile
    pair: one aggregate), inside an open unit and as a whole read-only unit; and a
    requester's connections (three aggregates) inside an open unit."""
    picks = [(i * 7919) % size for i in range(repetitions)]
    pairs = [compose_key(f"user-{i // 3:07d}", f"profile-{i:08d}") for i in picks]
    requesters = [f"user-{i // 3:07d}" for i in picks]
    samples: dict[str, list[int]] = {"decision": [], "decision unit": [], "requester": []}
    with storage.unit_of_work() as uow:
        repo = uow.repository(CONNECTIONS)
        for key in pairs[: repetitions // 5]:  # warm up caches and prepared statements
            repo.find(BY_PAIR, key)
        for key in pairs:
            start = time.perf_counter_ns()
            found = repo.find(BY_PAIR, key)
            samples["decision"].append(time.perf_counter_ns() - start)
            assert len(found) == 1
        for key in requesters:
            start = time.perf_counter_ns()
            found = repo.find(BY_REQUESTER, key)
            samples["requester"].append(time.perf_counter_ns() - start)
            assert found
    for key in pairs:
        start = time.perf_counter_ns()
        with storage.unit_of_work() as uow:
            found = uow.repository(CONNECTIONS).find(BY_PAIR, key)
        samples["decision unit"].append(time.perf_counter_ns() - start)
        assert len(found) == 1
    return samples


def bench_sweep(storage: Storage, size: int, repetitions: int) -> list[int]:
    stop = time_key(T0 + timedelta(days=31) + timedelta(seconds=size))
    samples: list[int] = []
    for _ in range(repetitions):
        start = time.perf_counter_ns()
        with storage.unit_of_work() as uow:
            due = uow.repository(CONNECTIONS).find_range(BY_EXPIRY, stop=stop)
        samples.append(time.perf_counter_ns() - start)
        assert len(due) == size, len(due)
    return samples


@contextmanager
def adapters(directory: Path, name: str) -> Iterator[Storage | None]:
    if name == "memory":
        yield MemoryStorage()
    elif name == "sqlite":
        storage: Storage = SQLiteStorage(directory / f"bench-{uuid.uuid4().hex[:8]}.db")
        try:
            yield storage
        finally:
            storage.close()
    else:
        dsn = os.environ.get("ENROLLKIT_PG_DSN")
        if not dsn:
            yield None
            return
        import psycopg

        from enrollkit.adapters.postgres import PostgresStorage

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        pg = PostgresStorage(dsn, schema=schema)
        try:
            yield pg
        finally:
            pg.close()
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def report(title: str, results: dict[str, tuple[float, float]], unit: str = "µs") -> None:
    base = results.get("memory")
    print(f"\n{title}")
    for name, (median, p99) in results.items():
        ratio = f"{median / base[0]:8.1f}x memory" if base and base[0] else ""
        print(f"  {name:<9} median {median:12.1f} {unit}   p99 {p99:12.1f} {unit}   {ratio}")


def timed(label: str, action: Callable[[], None]) -> None:
    start = time.perf_counter()
    action()
    print(f"  ({label}: {time.perf_counter() - start:.1f} s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--only", choices=["commit", "find", "sweep"], action="append", help="run these parts"
    )
    args = parser.parse_args(argv)
    find_size = 10_000 if args.quick else 100_000
    sweep_size = 50_000 if args.quick else 1_000_000
    commit_reps = 200 if args.quick else 2_000
    find_reps = 500 if args.quick else 5_000
    sweep_reps = 1 if args.quick else 3
    names = ["memory", "sqlite", "postgres"]
    parts = set(args.only or ["commit", "find", "sweep"])
    print(
        f"enrollkit storage benchmark: commits x{commit_reps}, finds at {find_size:,}, "
        f"sweep over {sweep_size:,}"
    )
    commits: dict[str, tuple[float, float]] = {}
    finds: dict[str, tuple[float, float]] = {}
    units: dict[str, tuple[float, float]] = {}
    requesters: dict[str, tuple[float, float]] = {}
    sweeps: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name in names:
            if name == "postgres" and not os.environ.get("ENROLLKIT_PG_DSN"):
                print(f"  ({name}: skipped, set ENROLLKIT_PG_DSN to include it)")
                continue
            if "commit" in parts:
                with adapters(directory, name) as storage:
                    assert storage is not None
                    commits[name] = summary(bench_commits(storage, commit_reps))
                    progress(name, "commit", commits[name])
            if "find" in parts:
                with adapters(directory, name) as storage:
                    assert storage is not None
                    timed(f"{name}: populate {find_size:,}", partial(populate, storage, find_size))
                    found = bench_find(storage, find_size, find_reps)
                    finds[name] = summary(found["decision"])
                    units[name] = summary(found["decision unit"])
                    requesters[name] = summary(found["requester"])
                    progress(name, "decision lookup in a unit", finds[name])
                    progress(name, "read-only unit + decision lookup", units[name])
                    progress(name, "a requester's 3 connections", requesters[name])
            if name == "postgres" or "sweep" not in parts:
                continue
            with adapters(directory, name) as storage:
                assert storage is not None
                timed(
                    f"{name}: populate {sweep_size:,}",
                    partial(populate, storage, sweep_size, batch=20_000),
                )
                samples = bench_sweep(storage, sweep_size, sweep_reps)
                sweeps[name] = (statistics.median(samples) / 1e9, max(samples) / 1e9)
                progress(name, "sweep", sweeps[name], unit="s")
    report("1. use-case commit (get, versioned save, one event, commit)", commits)
    for name, (median, _p99) in commits.items():
        print(f"  {name:<9} {1e6 / median:10.0f} commits/s")
    report(f"2a. access decision: unique-index lookup at {find_size:,} (in an open unit)", finds)
    report(f"2b. read-only unit with one decision lookup at {find_size:,}", units)
    report(f"2c. a requester's three connections at {find_size:,} (in an open unit)", requesters)
    report(
        f"3. sweep: find_range over {sweep_size:,} ordered keys (seconds; max not p99)", sweeps, "s"
    )
    if "sqlite" in finds:
        print(
            f"\nTargets: SQLite indexed lookup median {finds['sqlite'][0]:.1f} µs (target < 50 µs); "
            f"SQLite sweep {sweeps.get('sqlite', (float('nan'),))[0]:.2f} s over {sweep_size:,} "
            "(target < 10 s over 1,000,000)"
        )


def progress(name: str, what: str, result: tuple[float, float], unit: str = "µs") -> None:
    print(
        f"  [{name}] {what}: median {result[0]:.1f} {unit}, p99/max {result[1]:.1f} {unit}",
        flush=True,
    )


if __name__ == "__main__":
    main()
