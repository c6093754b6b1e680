"""The docs' lifecycle diagrams are generated from the transition tables (EN-4, SG-5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from enrollkit.enrollment import lifecycle_mermaid
from enrollkit.signatures import request_lifecycle_mermaid

DOCS = Path(__file__).resolve().parents[2] / "docs"
_MERMAID = re.compile(r"```mermaid\n(.*?)\n```", re.DOTALL)


@pytest.mark.parametrize(
    ("page", "generate"),
    [("enrollment.md", lifecycle_mermaid), ("signatures.md", request_lifecycle_mermaid)],
)
def test_en_4_docs_diagram_matches_the_table(page: str, generate: object) -> None:
    """The page's Mermaid block is exactly what the table generates today."""
    blocks = _MERMAID.findall((DOCS / page).read_text(encoding="utf-8"))
    assert callable(generate)
    assert blocks == [generate()]
