"""ER-1 (amended): the command line survives any argv: no exception escapes main, no
traceback is printed, the exit status is one the module documents.

Arguments are drawn from the parser itself (its subcommands and options) with
hostile values: huge numbers, far dates, lone surrogates, NUL, very long and
empty strings. Anything that writes goes to a sandbox directory: the demo only
ever runs with an argument that makes argparse refuse it, and ``--out`` only
gets sandbox paths or paths that cannot be written.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollkit.cli import build_parser, main

#: the CLI driven with hostile arguments in subprocesses: left out of the fast inner loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

#: Exit statuses the CLI documents: done, "no", could not run, interrupted, broken pipe.
EXIT_STATUSES = {0, 1, 2, 130, 141}
KEY_VARIABLE = "ENROLLKIT_FUZZ_AUDIT_KEY"
KEY = bytes(range(1, 41))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings]


def _commands() -> dict[tuple[str, ...], list[str]]:
    """Every (sub)command path of the parser and its option strings."""
    found: dict[tuple[str, ...], list[str]] = {}
    for name, sub in _subcommands(build_parser()).items():
        nested = _subcommands(sub)
        if nested:
            for action, leaf in nested.items():
                found[(name, action)] = _options(leaf)
        found[(name,)] = _options(sub)
    return found


COMMANDS = _commands()
VOCABULARY = sorted({word for path in COMMANDS for word in path} - {"demo"}) + sorted(
    {option for options in COMMANDS.values() for option in options} | {"--version", "-h"}
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files the fuzzed commands may read: the demo database, a key, anchors, junk."""
    root = tmp_path_factory.mktemp("fuzz")
    db = root / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_VARIABLE, KEY.hex())
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["demo", "--db", str(db), "--key-env", KEY_VARIABLE]) == 0
    (root / "audit.key").write_bytes(KEY)
    (root / "short.key").write_bytes(KEY[:10])
    (root / "anchor.json").write_text(json.dumps({"count": 3, "last_hash": "ab" * 32}))
    (root / "nested.json").write_text("[" * 50_000)
    (root / "junk.db").write_bytes(b"\x00not a database\xff" * 100)
    (root / "dir").mkdir()
    return {
        "root": root,
        "db": db,
        "key": root / "audit.key",
        "short": root / "short.key",
        "anchor": root / "anchor.json",
        "nested": root / "nested.json",
        "junk": root / "junk.db",
        "dir": root / "dir",
    }


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile_text = st.text(st.characters(exclude_categories=()), max_size=30)
numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["1234567893", "9" * 5000, "0", "-1", "3650", "3651", "1e9", "nan", "0x10"]),
)
dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        ["9999-12-31", "0001-01-01", "9000-12-31T23:59:59-23:59", "1900-01-01T00:00+14:00"]
    ),
)
odd = st.one_of(
    st.sampled_from(["", "\x00", "\udcff", "\udc80abc", "-", "--", "=", "a" * 100_000]),
    surrogates,
    hostile_text,
    st.text(max_size=3).map(lambda t: t * 20_000),
)
values = st.one_of(numbers, dates, odd, st.sampled_from(["acct-000001", KEY_VARIABLE]))


def _paths(sandbox: dict[str, Path], *, writable: bool) -> st.SearchStrategy[str]:
    """Paths for --db, --key-file, --anchor (any), or --out (only sandbox or unwritable)."""
    inside = [str(p) for p in sandbox.values()] + [str(sandbox["root"] / "new.json")]
    unwritable = ["/nonexistent-dir/x", "\x00", "a/" * 3000, "", str(sandbox["dir"])]
    if writable:
        return st.sampled_from(inside + unwritable)
    return st.one_of(st.sampled_from(inside + unwritable), values)


PATH_OPTIONS = {"--db", "--key-file", "--anchor"}
EXCLUSIVE = [("--key-env", "--key-file"), ("--json", "--markdown")]


@st.composite
def structured_argv(draw: st.DrawFn, sandbox: dict[str, Path]) -> list[str]:
    """A (sub)command of the parser, usually with what it requires, then some of its
    options with drawn values (now and then without one), then stray values."""
    path = draw(st.sampled_from(sorted(COMMANDS)))
    options = COMMANDS[path]
    argv = list(path)
    if "--db" in options and draw(st.integers(0, 4)):
        argv += [
            "--db",
            draw(
                st.sampled_from([str(sandbox["db"]), str(sandbox["db"])])
                | _paths(sandbox, writable=False)
            ),
        ]
    if "--user" in options and draw(st.integers(0, 4)):
        argv += [draw(st.sampled_from(["--user", "--profile"])), draw(values)]
    given_already = {"-h", "--help", *argv}
    chosen = [o for o in options if o not in given_already and o not in ("--user", "--profile")]
    if not chosen or not draw(st.integers(0, 9)):  # now and then ask for help
        chosen += ["-h", "--help"]
    picked = draw(st.lists(st.sampled_from(chosen), max_size=5, unique=True))
    for one, other in EXCLUSIVE:  # mostly keep to one of two exclusive options
        if one in picked and other in picked and draw(st.integers(0, 4)):
            picked.remove(other)
    for option in picked:
        argv.append(option)
        if option == "--out":
            argv.append(draw(_paths(sandbox, writable=True)))
        elif option in PATH_OPTIONS:
            argv.append(draw(_paths(sandbox, writable=False)))
        elif draw(st.integers(0, 5)):
            argv.append(draw(values))
    if not draw(st.integers(0, 4)):  # a stray value or two
        argv += draw(st.lists(values, min_size=1, max_size=2))
    if path[0] == "demo":  # the demo writes a database: only ever let argparse refuse it
        argv.append("--no-such-option")
    return argv


def free_argv(sandbox: dict[str, Path]) -> st.SearchStrategy[list[str]]:
    """Words of the parser's vocabulary and hostile values in any order, often after a
    (sub)command; anything naming the demo or --out also gets an unknown option."""
    word = st.one_of(st.sampled_from(VOCABULARY), values)
    start = st.sampled_from([list(path) for path in sorted(COMMANDS) if path[0] != "demo"])
    argv = st.one_of(
        st.lists(word, max_size=8),
        st.tuples(start, st.lists(word, max_size=8)).map(lambda pair: pair[0] + pair[1]),
    )
    return argv.map(
        lambda words: (
            [*words, "--no-such-option"]
            if "demo" in words or any(w.startswith("--o") for w in words)
            else words
        )
    )


@contextlib.contextmanager
def _captured(
    sandbox: dict[str, Path], stdin_text: str, typed: str | None
) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    def prompt(_prompt: str = "") -> str:
        if typed is None:
            raise EOFError
        return typed

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sandbox["root"])
        mp.setenv(KEY_VARIABLE, KEY.hex())
        mp.setattr(sys, "stdin", io.StringIO(stdin_text))
        mp.setattr(getpass, "getpass", prompt)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err


def _check(argv: list[str], code: Any, out: str, err: str) -> None:
    shown = f"argv={argv!r:.300}\nstdout={out[-500:]!r}\nstderr={err[-500:]!r}"
    assert isinstance(code, int), shown
    assert code in EXIT_STATUSES, shown
    assert "Traceback" not in out + err, shown
    assert "cli.internal" not in err, shown  # main's last resort caught a bug
    (out + err).encode("utf-8")  # no lone surrogate was printed


class TestFuzzedArgv:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data(), stdin_text=hostile_text, typed=st.none() | hostile_text)
    def test_er_1_any_subcommand_and_options_end_cleanly(
        self, sandbox: dict[str, Path], data: st.DataObject, stdin_text: str, typed: str | None
    ) -> None:
        """The parser's own commands and options with hostile values: a documented status,
        no traceback, no exception out of main."""
        argv = data.draw(structured_argv(sandbox), label="argv")
        with _captured(sandbox, stdin_text, typed) as (out, err):
            code = main(argv)
        _check(argv, code, out.getvalue(), err.getvalue())

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_er_1_any_words_in_any_order_end_cleanly(
        self, sandbox: dict[str, Path], data: st.DataObject
    ) -> None:
        """Any sequence of the parser's words and hostile values ends cleanly too."""
        argv = data.draw(free_argv(sandbox), label="argv")
        with _captured(sandbox, "", None) as (out, err):
            code = main(argv)
        _check(argv, code, out.getvalue(), err.getvalue())
