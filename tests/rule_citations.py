"""Which rule IDs the test suite cites (shared by the meta-test and the terminal summary)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
RULEBOOK = ROOT.parent / "shared" / "RULES.md"

_FAMILIES = "NPI|PW|AC|RO|CO|EN|SG|AU|ST|ER"
_UPPER = re.compile(rf"\b({_FAMILIES})-(\d+)\b")
_LOWER = re.compile(rf"\btest_({_FAMILIES.lower()})_(\d+)(?:_|\b)")
_BOOK = re.compile(r"\*\*([A-Z]{2,3}-\d+)\*\*")

#: Files that talk about citations without citing anything themselves.
_NOT_CITING = {"rule_citations.py", "test_rule_catalogue.py"}


def cited_ids() -> dict[str, set[str]]:
    """Map each cited rule ID to the test files citing it."""
    cited: dict[str, set[str]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path.name in _NOT_CITING:
            continue
        text = path.read_text(encoding="utf-8")
        for family, number in _UPPER.findall(text):
            cited.setdefault(f"{family}-{number}", set()).add(path.name)
        for family, number in _LOWER.findall(text):
            cited.setdefault(f"{family.upper()}-{number}", set()).add(path.name)
    return cited


def rulebook_ids() -> list[str] | None:
    """The rule IDs of ../shared/RULES.md, or None where the rulebook is not beside the repo."""
    if not RULEBOOK.exists():
        return None
    return _BOOK.findall(RULEBOOK.read_text(encoding="utf-8"))
