"""The ``enrollkit`` command line: inspection commands (the demo arrives with storage)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from enrollkit import __version__
from enrollkit.errors import EnrollkitError
from enrollkit.npi import NPI
from enrollkit.rules import RULES, Status, render_markdown

__all__ = ["main"]


def _cmd_rules(args: argparse.Namespace) -> int:
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "statement": r.statement,
                        "basis": r.basis.value,
                        "source": r.source,
                        "status": r.status.value,
                    }
                    for r in RULES.values()
                ],
                indent=2,
            )
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
        description="The rules of CMS I&A and PECOS: inspection commands.",
    )
    parser.add_argument("--version", action="version", version=f"enrollkit {__version__}")
    commands = parser.add_subparsers(dest="command")
    rules = commands.add_parser("rules", help="print the rule catalogue")
    fmt = rules.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="as JSON")
    fmt.add_argument("--markdown", action="store_true", help="as the docs' Markdown page")
    rules.set_defaults(handler=_cmd_rules)
    npi = commands.add_parser("npi", help="check NPIs (NPI-1, NPI-2)")
    npi.add_argument("values", nargs="+", metavar="NPI")
    npi.set_defaults(handler=_cmd_npi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["rules"])
    try:
        return int(args.handler(args))
    except EnrollkitError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
