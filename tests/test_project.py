"""Project-level promises: the Quick start, CI, the public surface, the dependency direction
and the declared dependencies."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

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


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff keeps an ``__all__`` in: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


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
        assert names == sorted(names, key=_isort_key)
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


def _runtime_imports(tree: ast.Module) -> set[str]:
    """Top-level modules *tree* imports at run time (not under ``if TYPE_CHECKING:``)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            for child in ast.walk(node):
                if isinstance(child, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in child.names)
                elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                    found.add(child.module.split(".")[0])

    visit(tree.body)
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_library_import_is_a_declared_dependency() -> None:
    """Every third-party module the library imports is a declared dependency."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        _canonical(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0])
        for spec in [
            *project["dependencies"],
            *(s for extra in project["optional-dependencies"].values() for s in extra),
        ]
    }
    distributions = importlib.metadata.packages_distributions()
    undeclared: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        if "testing" in path.relative_to(SRC).parts:
            continue
        for module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module in sys.stdlib_module_names or module in {"enrollkit", "__future__"}:
                continue
            names = {_canonical(d) for d in distributions.get(module, [module])}
            if not names & declared:
                undeclared.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert undeclared == {}


def test_the_testing_extra_declares_what_enrollkit_testing_imports() -> None:
    """`pip install "enrollkit[testing]"` is enough for the contract suite: every
    third-party module enrollkit.testing imports is a dependency or in the testing extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        _canonical(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0])
        for spec in [*project["dependencies"], *project["optional-dependencies"]["testing"]]
    }
    distributions = importlib.metadata.packages_distributions()
    undeclared: dict[str, list[str]] = {}
    for path in (SRC / "testing").rglob("*.py"):
        for module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module in sys.stdlib_module_names or module in {"enrollkit", "__future__"}:
                continue
            names = {_canonical(d) for d in distributions.get(module, [module])}
            if not names & declared:
                undeclared.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert undeclared == {}


def _slug(heading: str) -> str:
    """The anchor MkDocs' toc gives a heading."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", heading.strip().lower()))


def test_readme_links_work_on_a_package_index() -> None:
    """A package index shows the README without the repository, so every link is absolute:
    into the documentation site (a page and anchor that exist in docs/) or the source
    repository (a path that exists), both as pyproject's [project.urls] name them."""
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]
    site, source = urls["Documentation"], urls["Source"]
    links = re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert links
    broken: list[str] = []
    for link in links:
        if link.startswith(site):
            page, _, anchor = link.removeprefix(site).partition("#")
            doc = ROOT / "docs" / f"{page.strip('/') or 'index'}.md"
            headings = (
                re.findall(r"^#+ (.+)$", doc.read_text(encoding="utf-8"), re.M)
                if doc.is_file()
                else []
            )
            if not doc.is_file() or (anchor and anchor not in {_slug(h) for h in headings}):
                broken.append(link)
        elif link.startswith(source + "/"):
            path = re.sub(r"^/(tree|blob)/main/", "", link.removeprefix(source))
            if not (ROOT / path).exists():
                broken.append(link)
        else:
            broken.append(link)
    assert broken == []


DOMAIN_PACKAGES = ("access", "identity", "enrollment", "signatures")


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_package_all_is_its_modules_exports(package: str) -> None:
    """Each domain package's ``__all__`` is exactly what its modules export (one list per
    name, in the module that defines it), without repeats, and every name exists on the
    package (a package that re-exports its modules by star import has no
    undefined-export lint to catch a typo)."""
    module = importlib.import_module(f"enrollkit.{package}")
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    starred = [
        node.module
        for node in ast.parse(source).body
        if isinstance(node, ast.ImportFrom) and node.module and node.names[0].name == "*"
    ]
    exported = [name for star in starred for name in importlib.import_module(star).__all__]
    names = module.__all__
    assert starred
    assert len(set(names)) == len(names)
    assert sorted(names) == sorted(exported)
    assert [name for name in names if not hasattr(module, name)] == []


def test_domain_modules_are_private_behind_their_package() -> None:
    """Every module of a domain package is private (``_name``); hosts import from the
    package, whose ``__all__`` is the API (issue 11: uniform privacy)."""
    src = Path(__file__).resolve().parents[1] / "src" / "enrollkit"
    public = [
        f"{package}/{path.name}"
        for package in DOMAIN_PACKAGES
        for path in (src / package).glob("*.py")
        if path.name != "__init__.py" and not path.name.startswith("_")
    ]
    assert public == []


def test_no_package_imports_another_packages_private_module() -> None:
    """Packages talk through each other's public names only (no ``enrollkit.x._y`` across
    packages)."""
    src = Path(__file__).resolve().parents[1] / "src" / "enrollkit"
    crossing = []
    for path in src.rglob("*.py"):
        own = path.relative_to(src).parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if (
                    len(parts) >= 3
                    and parts[0] == "enrollkit"
                    and parts[1] != own
                    and parts[2].startswith("_")
                ):
                    crossing.append(f"{path.relative_to(src)}: {node.module}")
    assert crossing == []
