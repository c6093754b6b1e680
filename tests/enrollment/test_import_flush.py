"""EN-10, ST-1: the revalidation-list import writes batch by batch into one transaction
(storage.flush) and still lands all of the file or nothing, on every shipped adapter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from enrollkit.adapters import kit as adapter_kit
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.enrollment import (
    ENROLLMENT_RECORDS,
    EnrollmentRecord,
    ListedEnrollment,
    RevalidationListError,
    month_end,
    revalidation_list_lines,
)
from enrollkit.npi import NPI
from enrollkit.storage import Storage, find_ids
from tests.enrollment.factories import import_kit
from tests.storage.pg import EVERY_ADAPTER, drop_schemas, new_schema, require_dsn, shipped_storage

#: More rows than one batch of the import (1,000): several flushes happen.
ROWS = 2_500


def _rows(count: int, *, start: int = 0, year: int = 2026) -> list[ListedEnrollment]:
    """*count* rows of CMS's shape with distinct enrollment IDs (not real people)."""
    rows = []
    for n in range(start, start + count):
        base = f"1{n:08d}"
        rows.append(
            ListedEnrollment(
                line=0,
                enrollment_id=f"I20100101{n:06d}",
                npi=NPI(base + str(NPI.check_digit_for(base))),
                first_name=f"FIRST{n % 97}",
                last_name=f"LAST{n % 89}",
                organization_name="",
                state="MD",
                enrollment_type="1",
                provider_type="Practitioner - Internal Medicine",
                specialty="Internal Medicine",
                revalidation_due=None if n % 7 == 0 else month_end(date(year, 1 + n % 12, 1)),
                adjusted_due=None,
                employer_associations=n % 3,
                group_reassignments=None,
            )
        )
    return rows


def _state(storage: Storage) -> tuple[dict[str, int], int]:
    """Every stored record's version, and the number of imports in the audit log."""
    with storage.unit_of_work() as uow:
        repo = uow.repository(ENROLLMENT_RECORDS)
        ids = [r.id for r in repo.find_range(ENROLLMENT_RECORDS.index("due"))]
        ids += find_ids(repo, ENROLLMENT_RECORDS.index("listed"), "cms")
        versions = {obj_id: repo.get(obj_id).version for obj_id in ids}  # type: ignore[union-attr]
    imports = sum(
        e.event.name == "records.revalidation_list_imported" for e in storage.audit.entries()
    )
    return versions, imports


@pytest.fixture(params=EVERY_ADAPTER)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Every shipped adapter."""
    with shipped_storage(request.param, tmp_path) as store:
        yield store


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows each flush of a SQL adapter wrote into its transaction."""
    written: list[int] = []
    write = adapter_kit.SqlTransaction.write

    def counting(self: adapter_kit.SqlTransaction, writes: adapter_kit.Writes) -> None:
        written.append(len(writes))
        write(self, writes)

    monkeypatch.setattr(adapter_kit.SqlTransaction, "write", counting)
    return written


class TestImportInBatches:
    def test_en_10_a_malformed_last_row_after_flushed_batches_lands_nothing(
        self, storage: Storage, flushes: list[int]
    ) -> None:
        """The last row of a file is malformed after two flushed batches (new records and
        changed ones): the import is refused and nothing of it is stored (ST-1)."""
        kit, actors = import_kit(storage)
        staff = actors("sue")
        kit.records.import_revalidation_list(actor=staff, lines=revalidation_list_lines(_rows(10)))
        before = _state(storage)
        flushes.clear()
        lines = [*revalidation_list_lines(_rows(ROWS, year=2027))]
        lines[-1] = lines[-1].replace(',"1', ',"9', 1)  # an NPI starting with 9
        with pytest.raises(RevalidationListError) as info:
            kit.records.import_revalidation_list(actor=staff, lines=lines)
        assert (info.value.code, info.value.fields["line"]) == (
            "revalidation_list.bad_npi",
            ROWS + 1,
        )
        if not isinstance(storage, MemoryStorage):
            assert len(flushes) >= 2 and sum(flushes) > 1_900  # written, then refused
        assert _state(storage) == before

    def test_en_10_a_failure_reading_the_file_mid_import_lands_nothing(
        self, storage: Storage
    ) -> None:
        """The file stops being readable after two batches were flushed: nothing lands."""
        kit, actors = import_kit(storage)

        def broken() -> Iterator[str]:
            for number, line in enumerate(revalidation_list_lines(_rows(ROWS))):
                if number == 2_200:
                    raise OSError("the disk went away")
                yield line

        with pytest.raises(OSError, match="went away"):
            kit.records.import_revalidation_list(actor=actors("sue"), lines=broken())
        assert _state(storage) == ({}, 0)
        summary = kit.records.import_revalidation_list(
            actor=actors("sue"), lines=revalidation_list_lines(_rows(3))
        )
        assert len(summary.new) == 3  # the store is writable again

    def test_en_10_reimport_over_batches_reports_the_same_changes(self, storage: Storage) -> None:
        """A re-import over several batches writes nothing for unchanged rows and reports
        the enrollments gone (read by id from the listed index), due dates set and
        adjusted, as the one-batch import does."""
        kit, actors = import_kit(storage)
        staff = actors("sue")
        first = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines(_rows(ROWS))
        )
        assert (len(first.new), first.gone, first.unchanged) == (ROWS, (), 0)
        versions, events = _state(storage)
        again = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines(_rows(ROWS))
        )
        assert (again.new, again.due_set, again.due_adjusted, again.updated, again.gone) == (
            (),
            (),
            (),
            (),
            (),
        )
        assert again.unchanged == ROWS
        assert _state(storage) == (versions, events + 1)  # nothing written, one event
        kept = _rows(ROWS)[300:]
        changed = [*kept[:100], *_rows(len(kept) - 100, start=400, year=2028)]
        newer = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines(changed)
        )
        gone = tuple(row.enrollment_id for row in _rows(300))
        assert newer.gone == gone
        tbd = sum(1 for n in range(400, ROWS) if n % 7 == 0)  # "TBD" both times
        assert (len(newer.due_adjusted), newer.due_set, newer.new) == (ROWS - 400 - tbd, (), ())
        assert newer.unchanged == 100 + tbd
        with storage.unit_of_work() as uow:
            listed = find_ids(
                uow.repository(ENROLLMENT_RECORDS), ENROLLMENT_RECORDS.index("listed"), "cms"
            )
        assert len(listed) == len(changed)
        assert not set(gone) & set(listed)

    def test_en_10_a_record_under_a_listed_id_with_another_enrollment_id_is_gone(
        self, storage: Storage
    ) -> None:
        """A host's record whose id is a listed enrollment ID but which holds another,
        unlisted one is reported gone, as when every listed record was read."""
        kit, actors = import_kit(storage)
        listed = _rows(3)
        with storage.unit_of_work() as uow:
            uow.repository(ENROLLMENT_RECORDS).add(
                EnrollmentRecord(
                    id=listed[1].enrollment_id,
                    enrollment_id="I20100101999999",
                    npi=listed[1].npi,
                    listed=True,
                )
            )
            uow.commit()
        summary = kit.records.import_revalidation_list(
            actor=actors("sue"), lines=revalidation_list_lines(listed)
        )
        assert summary.gone == ("I20100101999999",)
        assert summary.new == (listed[0].enrollment_id, listed[2].enrollment_id)


_CRASH = textwrap.dedent(
    """
    import os, sys
    from tests.enrollment.factories import import_kit
    from tests.enrollment.test_import_flush import ROWS, _rows
    from enrollkit.enrollment import revalidation_list_lines

    kind, where = sys.argv[1], sys.argv[2]
    if kind == "sqlite":
        from enrollkit.adapters.sqlite import SQLiteStorage
        storage = SQLiteStorage(where)
    else:
        from enrollkit.adapters.postgres import PostgresStorage
        storage = PostgresStorage(where, schema=sys.argv[3])
    kit, actors = import_kit(storage)

    def lines():
        for number, line in enumerate(revalidation_list_lines(_rows(ROWS))):
            if number == 2_200:  # two batches flushed: die without any cleanup
                os._exit(3)
            yield line

    kit.records.import_revalidation_list(actor=actors("sue"), lines=lines())
    """
)


class TestCrashMidImport:
    @pytest.mark.parametrize(
        "kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
    )
    def test_en_10_a_process_dying_mid_import_lands_nothing(
        self, kind: str, tmp_path: Path
    ) -> None:
        """The importing process dies after batches were flushed: nothing of the file is
        stored, and the database takes writes again (ST-1)."""
        schema = ""
        if kind == "sqlite":
            where = str(tmp_path / "records.db")
            SQLiteStorage(where).close()
        else:
            where, schema = require_dsn(), new_schema()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _CRASH, kind, where, schema],
                cwd=Path(__file__).parents[2],
                timeout=300,
                check=False,
            )
            assert done.returncode == 3
            if kind == "sqlite":
                storage: Storage = SQLiteStorage(where)
            else:
                from enrollkit.adapters.postgres import PostgresStorage

                storage = PostgresStorage(where, schema=schema)
            try:
                assert _state(storage) == ({}, 0)
                kit, actors = import_kit(storage)
                summary = kit.records.import_revalidation_list(
                    actor=actors("sue"), lines=revalidation_list_lines(_rows(3))
                )
                assert len(summary.new) == 3
            finally:
                storage.close()
        finally:
            if schema:
                drop_schemas(where, [schema])
