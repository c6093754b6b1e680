"""EN-10: ``enrollkit import-revalidation FILE --db PATH``: all or nothing, JSON summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.cli import main
from enrollkit.enrollment import ENROLLMENT_RECORDS, revalidation_list_lines
from tests.enrollment.test_import import ANA, PLLC


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


class TestImportCommand:
    def test_en_10_imports_a_file_and_reimports_idempotently(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The command imports into a new database; again, nothing is new."""
        listed = _write(tmp_path / "list.csv", list(revalidation_list_lines([ANA, PLLC])))
        db = tmp_path / "records.db"
        assert main(["import-revalidation", str(listed), "--db", str(db), "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        assert (first["rows"], first["new"]) == (2, 2)
        assert main(["import-revalidation", str(listed), "--db", str(db), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert (again["new"], again["unchanged"]) == (0, 2)
        assert main(["import-revalidation", str(listed), "--db", str(db)]) == 0
        assert "unchanged" in capsys.readouterr().out

    def test_en_10_a_malformed_file_exits_2_naming_the_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A bad NPI on line 3: exit status 2, the code and line on stderr, nothing stored."""
        lines = list(revalidation_list_lines([ANA, PLLC]))
        lines[2] = lines[2].replace(PLLC.npi.value, PLLC.npi.value[:9] + "0")
        listed = _write(tmp_path / "bad.csv", lines)
        db = tmp_path / "records.db"
        assert main(["import-revalidation", str(listed), "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert "revalidation_list.bad_npi" in err and "Line 3" in err
        storage = SQLiteStorage(db)
        try:
            with storage.unit_of_work() as uow:
                assert uow.repository(ENROLLMENT_RECORDS).get(ANA.enrollment_id) is None
        finally:
            storage.close()

    def test_en_10_a_missing_file_is_an_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No such file: exit status 2, ``cli.unreadable_file``."""
        missing = tmp_path / "nope.csv"
        assert main(["import-revalidation", str(missing), "--db", str(tmp_path / "x.db")]) == 2
        assert "cli.unreadable_file" in capsys.readouterr().err
