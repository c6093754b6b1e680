"""The command line: the demo story on SQLite and the inspection commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enrollkit.cli import main
from enrollkit.rules import RULES


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The demo played once on a fresh SQLite file, with its JSON report."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    out = subprocess.run(
        [sys.executable, "-m", "enrollkit", "demo", "--db", str(path), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return path, json.loads(out.stdout)


class TestDemo:
    def test_demo_plays_the_whole_story(self, demo_db: tuple[Path, dict[str, object]]) -> None:
        """The story's steps happen in order, in plain words, ending with a verified chain."""
        _path, report = demo_db
        steps = report["steps"]
        assert isinstance(steps, list)
        text = "\n".join(line for step in steps for line in step["lines"])
        titles = [step["title"] for step in steps]
        assert "Summit asks for both profiles; Ana approves both" in titles
        assert "approved for NPPES and PECOS" in text
        assert "Refused [access.role_not_permitted]" in text  # the SEU's request (RO-2, CO-4)
        assert "association asc-" in text and "is active" in text  # the invitation (RO-7)
        assert "Revision 2" in text and "no longer count (SG-5)" in text
        assert "Status: submitted" in text
        assert "4 signatures, 2 count for revision 2; verified against the audit chain" in text
        assert "sees it expired, no sweep needed (CO-5)" in text
        audit = report["audit"]
        assert isinstance(audit, dict)
        assert audit["verified"] is True
        names = [entry["event"] for entry in audit["entries"]]
        assert names.count("application.submitted") == 2
        assert names.count("signature.signed") == 4
        assert names[-1] == "connection.expired"

    def test_demo_text_reads_as_a_story(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The text report numbers the steps and names people, not account ids."""
        assert main(["demo", "--db", str(tmp_path / "d.db")]) == 0
        out = capsys.readouterr().out
        assert " 1. Four people open I&A accounts" in out
        assert "12. A request nobody answers auto-rejects after 30 days" in out
        assert "Audit chain verified" in out
        assert "Dana is Staff End User of Summit Credentialing LLC" in out

    def test_demo_refuses_an_existing_database(
        self, demo_db: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The demo never writes into an existing database."""
        path, _ = demo_db
        assert main(["demo", "--db", str(path)]) == 2
        assert "error [cli.database_exists]" in capsys.readouterr().err


class TestInspection:
    def test_audit_verify_and_show(
        self, demo_db: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """audit verify checks the stored chain; audit show lists it (AU-1)."""
        path, report = demo_db
        audit = report["audit"]
        assert isinstance(audit, dict)
        assert main(["audit", "verify", "--db", str(path)]) == 0
        assert f"Audit chain verified: {len(audit['entries'])} entries" in capsys.readouterr().out
        assert main(["audit", "show", "--db", str(path)]) == 0
        assert "connection.expired" in capsys.readouterr().out

    def test_agenda_against_the_demo_database(
        self, demo_db: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """agenda reads a database as of a given day (EN-9, PW-12)."""
        path, _ = demo_db
        assert (
            main(
                [
                    "agenda",
                    "--db",
                    str(path),
                    "--user",
                    "acct-000001",
                    "--at",
                    "2026-04-14",
                    "--json",
                ]
            )
            == 0
        )
        (item,) = json.loads(capsys.readouterr().out)
        assert (item["kind"], item["days_left"], item["rule"]) == ("password.expiry", 17, "PW-12")

    def test_missing_database_is_a_clear_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Pointing at a file that does not exist says how to make one."""
        assert main(["audit", "verify", "--db", str(tmp_path / "none.db")]) == 2
        assert "error [cli.no_database]" in capsys.readouterr().err

    def test_check_password_prints_the_compliance_list(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """check-password lists every violation (PW-6, PW-4) and exits 1; a good one exits 0."""
        assert main(["check-password", "1abcdefgh", "--json"]) == 1
        codes = [v["code"] for v in json.loads(capsys.readouterr().out)]
        assert "password.starts_with_digit" in codes
        assert "password.no_special" in codes
        assert main(["check-password", "Blue#Sky42"]) == 0

    def test_npi_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        """npi says valid or names the failed check (NPI-2)."""
        assert main(["npi", "1234567893", "1234567890"]) == 1
        out = capsys.readouterr().out
        assert "1234567893: valid" in out
        assert "invalid [npi.check_digit]" in out

    def test_rules_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        """rules prints the catalogue as JSON with every rule."""
        assert main(["rules", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == len(RULES)
