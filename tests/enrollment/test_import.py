"""EN-10, EN-7: importing CMS's revalidation due-date list, on every shipped adapter."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.enrollment import (
    ENROLLMENT_RECORDS,
    HEADER_LINE,
    Fact,
    ListedEnrollment,
    RecordSource,
    RevalidationListError,
    revalidation_list_lines,
)
from enrollkit.errors import NotPermittedError
from enrollkit.npi import NPI
from enrollkit.storage import Storage
from enrollkit.testing.strategies import listed_enrollments
from tests.enrollment.factories import import_kit
from tests.storage.pg import EVERY_ADAPTER, shipped_storage

#: Rows with distinct enrollment IDs.
unique_rows = st.lists(listed_enrollments(), max_size=12, unique_by=lambda r: r.enrollment_id).map(
    tuple
)


def _records(storage: Storage) -> dict[str, object]:
    with storage.unit_of_work() as uow:
        found = uow.repository(ENROLLMENT_RECORDS).find_range(ENROLLMENT_RECORDS.index("due"))
        listed = uow.repository(ENROLLMENT_RECORDS).find(ENROLLMENT_RECORDS.index("listed"), "cms")
    return {r.id: r for r in (*found, *listed)}


def _imports(storage: Storage) -> int:
    return sum(
        e.event.name == "records.revalidation_list_imported" for e in storage.audit.entries()
    )


ANA = ListedEnrollment(
    line=0,
    enrollment_id="I20031110000070",
    npi=NPI("1234567893"),
    first_name="ANA",
    last_name="REYES",
    organization_name="",
    state="MD",
    enrollment_type="1",
    provider_type="Practitioner - Internal Medicine",
    specialty="Internal Medicine",
    revalidation_due=date(2026, 10, 31),
    adjusted_due=None,
    employer_associations=2,
    group_reassignments=None,
)
PLLC = attrs.evolve(
    ANA,
    enrollment_id="O20080205000209",
    npi=NPI("1245319599"),
    first_name="",
    last_name="",
    organization_name="RIVERA PEDIATRICS, PLLC",
    enrollment_type="2",
    revalidation_due=None,
    employer_associations=None,
    group_reassignments=4,
)


@pytest.fixture(params=EVERY_ADAPTER)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The import's storage: every shipped adapter."""
    with shipped_storage(request.param, tmp_path) as store:
        yield store


class TestImportOnEveryAdapter:
    def test_en_10_import_then_reimport_reports_what_changed(self, storage: Storage) -> None:
        """A first import creates records; a re-import of a newer list reports the due
        dates set and adjusted and the enrollments gone, which stay (unlisted)."""
        kit, actors = import_kit(storage)
        staff = actors("sue")
        first = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines([ANA, PLLC])
        )
        assert (first.rows, first.new, first.gone) == (
            2,
            (ANA.enrollment_id, PLLC.enrollment_id),
            (),
        )
        ana = kit.records.get(ANA.enrollment_id)
        assert ana.due == date(2026, 10, 31) and ana.listed
        assert ana.source_of(Fact.REVALIDATION_DUE) is not None
        assert ana.source_of(Fact.REVALIDATION_DUE).source is RecordSource.CMS_LIST  # type: ignore[union-attr]
        assert kit.records.get(PLLC.enrollment_id).due is None  # TBD
        again = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines([ANA, PLLC])
        )
        assert (again.new, again.due_set, again.due_adjusted, again.gone, again.unchanged) == (
            (),
            (),
            (),
            (),
            2,
        )
        assert kit.records.get(ANA.enrollment_id).version == ana.version  # nothing written
        newer = [attrs.evolve(PLLC, revalidation_due=date(2027, 3, 31))]
        changed = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines(newer)
        )
        assert changed.due_set == (PLLC.enrollment_id,) and changed.gone == (ANA.enrollment_id,)
        kept = kit.records.get(ANA.enrollment_id)
        assert kept.due == date(2026, 10, 31) and not kept.listed  # reported, not deleted
        adjusted = [
            attrs.evolve(PLLC, revalidation_due=date(2027, 3, 31), adjusted_due=date(2027, 6, 30))
        ]
        last = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines(adjusted)
        )
        assert last.due_adjusted == (PLLC.enrollment_id,) and last.gone == ()
        assert kit.records.get(PLLC.enrollment_id).due == date(2027, 6, 30)
        assert _imports(storage) == 4  # one audit event per import, not per row
        assert storage.audit.verify().ok

    def test_en_10_a_malformed_file_lands_nothing(self, storage: Storage) -> None:
        """A bad row after good ones: the error names its line and no record is stored."""
        kit, actors = import_kit(storage)
        lines = [*revalidation_list_lines([ANA, PLLC])]
        lines.append(lines[1].replace("10/31/2026", "10/30/2026").replace("I2003", "I2004"))
        with pytest.raises(RevalidationListError) as info:
            kit.records.import_revalidation_list(actor=actors("sue"), lines=lines)
        assert (info.value.code, info.value.fields["line"]) == (
            "revalidation_list.not_month_end",
            4,
        )
        assert _records(storage) == {} and _imports(storage) == 0


def _corrupt(kind: str, line: str) -> str:
    """*line* with one fault of *kind*, read and written back as CSV (a cell may hold
    quotes and commas)."""
    ending = line[len(line.rstrip("\r\n")) :]
    cells = next(csv.reader([line]))
    if kind == "date":
        cells[9] = "31/10/2026"
    elif kind == "month_end":
        cells[9] = "10/15/2026"
    elif kind == "npi":
        npi = cells[1]
        cells[1] = npi[:9] + str((int(npi[9]) + 1) % 10)
    elif kind == "enrollment_id":
        cells[0] = "X123"
    elif kind == "cells":
        cells = cells[:-1]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(cells)
    return out.getvalue() + ending


CODES = {
    "date": "revalidation_list.bad_date",
    "month_end": "revalidation_list.not_month_end",
    "npi": "revalidation_list.bad_npi",
    "enrollment_id": "revalidation_list.bad_enrollment_id",
    "cells": "revalidation_list.cell_count",
    "duplicate": "revalidation_list.duplicate",
}


class TestImportProperties:
    @settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
    @given(unique_rows)
    def test_en_10_any_valid_file_imports_and_reimports_idempotently(
        self, rows: Sequence[ListedEnrollment]
    ) -> None:
        """Every row becomes a record with its due date; importing it again changes
        nothing and reports nothing new."""
        storage = MemoryStorage()
        kit, actors = import_kit(storage)
        staff = actors("sue")
        done = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines(rows)
        )
        assert done.rows == len(rows) and len(done.new) == len(rows)
        for row in rows:
            record = kit.records.get(row.enrollment_id)
            assert (record.npi, record.revalidation_due, record.adjusted_due) == (
                row.npi,
                row.revalidation_due,
                row.adjusted_due,
            )
        before = _records(storage)
        again = kit.records.import_revalidation_list(
            actor=staff, lines=revalidation_list_lines(rows)
        )
        assert again.unchanged == len(rows) and again.as_dict()["new"] == 0
        assert _records(storage) == before

    @settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(listed_enrollments(), min_size=1, max_size=8, unique_by=lambda r: r.enrollment_id),
        st.data(),
        st.sampled_from(sorted(CODES)),
    )
    def test_en_10_any_single_corrupted_row_lands_nothing_and_names_its_line(
        self, rows: list[ListedEnrollment], data: st.DataObject, kind: str
    ) -> None:
        """A bad date, a day not a month end, an NPI failing its check digit, a bad
        enrollment ID, a short row or a duplicate ID: the error names the line (its code
        says which) and no record is stored."""
        storage = MemoryStorage()
        kit, actors = import_kit(storage)
        lines = list(revalidation_list_lines(rows))
        at = data.draw(st.integers(1, len(lines) - 1))
        if kind == "duplicate":
            lines.insert(at + 1, lines[at])
            bad_line = at + 2
        else:
            lines[at] = _corrupt(kind, lines[at])
            bad_line = at + 1
        with pytest.raises(RevalidationListError) as info:
            kit.records.import_revalidation_list(actor=actors("sue"), lines=lines)
        assert info.value.code == CODES[kind]
        assert info.value.fields["line"] == bad_line
        assert f"Line {bad_line}" in info.value.message
        assert _records(storage) == {} and _imports(storage) == 0

    @pytest.mark.parametrize(
        "header",
        [
            HEADER_LINE.replace('"Adjusted Due Date",', ""),
            HEADER_LINE + ',"Extra"',
            "",
            "not,a,header",
        ],
    )
    def test_en_10_a_wrong_column_set_is_refused(self, header: str) -> None:
        """A header that is not CMS's column set is refused at line 1."""
        kit, actors = import_kit(MemoryStorage())
        with pytest.raises(RevalidationListError) as info:
            kit.records.import_revalidation_list(actor=actors("sue"), lines=[header])
        assert (info.value.code, info.value.fields["line"]) == ("revalidation_list.columns", 1)

    def test_en_10_columns_may_come_in_any_order(self) -> None:
        """The header names the columns; their order is free (and a BOM is ignored)."""
        kit, actors = import_kit(MemoryStorage())
        header, row = list(revalidation_list_lines([ANA]))
        names, cells = header.split(","), row.split('","')
        lines = [
            "\ufeff" + ",".join(reversed(names)),
            '"' + '","'.join(reversed([c.strip('"') for c in cells])) + '"',
        ]
        done = kit.records.import_revalidation_list(actor=actors("sue"), lines=lines)
        assert done.new == (ANA.enrollment_id,)
        assert kit.records.get(ANA.enrollment_id).due == date(2026, 10, 31)

    def test_en_10_the_importer_is_an_authenticated_principal(self) -> None:
        """A bare string is no actor (AC-8); a MAC reviewer does not import the list."""
        kit, actors = import_kit(MemoryStorage())
        with pytest.raises(NotPermittedError):
            kit.records.import_revalidation_list(actor=actors.mac(), lines=[HEADER_LINE])
        with pytest.raises(Exception) as info:
            kit.records.import_revalidation_list(actor="sue", lines=[HEADER_LINE])  # type: ignore[arg-type]
        assert getattr(info.value, "code", "").startswith("principal")
