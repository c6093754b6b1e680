"""Benchmark of the revalidation-list import (issue 13, EN-10): 1M rows into SQLite.

Writes a generated list of CMS's shape (1,000,000 rows: enrollment IDs, valid NPIs,
month-end due dates or TBD) to a temporary file, then imports it with
``kit.records.import_revalidation_list`` into a new SQLite database, in one unit of
work (all or nothing; each batch of 1,000 rows is flushed into its transaction), and prints rows per second and the process's peak resident
memory (``resource.getrusage``). Target: under 60 s. A second run re-imports the same
file (idempotent: nothing is written) and prints its time too.

Run: ``python benchmarks/bench_import.py`` (``--rows N`` to choose the size,
``--quick`` for 20,000 rows, ``--profile PREFIX`` to write a cProfile file per run,
``PREFIX-import.prof`` and ``PREFIX-re-import.prof``).
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from enrollkit import Enrollkit
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.enrollment import ListedEnrollment, month_end, revalidation_list_lines
from enrollkit.npi import NPI
from enrollkit.principals import PrincipalKind

TARGET_SECONDS = 60.0


def generated_rows(count: int) -> Iterator[ListedEnrollment]:
    """*count* rows of CMS's shape, deterministic (not real people)."""
    for n in range(count):
        base = f"1{n:08d}"
        npi = NPI(base + str(NPI.check_digit_for(base)))
        organization = n % 5 == 0
        due = None if n % 7 == 0 else month_end(date(2026 + n % 4, 1 + n % 12, 1))
        yield ListedEnrollment(
            line=0,
            enrollment_id=f"{'O' if organization else 'I'}2010{n % 12 + 1:02d}01{n:06d}",
            npi=npi,
            first_name="" if organization else f"FIRST{n % 997}",
            last_name="" if organization else f"LAST{n % 1009}",
            organization_name=f"CLINIC {n % 5003} LLC" if organization else "",
            state=("MD", "VA", "CA", "NY", "TX")[n % 5],
            enrollment_type="2" if organization else "1",
            provider_type="Practitioner - Internal Medicine",
            specialty="Internal Medicine",
            revalidation_due=due,
            adjusted_due=None,
            employer_associations=None if organization else n % 3,
            group_reassignments=n % 40 if organization else None,
        )


def _peak_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", metavar="PREFIX", help="write PREFIX-<run>.prof files")
    args = parser.parse_args()
    rows = 20_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory(prefix="enrollkit-bench-") as folder:
        csv_path = Path(folder) / "revalidation.csv"
        started = time.perf_counter()
        with csv_path.open("w", encoding="utf-8", newline="") as out:
            for line in revalidation_list_lines(generated_rows(rows)):
                out.write(line + "\r\n")
        print(
            f"generated {rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        storage = SQLiteStorage(Path(folder) / "records.db")
        try:
            kit = Enrollkit(storage=storage, secret_key=b"b" * 32)
            actor = kit.identity.assert_operator(
                "bench", kind=PrincipalKind.HELP_DESK, asserted_by="bench"
            )
            for label in ("import", "re-import"):
                with csv_path.open(encoding="utf-8", newline="") as file:
                    profile = cProfile.Profile() if args.profile else None
                    started = time.perf_counter()
                    if profile is not None:
                        profile.enable()
                    summary = kit.records.import_revalidation_list(actor=actor, lines=file)
                    if profile is not None:
                        profile.disable()
                        profile.dump_stats(f"{args.profile}-{label}.prof")
                    took = time.perf_counter() - started
                verdict = "within" if took < TARGET_SECONDS else "OVER"
                print(
                    f"{label:<9} {summary.rows:,} rows in {took:.1f} s: "
                    f"{summary.rows / took:,.0f} rows/s ({verdict} the {TARGET_SECONDS:.0f} s "
                    f"target); new {len(summary.new):,}, unchanged {summary.unchanged:,}; "
                    f"peak RSS {_peak_mib():,.0f} MiB"
                )
        finally:
            storage.close()


if __name__ == "__main__":
    main()
