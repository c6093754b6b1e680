"""The command line: the demo story on SQLite and the inspection commands."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from enrollkit.cli import build_parser, main, shown
from enrollkit.cli.demo import SAMPLE_REVALIDATION_LIST
from enrollkit.npi import NPI
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
        assert "Summit asks for both profiles; Ana approves all selected at once" in titles
        assert "Ana makes Ben, her office manager, Access Manager of her own profile" in titles
        assert "Ben is Access Manager of the individual provider Ana Rivera MD" in text
        assert "Approve All Selected" in text and "rejected automatically in 30 days" in text
        assert "The PLLC's agenda warns (SG-3): Collect the paper signature of Grace Lee" in text
        assert "Status: submitted, signed on paper." in text
        assert "approved for NPPES and PECOS" in text
        assert "Refused [access.role_not_permitted]" in text  # the SEU's request (RO-2, CO-4)
        assert "association asc-" in text and "is active" in text  # the invitation (RO-7)
        assert "Revision 2" in text and "no longer count (SG-5)" in text
        assert "Status: submitted" in text
        assert "4 signatures, 2 count for revision 2; verified against the audit chain" in text
        assert "sees it rejected (no answer in 30 days), no sweep needed (CO-5)" in text
        audit = report["audit"]
        assert isinstance(audit, dict)
        assert audit["verified"] is True
        names = [entry["event"] for entry in audit["entries"]]
        assert names.count("application.submitted") == 3
        assert names.count("signature.signed") == 5
        # the story's last step imports the sample list (EN-10) after the CO-5 expiry
        assert names[-1] == "records.revalidation_list_imported"
        between = names[names.index("connection.expired") + 1 : -1]
        assert all(n.startswith("account.") for n in between)  # Carla signs in to import

    def test_demo_imports_a_sample_revalidation_list_and_shows_its_agenda(
        self, demo_db: tuple[Path, dict[str, object]]
    ) -> None:
        """Item 9 (EN-7, EN-9, EN-10, EN-11): the demo imports the shipped sample list
        (fictitious providers, valid NPIs), and Ana's agenda shows the MAC notice for
        her Maryland enrollment and reactivation for the Virginia one whose date passed;
        the fictitious strangers' enrollments are not hers to see."""
        _path, report = demo_db
        steps = report["steps"]
        assert isinstance(steps, list)
        (step,) = [s for s in steps if s["title"].startswith("Summit imports CMS's")]
        text = "\n".join(step["lines"])
        assert "5 rows of a sample list (fictitious providers)" in text
        assert "5 enrollment records (EN-10)" in text
        assert "I20160414000101 in MD: due 2026-07-31" in text
        assert "MAC should send the revalidation notice" in text
        assert "file a reactivation application" in text and "I20190902000102" in text
        assert "Quentin" not in text and "Sample Imaging" not in text
        agenda = report["agenda"]
        assert isinstance(agenda, list)
        kinds = {i["kind"] for i in agenda}
        assert {"revalidation.due", "revalidation.mac_notice", "record.reactivate"} <= kinds
        for line in (
            (resources.files("enrollkit.cli") / SAMPLE_REVALIDATION_LIST)
            .read_text(encoding="utf-8")
            .splitlines()[1:]
        ):
            assert NPI.is_valid(line.split(",")[1].strip('"'))  # NPI-2: valid check digits

    def test_demo_text_reads_as_a_story(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The text report numbers the steps and names people, not account ids."""
        assert main(["demo", "--db", str(tmp_path / "d.db")]) == 0
        out = capsys.readouterr().out
        assert " 1. Four people open I&A accounts" in out
        assert "14. A request nobody answers auto-rejects after 30 days" in out
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
        items = {i["kind"]: i for i in json.loads(capsys.readouterr().out)}
        item = items.pop("password.expiry")
        assert (item["kind"], item["days_left"], item["rule"]) == ("password.expiry", 17, "PW-12")
        # EN-10: the imported sample list's items (the demo's last step)
        assert set(items) <= {"revalidation.due", "revalidation.mac_notice", "record.reactivate"}

    def test_missing_database_is_a_clear_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Pointing at a file that does not exist says how to make one."""
        assert main(["audit", "verify", "--db", str(tmp_path / "none.db")]) == 2
        assert "error [cli.no_database]" in capsys.readouterr().err

    def test_an_empty_file_is_not_made_into_a_database(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The inspection commands never create a database: an empty file is refused as is."""
        empty = tmp_path / "empty.db"
        empty.touch()
        assert main(["audit", "verify", "--db", str(empty)]) == 2
        assert "error [cli.no_database]" in capsys.readouterr().err
        assert empty.stat().st_size == 0

    def test_check_password_prints_the_compliance_list(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """check-password lists every violation (PW-6, PW-4) and exits 1; a good one exits 0."""
        monkeypatch.setattr(sys, "stdin", io.StringIO("1abcdefgh\n"))
        assert main(["check-password", "--stdin", "--json"]) == 1
        codes = [v["code"] for v in json.loads(capsys.readouterr().out)]
        assert "password.starts_with_digit" in codes
        assert "password.no_special" in codes
        monkeypatch.setattr(getpass, "getpass", lambda prompt="": "Blue#Sky42")
        assert main(["check-password"]) == 0

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


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable command of *parser* (the leaves of its sub-commands), with its words."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
    for group in groups:
        for name, sub in group.choices.items():
            yield from _commands(sub, (*path, name))


class TestJsonEverywhere:
    def test_every_command_takes_json(self) -> None:
        """Every command of `python -m enrollkit` takes --json (scripts parse one shape)."""
        commands = dict(_commands(build_parser()))
        assert {" ".join(words) for words in commands} == {
            "demo",
            "agenda",
            "audit verify",
            "audit show",
            "audit head",
            "check-password",
            "import-revalidation",
            "npi",
            "rules",
        }
        missing = [
            " ".join(w) for w, p in commands.items() if "--json" not in p._option_string_actions
        ]
        assert missing == []

    def test_every_json_output_is_one_json_document(
        self,
        demo_db: tuple[Path, dict[str, object]],
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """With --json, standard output holds exactly one JSON document, whatever the command
        (the demo's own --json report is read by the demo_db fixture)."""
        db = str(demo_db[0])
        runs = {
            "agenda": ["agenda", "--db", db, "--user", "acct-000001", "--at", "2026-04-14"],
            "audit verify": ["audit", "verify", "--db", db],
            "audit show": ["audit", "show", "--db", db],
            "audit head": ["audit", "head", "--db", db],
            "check-password": ["check-password", "--stdin"],
            "npi": ["npi", "1234567893"],
            "rules": ["rules"],
        }
        for name, argv in runs.items():
            monkeypatch.setattr(sys, "stdin", io.StringIO("Blue#Sky42\n"))
            assert main([*argv, "--json"]) == 0, name
            json.loads(capsys.readouterr().out)  # one document, nothing else


#: The audit key of the keyed demo database, as --key-env reads it (hex).
KEY = bytes(range(7, 47))
KEY_VARIABLE = "ENROLLKIT_TEST_AUDIT_KEY"


@pytest.fixture(scope="module")
def keyed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo played once on a fresh SQLite file whose audit chain is keyed (AU-1)."""
    path = tmp_path_factory.mktemp("keyed") / "keyed.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_VARIABLE, KEY.hex())
        assert main(["demo", "--db", str(path), "--key-env", KEY_VARIABLE, "--json"]) == 0
    return path


def _entries(path: Path) -> int:
    """How many audit entries the database holds (read straight from SQLite)."""
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM enrollkit_audit_entries").fetchone()
    return int(count)


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """The keyed demo's key in the environment, as hex."""
    monkeypatch.setenv(KEY_VARIABLE, KEY.hex())
    return KEY_VARIABLE


def _no_key_in(text: str) -> None:
    assert KEY.hex() not in text
    assert KEY.hex().upper() not in text
    assert repr(KEY) not in text


class TestKeyedAudit:
    def test_au_1_a_keyed_log_verifies_with_its_key_only(
        self, keyed_db: Path, key_env: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """audit verify --key-env checks the HMAC chain; without the key it is BROKEN at 0."""
        assert main(["audit", "verify", "--db", str(keyed_db), "--key-env", key_env]) == 0
        out = capsys.readouterr().out
        assert f"Audit chain verified: {_entries(keyed_db)} entries" in out
        assert "HMAC-SHA-256" in out
        assert main(["audit", "verify", "--db", str(keyed_db)]) == 1
        captured = capsys.readouterr()
        assert "BROKEN at entry 0" in captured.out
        assert "audit key" in captured.out
        _no_key_in(captured.out + captured.err)

    def test_au_1_the_key_file_holds_raw_bytes(
        self, keyed_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--key-file reads the raw key bytes as stored; the same key written as hex is
        another key, and fails."""
        raw = tmp_path / "audit.key"
        raw.write_bytes(KEY)
        assert main(["audit", "verify", "--db", str(keyed_db), "--key-file", str(raw)]) == 0
        as_hex = tmp_path / "audit.hex"
        as_hex.write_text(KEY.hex() + "\n")
        assert main(["audit", "verify", "--db", str(keyed_db), "--key-file", str(as_hex)]) == 1
        _no_key_in(capsys.readouterr().out)

    @pytest.mark.parametrize(
        ("value", "code"),
        [("", "cli.no_key"), ("not hex", "cli.bad_key"), ("ab" * 31, "audit.key_too_short")],
    )
    def test_au_1_a_bad_key_is_refused_without_echoing_it(
        self,
        keyed_db: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        value: str,
        code: str,
    ) -> None:
        """An unset, non-hex or short key is an error with its code; the value is not shown."""
        monkeypatch.setenv(KEY_VARIABLE, value)
        assert main(["audit", "verify", "--db", str(keyed_db), "--key-env", KEY_VARIABLE]) == 2
        err = capsys.readouterr().err
        assert f"error [{code}]" in err
        assert "abababab" not in err

    def test_au_1_head_exports_an_anchor_that_verifies(
        self, keyed_db: Path, key_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """audit head prints {"count", "last_hash"} and writes it with --out; verify --anchor
        accepts it."""
        anchor = tmp_path / "anchor.json"
        args = ["audit", "head", "--db", str(keyed_db), "--key-env", key_env]
        assert main([*args, "--out", str(anchor)]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert json.loads(anchor.read_text()) == printed
        assert printed["count"] == _entries(keyed_db)
        assert len(printed["last_hash"]) == 64
        verify = ["audit", "verify", "--db", str(keyed_db), "--key-env", key_env, "--json"]
        assert main([*verify, "--anchor", str(anchor)]) == 0
        verdict = json.loads(capsys.readouterr().out)
        assert (verdict["ok"], verdict["keyed"], verdict["anchor"]) == (True, True, printed)

    def test_au_1_an_anchor_the_log_does_not_hold_fails(
        self, keyed_db: Path, key_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An anchor beyond the log reads as truncation, one with another hash as a rebuild."""
        verify = ["audit", "verify", "--db", str(keyed_db), "--key-env", key_env]
        beyond = tmp_path / "beyond.json"
        beyond.write_text(json.dumps({"count": _entries(keyed_db) + 8, "last_hash": "a" * 64}))
        assert main([*verify, "--anchor", str(beyond)]) == 1
        assert "truncated" in capsys.readouterr().out
        other = tmp_path / "other.json"
        other.write_text(json.dumps({"count": 3, "last_hash": "a" * 64}))
        assert main([*verify, "--anchor", str(other)]) == 1
        assert "BROKEN at entry 2" in capsys.readouterr().out

    @pytest.mark.parametrize(
        "content",
        [b"", b"{}", b"[1]", b'{"count": 0, "last_hash": "' + b"a" * 64 + b'"}', b"\xff" * 10],
    )
    def test_au_1_a_malformed_anchor_file_is_refused(
        self, keyed_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
    ) -> None:
        """An anchor file that is not the head's JSON is cli.bad_anchor (exit 2)."""
        anchor = tmp_path / "anchor.json"
        anchor.write_bytes(content)
        assert main(["audit", "verify", "--db", str(keyed_db), "--anchor", str(anchor)]) == 2
        assert "error [cli.bad_anchor]" in capsys.readouterr().err

    def test_au_1_head_refuses_to_export_a_chain_that_does_not_verify(
        self, keyed_db: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without its key a keyed chain does not verify, so no anchor is printed."""
        assert main(["audit", "head", "--db", str(keyed_db)]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "Not exporting the head" in captured.err

    def test_au_1_show_json_lists_entries_and_the_verdict(
        self, keyed_db: Path, key_env: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """audit show --json prints every entry and the verification."""
        assert main(["audit", "show", "--db", str(keyed_db), "--key-env", key_env, "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert len(shown["entries"]) == _entries(keyed_db)
        assert shown["entries"][-1]["event"] == "records.revalidation_list_imported"
        assert "connection.expired" in [e["event"] for e in shown["entries"]]
        assert shown["verification"]["ok"] is True


class TestNoTracebacks:
    """ER-1 (amended): the command line refuses bad input with a code, never a traceback."""

    @pytest.mark.parametrize(
        ("args", "code"),
        [
            (["--days", "1234567893"], "cli.bad_days"),
            (["--days", "-1"], "cli.bad_days"),
            (["--days", "3651"], "cli.bad_days"),
            (["--days", "9" * 5000], "cli.bad_days"),
            (["--at", "9999-12-31"], "cli.bad_time"),
            (["--at", "0001-01-01"], "cli.bad_time"),
            (["--at", "tomorrow"], "cli.bad_time"),
        ],
    )
    def test_er_1_out_of_range_days_and_dates_are_refused(
        self,
        demo_db: tuple[Path, dict[str, object]],
        capsys: pytest.CaptureFixture[str],
        args: list[str],
        code: str,
    ) -> None:
        """--days beyond 0..3650 and --at beyond years 1900..9000 are refused with a code."""
        path, _ = demo_db
        assert main(["agenda", "--db", str(path), "--user", "acct-000001", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error [{code}]")
        assert "Traceback" not in err
        assert len(err) < 300

    def test_er_1_the_widest_allowed_range_works(
        self, demo_db: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The bounds themselves are accepted: 3650 days from the year 9000."""
        path, _ = demo_db
        base = ["agenda", "--db", str(path), "--user", "acct-000001", "--days", "3650"]
        assert main([*base, "--at", "9000-12-31T23:59:59+00:00"]) == 0
        assert main([*base, "--at", "1900-01-01"]) == 0
        capsys.readouterr()

    def test_er_1_an_undecodable_npi_is_escaped(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An argument with a byte the locale cannot decode (a lone surrogate) prints escaped."""
        assert main(["npi", "\udcff"]) == 1
        out = capsys.readouterr().out
        assert out.startswith("\\xff: invalid [npi.length]")
        out.encode("utf-8")  # no lone surrogate reached the output

    def test_er_1_a_long_input_is_cut_to_a_prefix(self, capsys: pytest.CaptureFixture[str]) -> None:
        """What the CLI echoes of a long input is its first 40 characters and its length."""
        assert main(["npi", "7" * 100_000, "--json"]) == 1
        (result,) = json.loads(capsys.readouterr().out)
        assert result["input"] == "7" * 40 + "… (100000 characters)"
        assert len(result["message"]) < 400
        assert (result["valid"], result["code"]) == (False, "npi.length")

    def test_er_1_shown_escapes_and_cuts(self) -> None:
        """shown(): control characters, bidi overrides and surrogates escaped; 40 characters."""
        assert shown("a\x00b\nc\u202ed\udcfe\ud800") == "a\\x00b\\x0ac\\u202ed\\xfe\\ud800"
        assert shown("é漢字 ok") == "é漢字 ok"
        assert shown("\x00" * 50) == "\\x00" * 10 + "… (50 characters)"

    def test_er_1_usage_errors_are_one_line_and_usage(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A usage error returns 2 with the usage and one error line; nothing escapes main."""
        assert main(["agenda", "--db"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith("usage: enrollkit agenda")
        assert err[-1] == "enrollkit agenda: error: argument --db: expected one argument"
        assert main(["no-such-command", "\udcff" * 100]) == 2
        err_text = capsys.readouterr().err
        assert "invalid choice" in err_text
        err_text.encode("utf-8")

    def test_er_1_help_and_version_return_0(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help and --version print and return 0 instead of raising SystemExit."""
        assert main(["--help"]) == 0
        assert "check-password" in capsys.readouterr().out
        assert main(["--version"]) == 0
        assert capsys.readouterr().out.startswith("enrollkit ")
        assert main(["audit", "verify", "--help"]) == 0
        assert "--key-env" in capsys.readouterr().out

    def test_er_1_interrupt_returns_130(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ctrl-C at the password prompt ends the command with 130, quietly."""

        def interrupted(prompt: str = "") -> str:
            raise KeyboardInterrupt

        monkeypatch.setattr(getpass, "getpass", interrupted)
        assert main(["check-password"]) == 130
        assert "Traceback" not in capsys.readouterr().err

    def test_main_module_runs_nothing_when_imported(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Importing enrollkit.__main__ (docs tools, test collectors) runs no command."""
        import importlib

        module = importlib.import_module("enrollkit.__main__")
        assert module.main is main
        assert capsys.readouterr() == ("", "")


class TestCheckPasswordInput:
    """check-password never takes the password from argv (shell history, process lists)."""

    def test_a_password_on_the_command_line_is_refused_unechoed(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A positional password is refused with a code, and not repeated anywhere."""
        assert main(["check-password", "Hunter#2pass", "--json"]) == 2
        captured = capsys.readouterr()
        assert "error [cli.password_in_argv]" in captured.err
        assert "Hunter" not in captured.out + captured.err

    def test_stdin_reads_the_first_line_only(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--stdin takes the first line without its newline; later lines are ignored."""
        monkeypatch.setattr(sys, "stdin", io.StringIO("Blue#Sky42\r\nsecond line\n"))
        assert main(["check-password", "--stdin"]) == 0
        assert "meets the I&A policy" in capsys.readouterr().out

    def test_an_empty_stdin_is_an_error(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--stdin with nothing to read says so (exit 2)."""
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        assert main(["check-password", "--stdin"]) == 2
        assert "error [cli.no_password]" in capsys.readouterr().err

    def test_the_prompt_is_used_by_default(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without --stdin the password is typed at a getpass prompt (PW-6 names the flaw)."""
        prompts: list[str] = []

        def typed(prompt: str = "") -> str:
            prompts.append(prompt)
            return "1abcdefg#"

        monkeypatch.setattr(getpass, "getpass", typed)
        assert main(["check-password", "--user-id", "ana", "--json"]) == 1
        assert prompts == ["Password to check: "]
        codes = [v["code"] for v in json.loads(capsys.readouterr().out)]
        assert codes == ["password.starts_with_digit"]


class TestBrokenPipe:
    def _clean_exit(self, returncode: int, stderr: bytes) -> None:
        assert returncode in (0, 141), stderr
        assert b"Traceback" not in stderr
        assert b"BrokenPipeError" not in stderr
        assert b"Exception ignored" not in stderr

    def test_audit_show_into_head_exits_quietly(
        self, demo_db: tuple[Path, dict[str, object]]
    ) -> None:
        """`audit show | head -n 1` prints one line and no traceback."""
        path, _ = demo_db
        command = f"{sys.executable} -m enrollkit audit show --db '{path}' | head -n 1"
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command], capture_output=True, check=False
        )
        self._clean_exit(done.returncode, done.stderr)
        assert done.stdout.count(b"\n") == 1
        assert done.stdout.startswith(b"#0 ")

    def test_a_reader_that_is_already_gone_gives_141(
        self, demo_db: tuple[Path, dict[str, object]]
    ) -> None:
        """Writing into a pipe whose reader closed ends with 141 (SIGPIPE's status), quietly."""
        path, _ = demo_db
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the command writes anything
        try:
            done = subprocess.run(
                [sys.executable, "-m", "enrollkit", "audit", "show", "--db", str(path)],
                stdout=write_end,
                stderr=subprocess.PIPE,
                check=False,
            )
        finally:
            os.close(write_end)
        assert done.returncode == 141, done.stderr
        self._clean_exit(done.returncode, done.stderr)
