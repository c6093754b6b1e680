"""Every error code enrollkit raises, read from enrollkit's own source (Rule ER-1).

An :class:`~enrollkit.errors.EnrollkitError` carries a stable ``code``; hosts
map codes to screens, translations and HTTP statuses. The codes are declared
where they are raised, once, and this module is the one place that collects
them: it reads the package's source (no import side effects), finds every
error constructed with a literal code (directly, through a helper whose return
annotation is an error class, or as an access denial or signing refusal) and
reports each code with its family (the error class), where it is raised and
the first words of its message (a state machine's refusal code is read from its
definition). The docs' error-code page is rendered from
:func:`render_markdown`, and a test keeps every code to one family.

>>> entry = catalogue()["storage.stale"]
>>> entry.family, entry.http_status
('ConflictError', 409)
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

import attrs

from enrollkit.errors import HTTP_STATUS, EnrollkitError, http_status

__all__ = ["CodeEntry", "catalogue", "render_markdown"]

_PACKAGE: Final = Path(__file__).resolve().parent
_CODE: Final = re.compile(r"\A[a-z][a-z0-9_]*(\.[a-z0-9_<>]+)+\Z")

#: Calls whose code is not the first argument, and the family they stand for.
_RESULTS: Final[Mapping[str, tuple[int, str]]] = MappingProxyType(
    {
        "Denial": (0, "NotPermittedError"),  # raised by Decision.require()
        "_deny": (0, "NotPermittedError"),  # an access denial, raised the same way
        "Eligibility": (2, "NotPermittedError"),  # raised by Eligibility.require()
    }
)
_NOT_ERRORS: Final = frozenset({"signature.eligible"})


@attrs.frozen
class CodeEntry:
    """One error code: its family (error class), where it is raised, what it says."""

    code: str  #: ``"storage.stale"``; ``<...>`` marks a part filled in when raised
    family: str  #: the error class name
    modules: tuple[str, ...]  #: where it is raised (``enrollkit.adapters.memory``...)
    says: str  #: the first words of its message

    @property
    def namespace(self) -> str:
        """The code's first part: ``"storage"``."""
        return self.code.split(".", 1)[0]

    @property
    def http_status(self) -> int:
        """The status a web host would answer (:func:`enrollkit.errors.http_status`)."""
        family = _error_class(self.family, self.modules)
        return http_status(family) if family is not None else 400


def _error_class(name: str, modules: tuple[str, ...]) -> type[EnrollkitError] | None:
    """The error class called *name*, defined in enrollkit or in one of *modules*."""
    for module in modules:
        with contextlib.suppress(ImportError):  # an adapter whose extra is not installed
            importlib.import_module(module)
    pending: list[type[EnrollkitError]] = [EnrollkitError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            return cls
        pending.extend(cls.__subclasses__())
    return None


def _text(node: ast.expr) -> str | None:
    """A string literal, or an f-string with ``<name>`` for each placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append(f"<{_placeholder(value.value)}>")
        return "".join(parts)
    return None


def _placeholder(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr if node.attr not in ("value", "name") else _placeholder(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _placeholder(node.func.value) if isinstance(node.func, ast.Attribute) else "value"
    return "value"


def _says(node: ast.Call, skip: int) -> str:
    """The first sentence of the call's message (the first argument after the code with
    some words in it)."""
    for arg in node.args[skip + 1 :]:
        text = _text(arg)
        if text and len(re.findall(r"[A-Za-z]{3,}", re.sub(r"<[^>]*>", "", text))) >= 2:
            sentence = re.split(r"(?<=[.;:])\s", text, maxsplit=1)[0]
            return sentence if len(sentence) <= 90 else sentence[:87] + "..."
    return ""


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(_PACKAGE.rglob("*.py")):
        relative = path.relative_to(_PACKAGE.parent).with_suffix("")
        yield ".".join(relative.parts), ast.parse(path.read_text(encoding="utf-8"))


def _error_classes(trees: list[tuple[str, ast.Module]]) -> set[str]:
    """EnrollkitError and every class deriving from one of them, by name."""
    known = {"EnrollkitError"}
    bases: dict[str, set[str]] = {}
    for _module, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_name(b) for b in node.bases)
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name not in known and parents & known:
                known.add(name)
                changed = True
    return known


def _helpers(trees: list[tuple[str, ast.Module]], errors: set[str]) -> dict[str, str]:
    """Functions returning an error class (by annotation): name -> family."""
    found: dict[str, str] = {}
    for _module, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.returns is not None:
                family = _name(node.returns) or (
                    node.returns.value
                    if isinstance(node.returns, ast.Constant)
                    and isinstance(node.returns.value, str)
                    else ""
                )
                if family in errors:
                    found[node.name] = family
    return found


@functools.cache
def catalogue() -> Mapping[str, CodeEntry]:
    """Every error code in enrollkit, by code, read from the package source."""
    trees = list(_modules())
    errors = _error_classes(trees)
    helpers = _helpers(trees, errors)
    seen: dict[str, tuple[set[str], set[str], str]] = {}
    for module, tree in trees:
        _own_codes(tree, module, errors, seen)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            if name == "require":
                _not_found(node, module, seen)
                continue
            if name in ("StateMachine", "from_table"):
                _machine(node, module, seen)
                continue
            if name in errors:
                position, family = 0, name
            elif name in helpers:
                position, family = 0, helpers[name]
            elif name in _RESULTS:
                position, family = _RESULTS[name]
            else:
                continue
            if len(node.args) <= position:
                continue
            code = _text(node.args[position])
            if code is None or not _CODE.match(code) or code in _NOT_ERRORS:
                continue
            families, modules, says = seen.setdefault(code, (set(), set(), ""))
            families.add(family)
            modules.add(module)
            if not says:
                seen[code] = (families, modules, _says(node, position))
    return MappingProxyType(
        {
            code: CodeEntry(
                code=code,
                family=" / ".join(sorted(families)),
                modules=tuple(sorted(modules)),
                says=says,
            )
            for code, (families, modules, says) in sorted(seen.items())
        }
    )


def _not_found(
    node: ast.Call, module: str, seen: dict[str, tuple[set[str], set[str], str]]
) -> None:
    """``storage.require(repo, id, what="application")`` raises ``application.not_found``."""
    for keyword in node.keywords:
        if keyword.arg == "what" and isinstance(keyword.value, ast.Constant):
            what = str(keyword.value.value)
            code = f"{what.replace(' ', '_')}.not_found"
            families, modules, _ = seen.setdefault(code, (set(), set(), ""))
            families.add("NotFoundError")
            modules.add(module)
            seen[code] = (families, modules, f"No {what} with id <id> exists.")


def _own_codes(
    tree: ast.Module,
    module: str,
    errors: set[str],
    seen: dict[str, tuple[set[str], set[str], str]],
) -> None:
    """An error class passing its own code to ``super().__init__`` (``PasswordRejected``),
    and the password rules' violation codes, which it lists."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in errors:
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and _name(call.func) == "__init__"
                    and call.args
                    and (code := _text(call.args[0])) is not None
                    and _CODE.match(code)
                ):
                    families, modules, _ = seen.setdefault(code, (set(), set(), ""))
                    families.add(node.name)
                    modules.add(module)
                    seen[code] = (families, modules, _says(call, 0))
        if isinstance(node, ast.Call) and _name(node.func) == "PasswordRule":
            for keyword in node.keywords:
                if keyword.arg == "code" and (code := _text(keyword.value)) is not None:
                    families, modules, _ = seen.setdefault(code, (set(), set(), ""))
                    families.add("PasswordRejected")
                    modules.add(module)
                    seen[code] = (families, modules, "A violation listed by password.rejected.")


def _machine(node: ast.Call, module: str, seen: dict[str, tuple[set[str], set[str], str]]) -> None:
    """A :class:`~enrollkit.machine.StateMachine` refuses with its ``code`` (by default
    ``<name>.invalid_transition``)."""
    given = {k.arg: k.value for k in node.keywords if isinstance(k.value, ast.Constant)}
    name = str(given["name"].value) if "name" in given else "machine"
    table = node.args[2] if len(node.args) > 2 else None
    if isinstance(table, ast.Constant) and isinstance(table.value, str):
        name = table.value.strip().split(" (", 1)[0]  # "connection (CO-6), starts ..."
    code = (
        str(given["code"].value).replace("{event}", "<event>")
        if "code" in given
        else f"{name.replace(' ', '_')}.invalid_transition"
    )
    families, modules, _ = seen.setdefault(code, (set(), set(), ""))
    families.add("InvalidTransitionError")
    modules.add(module)
    seen[code] = (families, modules, f"This {name} is <state>; it cannot be <event done>.")


def render_markdown() -> str:
    """The error-code page: one table per namespace, with family and HTTP status."""
    entries = catalogue()
    lines = [
        f"enrollkit raises **{len(entries)} error codes**, listed here from the library's "
        "own source (`enrollkit.codes.catalogue()`), so the page cannot drift from the "
        "code. `<...>` marks a part of the code filled in when it is raised "
        "(`application.not_found`). The HTTP status is what a web host would answer "
        "for the family (the [FastAPI host example](host-example.md) maps them so).",
        "",
        "| family | HTTP status |",
        "|---|---|",
        *(f"| `{family.__name__}` | {status} |" for family, status in HTTP_STATUS.items()),
    ]
    by_namespace: dict[str, list[CodeEntry]] = {}
    for entry in entries.values():
        by_namespace.setdefault(entry.namespace, []).append(entry)
    for namespace, group in sorted(by_namespace.items()):
        lines += [
            "",
            f"## `{namespace}`",
            "",
            "| code | family | status | says | raised in |",
            "|---|---|---|---|---|",
        ]
        for entry in group:
            says = entry.says.replace("|", "\\|")
            where = ", ".join(f"`{m}`" for m in entry.modules)
            lines.append(
                f"| `{entry.code}` | `{entry.family}` | {entry.http_status} | {says} | {where} |"
            )
    return "\n".join(lines) + "\n"
