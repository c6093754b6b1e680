"""The Access docs page shows the tables rendered from the code's own data (its state
diagrams: tests/test_machine.py)."""

from __future__ import annotations

from pathlib import Path

from enrollkit.access import render_grant_rules_markdown, render_matrix_markdown

PAGE = Path(__file__).resolve().parents[2] / "docs" / "access.md"


class TestDocsPage:
    def test_ro_2_docs_matrix_is_the_rendered_matrix(self) -> None:
        """RO-2: the page's permission table is exactly render_matrix_markdown()."""
        assert render_matrix_markdown() in PAGE.read_text(encoding="utf-8")

    def test_ro_3_docs_grant_table_is_the_rendered_table(self) -> None:
        """RO-3/RO-4: the page's grant table is exactly render_grant_rules_markdown()."""
        assert render_grant_rules_markdown() in PAGE.read_text(encoding="utf-8")
