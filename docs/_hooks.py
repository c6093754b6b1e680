"""MkDocs hook: pages render tables and diagrams from the library's own data.

A page writes ``<!-- enrollkit:render module:function -->`` and the hook
replaces the marker with the Markdown the function returns, so the docs show
the same tables the code enforces (the rule catalogue, the permission matrix,
transition diagrams) and can never drift from them.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

_MARKER = re.compile(r"<!--\s*enrollkit:render\s+([\w.]+):(\w+)\s*-->")


def _render(match: re.Match[str]) -> str:
    module = importlib.import_module(match.group(1))
    rendered = getattr(module, match.group(2))()
    if not isinstance(rendered, str):
        raise TypeError(f"{match.group(0)} must return Markdown text")
    return rendered


def on_page_markdown(markdown: str, **_kwargs: Any) -> str:
    """Replace every render marker with the Markdown its function returns."""
    return _MARKER.sub(_render, markdown)
