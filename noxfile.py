"""Checks for enrollkit: ``nox`` runs tests, typecheck, lint and docs; ``nox -s bench`` benchmarks.

Dependencies come from the dependency groups in pyproject.toml (one source of truth).
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.sessions = ["tests", "typecheck", "lint", "docs"]
nox.options.reuse_existing_virtualenvs = not os.environ.get("CI")
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
ROOT = Path(__file__).parent


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    """pytest + hypothesis, with the examples in docs/ and in docstrings."""
    session.install("-e", ".", *_group("tests"))
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/, tests/, the typing tests and the examples (the public API
    as a host uses it)."""
    session.install("-e", ".", *_group("typing"))
    session.run(
        "python", "-m", "mypy", "--strict", "src", "tests", "typing_tests", "examples", "noxfile.py"
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """mkdocs build --strict (material + mkdocstrings)."""
    session.install("-e", ".", *_group("docs"))
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with their peers; prints medians and ratios (never asserts)."""
    session.install("-e", ".", *_group("bench"))
    scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    if session.posargs:
        scripts = [s for s in scripts if any(arg in s.name for arg in session.posargs)]
    for script in scripts:
        session.run("python", str(script))
