"""``python -m enrollkit``: the demo and inspection commands.

* ``demo [--db PATH] [--json]`` plays the credentialing story on SQLite;
* ``agenda --db PATH (--user ID | --profile ID) [--at ISO] [--json]``;
* ``audit verify --db PATH`` and ``audit show --db PATH``;
* ``check-password PASSWORD [--user-id ..] [--first-name ..] [--last-name ..]``;
* ``npi NUMBER...``; ``rules [--json | --markdown]``.

Exit status: 0 done, 1 the answer is "no" (invalid NPI, weak password,
broken audit chain), 2 the command could not run (an ``EnrollkitError``).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from enrollkit import __version__
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.clock import Clock, FixedClock, SystemClock
from enrollkit.errors import EnrollkitError, ValidationError
from enrollkit.identity import IA_PASSWORD_POLICY
from enrollkit.kit import Enrollkit
from enrollkit.npi import NPI
from enrollkit.rules import RULES, Status, render_markdown

__all__ = ["build_parser", "main"]


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


@contextmanager
def _existing_db(path: str) -> Iterator[SQLiteStorage]:
    if not Path(path).is_file():
        raise ValidationError(
            "cli.no_database",
            f"No database at {path}; run `python -m enrollkit demo --db {path}` first.",
            path=path,
        )
    storage = SQLiteStorage(path)
    try:
        yield storage
    finally:
        storage.close()


def _cmd_demo(args: argparse.Namespace) -> int:
    from enrollkit.cli.demo import play

    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="enrollkit-")) / "demo.db"
    if path.exists() and path.stat().st_size > 0:
        raise ValidationError(
            "cli.database_exists",
            f"{path} already exists; the demo writes a fresh database. Give a new --db path.",
            path=str(path),
        )
    storage = SQLiteStorage(path)
    try:
        report = play(storage, database=str(path))
    finally:
        storage.close()
    if args.json:
        _print_json(report.to_data())
    else:
        print(report.to_text())
        print()
        print(
            f"Look again: python -m enrollkit agenda --db {path} --user acct-000001 --at 2026-04-14"
        )
    return 0 if report.audit_ok else 1


def _clock(at: str | None) -> Clock:
    if at is None:
        return SystemClock()
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise ValidationError(
            "cli.bad_time", f"--at takes an ISO date or datetime, like 2026-04-14; got {at!r}."
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return FixedClock(moment)


def _cmd_agenda(args: argparse.Namespace) -> int:
    with _existing_db(args.db) as storage:
        # A read: no principal is sealed or checked, so a throwaway key does.
        kit = Enrollkit(storage=storage, secret_key=secrets.token_bytes(32), clock=_clock(args.at))
        items = kit.agenda(for_user=args.user, for_profile=args.profile, horizon_days=args.days)
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
    elif not items:
        print("Nothing due.")
    for item in items if not args.json else ():
        print(f"{item.due.date().isoformat()}  {item.days_left:>4} days  {item.title}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    with _existing_db(args.db) as storage:
        result = storage.audit.verify()
        entries = storage.audit.entries() if args.action == "show" else ()
    for entry in entries:
        event = entry.event
        print(
            f"#{entry.seq:<4} {event.at.isoformat()}  {event.name:<34} "
            f"by {event.actor or 'system'} on {event.subject}  {entry.hash[:12]}"
        )
    if result.ok:
        print(
            f"Audit chain verified: {result.checked} entries, each linked to the one before (AU-1)."
        )
        return 0
    print(f"Audit chain BROKEN at entry {result.first_broken}: {result.reason}")
    return 1


def _cmd_check_password(args: argparse.Namespace) -> int:
    violations = IA_PASSWORD_POLICY.check(
        args.password,
        user_id=args.user_id,
        first_name=args.first_name,
        last_name=args.last_name,
    )
    if args.json:
        _print_json([{"code": v.code, "rule": v.rule, "message": v.message} for v in violations])
    elif not violations:
        print("The password meets the I&A policy (PW-1..PW-9).")
    for v in violations if not args.json else ():
        print(f"{v.rule:<6} {v.code:<30} {v.message}")
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
        print(render_markdown())
    else:
        for r in RULES.values():
            mark = "x" if r.status is Status.IMPLEMENTED else " "
            print(f"[{mark}] {r.id:<6} {r.statement}  ({r.basis.value})")
    return 0


def _cmd_npi(args: argparse.Namespace) -> int:
    status = 0
    for text in args.values:
        try:
            npi = NPI.parse(text)
        except EnrollkitError as exc:
            print(f"{text}: invalid [{exc.code}] {exc.message}")
            status = 1
        else:
            print(f"{npi}: valid")
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m enrollkit``."""
    parser = argparse.ArgumentParser(
        prog="enrollkit",
        description="The rules of CMS I&A and PECOS: a demo and inspection commands.",
    )
    parser.add_argument("--version", action="version", version=f"enrollkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="play the credentialing story on SQLite")
    demo.add_argument("--db", help="the SQLite file to create (default: a new temporary file)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.set_defaults(handler=_cmd_demo)

    agenda = commands.add_parser("agenda", help="what is due, for a user or a profile (EN-9)")
    agenda.add_argument("--db", required=True, help="an enrollkit SQLite database")
    scope = agenda.add_mutually_exclusive_group(required=True)
    scope.add_argument("--user", help="an account id")
    scope.add_argument("--profile", help="a provider profile id")
    agenda.add_argument("--at", help="as of this ISO date/time (default: now)")
    agenda.add_argument("--days", type=int, default=120, help="horizon in days (default 120)")
    agenda.add_argument("--json", action="store_true")
    agenda.set_defaults(handler=_cmd_agenda)

    audit = commands.add_parser("audit", help="verify or show the audit chain (AU-1)")
    audit.add_argument("action", choices=["verify", "show"])
    audit.add_argument("--db", required=True, help="an enrollkit SQLite database")
    audit.set_defaults(handler=_cmd_audit)

    check = commands.add_parser("check-password", help="the I&A compliance list for a password")
    check.add_argument("password")
    check.add_argument("--user-id", default="")
    check.add_argument("--first-name", default="")
    check.add_argument("--last-name", default="")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=_cmd_check_password)

    npi = commands.add_parser("npi", help="check NPIs (NPI-1, NPI-2)")
    npi.add_argument("values", nargs="+", metavar="NPI")
    npi.set_defaults(handler=_cmd_npi)

    rules = commands.add_parser("rules", help="print the rule catalogue")
    fmt = rules.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="as JSON")
    fmt.add_argument("--markdown", action="store_true", help="as the docs' Markdown page")
    rules.set_defaults(handler=_cmd_rules)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except EnrollkitError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
