"""Project-level promises: the Quick start, CI, the public surface and the dependency direction."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import enrollkit

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "enrollkit"
#: Modules the domain must never import (DESIGN: dependency direction).
_OUTWARD = ("enrollkit.adapters", "enrollkit.cli", "enrollkit.testing", "tests")
_DOMAIN_AND_KERNEL = [
    p
    for p in SRC.rglob("*.py")
    if not any(part in {"adapters", "testing", "cli"} for part in p.relative_to(SRC).parts)
    and p.name != "__main__.py"
]


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```console\n(.*?)```", section, re.S)]


class TestProject:
    def test_readme_quick_start_has_exactly_two_commands(self) -> None:
        """The Quick start is two one-line commands: the demo, then the checks."""
        commands = _quick_start_commands()
        assert len(commands) == 2
        assert all("\n" not in command for command in commands)
        assert "enrollkit" in commands[0]
        assert commands[1].endswith("nox")

    def test_ci_runs_the_readme_test_command_verbatim(self) -> None:
        """.ci/run runs the README's second command, character for character."""
        ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
        assert _quick_start_commands()[1] in ci.splitlines()

    def test_public_all_is_sorted_and_importable(self) -> None:
        """enrollkit.__all__ is sorted (isort style, as ruff keeps it) and every name exists."""
        names = enrollkit.__all__

        def isort_key(name: str) -> tuple[int, str]:
            return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

        assert names == sorted(names, key=isort_key)
        assert all(hasattr(enrollkit, name) for name in names)

    def test_domain_never_imports_adapters_cli_or_tests(self) -> None:
        """Kernel and domain modules import nothing from adapters, cli, testing or tests."""
        offenders: list[str] = []
        for path in _DOMAIN_AND_KERNEL:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [
                    f"{path.relative_to(ROOT)} imports {name}"
                    for name in names
                    if name.startswith(_OUTWARD)
                ]
        assert offenders == []

    def test_version_has_one_source(self) -> None:
        """The version lives in _version.py only; pyproject reads it from there."""
        pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        assert 'dynamic = ["version"]' in pyproject
        assert re.fullmatch(r"\d+\.\d+\.\d+", enrollkit.__version__)
