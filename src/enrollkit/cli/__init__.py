"""``python -m enrollkit``: the demo and inspection commands.

* ``demo [--db PATH] [KEY] [--json]`` plays the credentialing story on SQLite;
* ``agenda --db PATH (--user ID | --profile ID) [--at ISO] [--days N] [--json]``;
* ``audit verify --db PATH [KEY] [--anchor FILE] [--json]`` checks the audit chain
  (AU-1), ``audit show`` lists it too, ``audit head [KEY] [--out FILE]`` prints its
  head as the JSON anchor ``{"count": N, "last_hash": "..."}``;
* ``check-password [--stdin] [--user-id ..] [--first-name ..] [--last-name ..] [--json]``
  reads the password at a prompt, or as the first line of standard input with
  ``--stdin``, never from the command line;
* ``import-revalidation FILE --db PATH [--json] [--no-progress]`` imports CMS's
  revalidation due-date list (EN-10) into a database (created if missing), all or
  nothing, with a progress bar when the ``cli`` extra (rich) is installed;
* ``npi NUMBER... [--json]``; ``rules [--json | --markdown]``.

``KEY`` is the audit key of a keyed chain, never given on the command line:
``--key-env VAR`` names an environment variable holding it in **hex** (at
least 64 hex digits, 32 bytes), ``--key-file FILE`` a file holding the **raw
key bytes**, used exactly as stored (no newline is stripped).

Exit status: 0 done; 1 the answer is "no" (invalid NPI, weak password,
broken audit chain, an anchor the log no longer matches); 2 the command could
not run: a usage error (one line and the usage) or an ``EnrollkitError``
(``error [code]: message`` on standard error); 130 interrupted (Ctrl-C); 141
standard output was closed early (``... | head``): the rest of the output is
dropped quietly, as for a program stopped by SIGPIPE.

:func:`main` never raises and never prints a traceback, whatever its
arguments. What it echoes of its input is escaped (non-printable characters
and undecodable bytes as ``\\x..``/``\\u..``) and cut to a short prefix
(:func:`shown`); numbers and dates out of range are refused before they reach
the library (``cli.bad_days``, ``cli.bad_time``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from enrollkit import __version__
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.audit import AuditEntry, ChainHead, ChainVerification, check_audit_key
from enrollkit.clock import Clock, FixedClock, SystemClock
from enrollkit.enrollment import DEFAULT_HORIZON_DAYS
from enrollkit.errors import EnrollkitError, ValidationError
from enrollkit.identity import IA_PASSWORD_POLICY
from enrollkit.kit import Enrollkit
from enrollkit.npi import NPI
from enrollkit.principals import PrincipalKind
from enrollkit.rules import RULES, Status, render_markdown

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["build_parser", "main", "shown"]

#: How many characters of an input value the CLI echoes before cutting it.
SHOWN_PREFIX: Final = 40
#: The longest message (from the library or argparse) printed whole.
_MESSAGE_LIMIT: Final = 300
#: ``--days`` accepts 0 to this many days (ten years).
MAX_DAYS: Final = 3650
#: ``--at`` accepts years in this range.
YEARS: Final = range(1900, 9001)
#: Key and anchor files are small; reading stops here.
_MAX_FILE_BYTES: Final = 64 * 1024

_EXIT_INTERRUPTED: Final = 130
_EXIT_BROKEN_PIPE: Final = 141
_DAYS_TEXT = re.compile(r"\s*[+-]?[0-9]{1,7}\s*")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


# -- echoing input safely -------------------------------------------------------------------


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte argv could not decode (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if char.isprintable():  # never true of a surrogate
        return char
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(text: object, *, limit: int = SHOWN_PREFIX) -> str:
    """*text* as the CLI echoes it: non-printable characters, lone surrogates and
    undecodable bytes escaped, at most *limit* characters, then ``… (N characters)``.

    >>> shown("12345\\udcff\\x00")
    '12345\\\\xff\\\\x00'
    >>> shown("9" * 100)
    '9999999999999999999999999999999999999999… (100 characters)'
    """
    value = text if isinstance(text, str) else str(text)
    pieces: list[str] = []
    width = 0
    for char in value:
        piece = _escape(char)
        width += len(piece)
        if width > limit:
            return "".join(pieces) + f"… ({len(value)} characters)"
        pieces.append(piece)
    return "".join(pieces)


def _clean(message: str, *, limit: int = _MESSAGE_LIMIT) -> str:
    """A message that may quote input (argparse's, the library's): every word escaped
    and cut like :func:`shown`, the whole at most *limit* characters."""
    text = " ".join(shown(word) for word in message.split(" "))
    return text if len(text) <= limit else text[:limit] + "…"


def _write(stream: SupportsWrite[str] | None, text: str, *, end: str = "\n") -> None:
    """Write *text* so that no character can fail to encode (backslash escapes)."""
    if stream is None:
        return
    encoding = getattr(stream, "encoding", None) or "utf-8"
    data = text + end
    try:
        data = data.encode(encoding, "backslashreplace").decode(encoding, "replace")
    except LookupError:
        data = data.encode("ascii", "backslashreplace").decode("ascii")
    stream.write(data)


def _out(text: str = "") -> None:
    _write(sys.stdout, text)


def _err(text: str) -> None:
    """Report on standard error; a closed standard error leaves nothing to tell."""
    try:
        _write(sys.stderr, text)
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _print_json(data: object) -> None:
    _out(json.dumps(data, indent=2, sort_keys=False))


# -- argument parsing that never exits ----------------------------------------------------


class _UsageError(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _ParserExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, and prints safely."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self, message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            _err(_clean(message.rstrip("\n")))
        raise _ParserExit(status)

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            _write(file if file is not None else sys.stderr, message, end="")


# -- shared inputs: the database, the audit key, the anchor, time and days -----------------


def _is_database_file(path: str) -> bool:
    """A regular, non-empty file (opening an empty one would create a database in it)."""
    try:
        file = Path(path)
        return file.is_file() and file.stat().st_size > 0
    except (OSError, ValueError):  # a name too long, a NUL, ...
        return False


@contextmanager
def _existing_db(path: str, *, audit_key: bytes | None = None) -> Iterator[SQLiteStorage]:
    if not _is_database_file(path):
        raise ValidationError(
            "cli.no_database",
            f"No database at {shown(path)}; make one with `python -m enrollkit demo --db PATH`.",
            path=shown(path),
        )
    storage = SQLiteStorage(path, audit_key=audit_key)
    try:
        yield storage
    finally:
        storage.close()


def _read_small(path: str, *, what: str, code: str) -> bytes:
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "it cannot be opened"
        raise ValidationError(
            code, f"Cannot read the {what} {shown(path)}: {reason}.", path=shown(path)
        ) from None
    if len(data) > _MAX_FILE_BYTES:
        raise ValidationError(
            code,
            f"The {what} {shown(path)} is larger than {_MAX_FILE_BYTES} bytes; it is not a {what}.",
            path=shown(path),
        )
    return data


def _audit_key(args: argparse.Namespace) -> bytes | None:
    """The audit key named by --key-env (hex) or --key-file (raw bytes), or None."""
    name: str | None = getattr(args, "key_env", None)
    path: str | None = getattr(args, "key_file", None)
    if name is not None:
        try:
            text = os.environ.get(name)
        except (ValueError, UnicodeError):
            text = None
        if not text:
            raise ValidationError(
                "cli.no_key",
                f"The environment variable {shown(name)} is not set (or empty); "
                "it should hold the audit key in hex.",
            )
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            raise ValidationError(
                "cli.bad_key",
                f"The environment variable {shown(name)} does not hold hex; --key-env "
                "takes the audit key as hex digits (64 or more for 32 bytes).",
            ) from None
        return check_audit_key(key)
    if path is not None:
        return check_audit_key(_read_small(path, what="key file", code="cli.no_key_file"))
    return None


def _anchor(path: str | None) -> ChainHead | None:
    """The anchor in *path*: ``{"count": N, "last_hash": "..."}`` as ``audit head`` prints."""
    if path is None:
        return None
    data = _read_small(path, what="anchor file", code="cli.bad_anchor")
    try:
        document: Any = json.loads(data)
    except (ValueError, RecursionError):
        document = None
    count = document.get("count") if isinstance(document, dict) else None
    last_hash = document.get("last_hash") if isinstance(document, dict) else None
    if (
        not isinstance(count, int)
        or isinstance(count, bool)
        or count < 1
        or not isinstance(last_hash, str)
        or not _HEX_DIGEST.fullmatch(last_hash)
    ):
        raise ValidationError(
            "cli.bad_anchor",
            f"The anchor file {shown(path)} is not an anchor; it holds the JSON "
            '{"count": N, "last_hash": "<64 hex digits>"} that `audit head` prints.',
            path=shown(path),
        )
    return ChainHead(count=count, last_hash=last_hash)


def _days(text: str) -> int:
    if _DAYS_TEXT.fullmatch(text):
        days = int(text)
        if 0 <= days <= MAX_DAYS:
            return days
    raise ValidationError(
        "cli.bad_days",
        f"--days takes a whole number of days from 0 to {MAX_DAYS}; got {shown(text)}.",
    )


def _clock(at: str | None) -> Clock:
    if at is None:
        return SystemClock()
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        moment = None
    if moment is None or moment.year not in YEARS:
        raise ValidationError(
            "cli.bad_time",
            f"--at takes an ISO date or datetime from year {YEARS.start} to "
            f"{YEARS.stop - 1}, like 2026-04-14; got {shown(at)}.",
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return FixedClock(moment.astimezone(UTC))


# -- the commands ------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from enrollkit.cli.demo import play

    audit_key = _audit_key(args)
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="enrollkit-")) / "demo.db"
    try:
        taken = path.exists() and path.stat().st_size > 0
    except (OSError, ValueError):
        taken = False  # SQLiteStorage reports a path it cannot open
    if taken:
        raise ValidationError(
            "cli.database_exists",
            f"{shown(path)} already exists; the demo writes a fresh database. "
            "Give a new --db path.",
            path=shown(path),
        )
    storage = SQLiteStorage(path, audit_key=audit_key)
    try:
        report = play(storage, database=str(path))
    finally:
        storage.close()
    if args.json:
        _print_json(report.to_data())
    else:
        _out(report.to_text())
        _out()
        _out(
            f"Look again: python -m enrollkit agenda --db {shown(path, limit=200)} "
            "--user acct-000001 --at 2026-04-14"
        )
    return 0 if report.audit_ok else 1


def _cmd_agenda(args: argparse.Namespace) -> int:
    days = _days(args.days)
    clock = _clock(args.at)
    with _existing_db(args.db) as storage:
        # A read: no principal is sealed or checked, so a throwaway key does.
        kit = Enrollkit(storage=storage, secret_key=secrets.token_bytes(32), clock=clock)
        items = kit.agenda(for_user=args.user, for_profile=args.profile, horizon_days=days)
    if args.json:
        _print_json(
            [
                {
                    "kind": i.kind,
                    "due": i.due.isoformat(),
                    "days_left": i.days_left,
                    "title": i.title,
                    "subject": i.subject,
                    "rule": i.rule,
                }
                for i in items
            ]
        )
        return 0
    if not items:
        _out("Nothing due.")
    for item in items:
        _out(f"{item.due.date().isoformat()}  {item.days_left:>4} days  {item.title}")
    return 0


def _progress_bar(path: str, *, enabled: bool) -> Any:
    """A rich progress bar over the file's bytes (the ``cli`` extra), or None without it."""
    if not enabled:
        return None
    try:
        from rich.progress import Progress
    except ImportError:  # the cli extra is not installed: no bar
        return None
    return Progress(transient=True, console=None)


def _cmd_import_revalidation(args: argparse.Namespace) -> int:
    path = args.file
    try:
        file = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "it cannot be opened"
        raise ValidationError(
            "cli.unreadable_file", f"Cannot read {shown(path)}: {reason}.", path=shown(path)
        ) from None
    bar = _progress_bar(
        path, enabled=not args.json and not args.no_progress and sys.stderr.isatty()
    )
    storage = SQLiteStorage(args.db)
    try:
        kit = Enrollkit(storage=storage, secret_key=secrets.token_bytes(32))
        operator = kit.identity.assert_operator(
            f"cli:{getpass.getuser()}", kind=PrincipalKind.HELP_DESK, asserted_by="enrollkit-cli"
        )
        with file:
            if bar is None:
                summary = kit.records.import_revalidation_list(
                    actor=operator, lines=file, source=Path(path).name or "list"
                )
            else:
                with bar:
                    task = bar.add_task("Importing", total=None)
                    summary = kit.records.import_revalidation_list(
                        actor=operator,
                        lines=file,
                        source=Path(path).name or "list",
                        progress=lambda rows: bar.update(task, completed=rows),
                    )
    except UnicodeDecodeError:
        raise ValidationError(
            "cli.not_text", f"{shown(path)} is not UTF-8 text; it is not CMS's CSV list."
        ) from None
    finally:
        storage.close()
    if args.json:
        _print_json({**summary.as_dict(), "gone_ids": list(summary.gone)})
        return 0
    counts = summary.as_dict()
    _out(f"Imported {counts['rows']} rows from {shown(path, limit=200)}:")
    for key in ("new", "due_set", "due_adjusted", "updated", "gone", "unchanged"):
        _out(f"  {key.replace('_', ' '):<13}{counts[key]:>10}")
    return 0


def _head_data(head: ChainHead | None) -> dict[str, Any] | None:
    return None if head is None else {"count": head.count, "last_hash": head.last_hash}


def _verdict_data(
    result: ChainVerification, *, keyed: bool, anchor: ChainHead | None
) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "checked": result.checked,
        "first_broken": result.first_broken,
        "reason": result.reason,
        "keyed": keyed,
        "anchor": _head_data(anchor),
    }


def _entry_data(entry: AuditEntry) -> dict[str, Any]:
    event = entry.event
    return {
        "seq": entry.seq,
        "at": event.at.isoformat(),
        "event": event.name,
        "actor": event.actor,
        "subject": event.subject,
        "data": dict(event.data),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _print_verdict(result: ChainVerification, *, keyed: bool, anchor: ChainHead | None) -> None:
    if not result.ok:
        _out(f"Audit chain BROKEN at entry {result.first_broken}: {result.reason}")
        return
    _out(f"Audit chain verified: {result.checked} entries, each linked to the one before (AU-1).")
    if keyed:
        _out("Every entry's HMAC-SHA-256 matches the audit key.")
    if anchor is not None:
        _out(f"The anchor matches: entry {anchor.count - 1} is the one it recorded.")


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    audit_key = _audit_key(args)
    anchor = _anchor(args.anchor)
    show = args.action == "show"
    with _existing_db(args.db, audit_key=audit_key) as storage:
        result = storage.audit.verify(anchor=anchor)
        entries = storage.audit.entries() if show else ()
    keyed = audit_key is not None
    if args.json:
        verdict = _verdict_data(result, keyed=keyed, anchor=anchor)
        if show:
            _print_json({"entries": [_entry_data(e) for e in entries], "verification": verdict})
        else:
            _print_json(verdict)
    else:
        for entry in entries:
            event = entry.event
            _out(
                f"#{entry.seq:<4} {event.at.isoformat()}  {event.name:<34} "
                f"by {event.actor or 'system'} on {event.subject}  {entry.hash[:12]}"
            )
        _print_verdict(result, keyed=keyed, anchor=anchor)
    return 0 if result.ok else 1


def _cmd_audit_head(args: argparse.Namespace) -> int:
    audit_key = _audit_key(args)
    with _existing_db(args.db, audit_key=audit_key) as storage:
        result = storage.audit.verify()
        head = storage.audit.head()
    if not result.ok:
        _err(
            f"Not exporting the head: the audit chain is BROKEN at entry "
            f"{result.first_broken}: {result.reason}"
        )
        return 1
    if head is None:
        _err("The audit log is empty: there is no head to export yet.")
        return 1
    text = json.dumps(_head_data(head))
    if args.out is not None:
        try:
            with open(args.out, "w", encoding="ascii") as file:
                file.write(text + "\n")
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or "it cannot be opened"
            raise ValidationError(
                "cli.cannot_write",
                f"Cannot write the anchor to {shown(args.out)}: {reason}.",
                path=shown(args.out),
            ) from None
    _out(text)
    return 0


def _read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        stdin = sys.stdin
        try:
            line = stdin.readline() if stdin is not None else ""
        except UnicodeDecodeError:
            raise ValidationError(
                "cli.password_encoding",
                "Standard input is not text in this terminal's encoding.",
            ) from None
        if not line:
            raise ValidationError(
                "cli.no_password",
                "Standard input is empty; --stdin reads the password from its first line.",
            )
        return line.removesuffix("\n").removesuffix("\r")
    try:
        return getpass.getpass("Password to check: ")
    except EOFError:
        raise ValidationError("cli.no_password", "No password was typed.") from None


def _cmd_check_password(args: argparse.Namespace) -> int:
    if args.argv_password:
        raise ValidationError(
            "cli.password_in_argv",
            "check-password does not take the password on the command line (shell "
            "history and process lists keep it): type it at the prompt, or pipe it "
            "with --stdin.",
        )
    violations = IA_PASSWORD_POLICY.check(
        _read_password(from_stdin=args.stdin),
        user_id=args.user_id,
        first_name=args.first_name,
        last_name=args.last_name,
    )
    if args.json:
        _print_json(
            [{"code": v.code, "rule": v.rule, "message": _clean(v.message)} for v in violations]
        )
    elif not violations:
        _out("The password meets the I&A policy (PW-1..PW-9).")
    for v in violations if not args.json else ():
        _out(f"{v.rule:<6} {v.code:<30} {_clean(v.message)}")
    return 1 if violations else 0


def _cmd_rules(args: argparse.Namespace) -> int:
    if args.json:
        _print_json(
            [
                {
                    "id": r.id,
                    "statement": r.statement,
                    "basis": r.basis.value,
                    "source": r.source,
                    "status": r.status.value,
                }
                for r in RULES.values()
            ]
        )
    elif args.markdown:
        _out(render_markdown())
    else:
        for r in RULES.values():
            mark = "x" if r.status is Status.IMPLEMENTED else " "
            _out(f"[{mark}] {r.id:<6} {r.statement}  ({r.basis.value})")
    return 0


def _cmd_npi(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    for text in args.values:
        try:
            npi = NPI.parse(text)
        except EnrollkitError as exc:
            results.append(
                {
                    "input": shown(text),
                    "valid": False,
                    "npi": None,
                    "code": exc.code,
                    "message": _clean(exc.message),
                }
            )
        else:
            results.append(
                {
                    "input": shown(text),
                    "valid": True,
                    "npi": str(npi),
                    "code": None,
                    "message": None,
                }
            )
    if args.json:
        _print_json(results)
    else:
        for result in results:
            if result["valid"]:
                _out(f"{result['npi']}: valid")
            else:
                _out(f"{result['input']}: invalid [{result['code']}] {result['message']}")
    return 0 if all(result["valid"] for result in results) else 1


# -- the parser and main ---------------------------------------------------------------


def _key_options(parser: argparse.ArgumentParser) -> None:
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--key-env",
        metavar="VAR",
        help="the environment variable holding the audit key in hex (AU-1)",
    )
    key.add_argument(
        "--key-file",
        metavar="FILE",
        help="a file holding the raw bytes of the audit key (AU-1)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m enrollkit`` (it raises instead of exiting:
    :func:`main` turns usage errors into exit status 2)."""
    parser = _Parser(
        prog="enrollkit",
        description="The rules of CMS I&A and PECOS: a demo and inspection commands.",
    )
    parser.add_argument("--version", action="version", version=f"enrollkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="play the credentialing story on SQLite")
    demo.add_argument("--db", help="the SQLite file to create (default: a new temporary file)")
    _key_options(demo)
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.set_defaults(handler=_cmd_demo)

    agenda = commands.add_parser("agenda", help="what is due, for a user or a profile (EN-9)")
    agenda.add_argument("--db", required=True, help="an enrollkit SQLite database")
    scope = agenda.add_mutually_exclusive_group(required=True)
    scope.add_argument("--user", help="an account id")
    scope.add_argument("--profile", help="a provider profile id")
    agenda.add_argument(
        "--at",
        help=f"as of this ISO date/time, years {YEARS.start}..{YEARS.stop - 1} "
        "(default: now; UTC unless it names a zone)",
    )
    agenda.add_argument(
        "--days",
        default=str(DEFAULT_HORIZON_DAYS),
        help=f"horizon in days, 0..{MAX_DAYS} (default {DEFAULT_HORIZON_DAYS}: 7 months, EN-9)",
    )
    agenda.add_argument("--json", action="store_true", help="print the items as JSON")
    agenda.set_defaults(handler=_cmd_agenda)

    audit = commands.add_parser("audit", help="verify, show or anchor the audit chain (AU-1)")
    actions = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (
        ("verify", "verify the chain (with the audit key of a keyed chain)"),
        ("show", "list the chain's entries, then verify it"),
    ):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("--db", required=True, help="an enrollkit SQLite database")
        _key_options(sub)
        sub.add_argument(
            "--anchor",
            metavar="FILE",
            help="a head exported earlier by `audit head`: the log must still hold it",
        )
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.set_defaults(handler=_cmd_audit_verify)
    head = actions.add_parser(
        "head", help='print the verified chain\'s head, {"count", "last_hash"}, an anchor'
    )
    head.add_argument("--db", required=True, help="an enrollkit SQLite database")
    _key_options(head)
    head.add_argument("--out", metavar="FILE", help="also write the anchor to FILE")
    head.add_argument("--json", action="store_true", help="(the head is always JSON)")
    head.set_defaults(handler=_cmd_audit_head)

    check = commands.add_parser(
        "check-password",
        help="the I&A compliance list for a password, typed at a prompt",
        description="Check a password against the I&A policy. The password is typed at a "
        "prompt, or read from the first line of standard input with --stdin; never "
        "from the command line.",
    )
    check.add_argument(
        "--stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    check.add_argument("--user-id", default="")
    check.add_argument("--first-name", default="")
    check.add_argument("--last-name", default="")
    check.add_argument("--json", action="store_true", help="print the violations as JSON")
    check.add_argument("argv_password", nargs="*", help=argparse.SUPPRESS)
    check.set_defaults(handler=_cmd_check_password)

    npi = commands.add_parser("npi", help="check NPIs (NPI-1, NPI-2)")
    npi.add_argument("values", nargs="+", metavar="NPI")
    npi.add_argument("--json", action="store_true", help="print the results as JSON")
    npi.set_defaults(handler=_cmd_npi)

    imp = commands.add_parser(
        "import-revalidation", help="import CMS's revalidation due-date list (EN-10)"
    )
    imp.add_argument("file", help="the CSV list as CMS publishes it")
    imp.add_argument("--db", required=True, help="an enrollkit SQLite database (made if missing)")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.set_defaults(handler=_cmd_import_revalidation)

    rules = commands.add_parser("rules", help="print the rule catalogue")
    fmt = rules.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="as JSON")
    fmt.add_argument("--markdown", action="store_true", help="as the docs' Markdown page")
    rules.set_defaults(handler=_cmd_rules)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        _err(exc.parser.format_usage().rstrip("\n"))
        _err(f"{exc.parser.prog}: error: {_clean(exc.message)}")
        return 2
    except _ParserExit as exc:  # --help, --version
        return 0 if exc.status == 0 else 2
    if args.command is None:
        parser.print_help(sys.stdout)
        return 0
    try:
        return int(args.handler(args))
    except EnrollkitError as exc:
        _err(f"error [{exc.code}]: {_clean(exc.message)}")
        return 2


def _silence_stdout() -> None:
    """After a broken pipe, point standard output at the null device so the interpreter's
    final flush does not fail again (the recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured output): nothing will flush it at exit


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status (never raise)."""
    try:
        try:
            return _run(argv)
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # here, so a closed pipe is caught here
    except BrokenPipeError:
        _silence_stdout()
        return _EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _err("Interrupted.")
        return _EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so in one line, never a traceback
        _err(
            f"error [cli.internal]: unexpected {type(exc).__name__}; this is a bug in "
            "enrollkit, please report it with the command that caused it"
        )
        return 2
