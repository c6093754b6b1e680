"""The Access docs page shows the tables and diagram rendered from the code's own data."""

from __future__ import annotations

from pathlib import Path

from enrollkit.access.connections import render_mermaid
from enrollkit.access.roles import render_grant_rules_markdown, render_matrix_markdown

PAGE = Path(__file__).resolve().parents[2] / "docs" / "access.md"


class TestDocsPage:
    def test_ro_2_docs_matrix_is_the_rendered_matrix(self) -> None:
        """RO-2: the page's permission table is exactly render_matrix_markdown()."""
        assert render_matrix_markdown() in PAGE.read_text(encoding="utf-8")

    def test_ro_3_docs_grant_table_is_the_rendered_table(self) -> None:
        """RO-3/RO-4: the page's grant table is exactly render_grant_rules_markdown()."""
        assert render_grant_rules_markdown() in PAGE.read_text(encoding="utf-8")

    def test_co_6_docs_diagram_is_generated_from_the_transition_table(self) -> None:
        """CO-6: the page's Mermaid diagram is exactly render_mermaid()."""
        assert f"```mermaid\n{render_mermaid()}\n```" in PAGE.read_text(encoding="utf-8")
