"""The one converter (Rule ST-4): every domain object to and from JSON-ready data.

Datetimes travel as ISO-8601 UTC strings, dates as ``YYYY-MM-DD``, enums by
value, NPIs and EINs as strings, sets as sorted lists (so serializations are
canonical and can be hashed, EN-3). Malformed input is refused with a
:class:`~enrollkit.errors.SerializationError` whose ``fields["errors"]`` name
each failing path.

Reading runs twice only when it fails: the converter is built by one function in
two modes, a fast one (cattrs' generated hooks without detailed validation, plus
hooks that look enum members up by value and share small enum sets) that reads
every valid input, and, when that one refuses, the detailed one that names each
failing path. Both accept the same data and build equal objects; the detailed
mode alone decides what an error says.

>>> from enrollkit import NPI
>>> to_data(NPI.parse("1234567893"))
'1234567893'
>>> from_data("1234567890", NPI)
Traceback (most recent call last):
...
enrollkit.errors.SerializationError: Cannot read NPI: NPI 1234567890 fails its check digit...@ $
"""

from __future__ import annotations

import json
from collections.abc import Callable, Set
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from types import NoneType, UnionType
from typing import Any, Final, TypeVar, Union, get_args, get_origin

import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import BaseValidationError, ForbiddenExtraKeysError
from cattrs.v import format_exception as _cattrs_format_exception

from enrollkit.clock import ensure_utc
from enrollkit.errors import EnrollkitError, SerializationError
from enrollkit.npi import EIN, NPI

__all__ = ["canonical_json", "converter", "from_data", "to_data"]

T = TypeVar("T")


def _structure_datetime(value: object, _type: type) -> datetime:
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass  # refused below, with the message
        else:
            # What ensure_utc returns for a UTC datetime is the datetime itself.
            if parsed.tzinfo is UTC:
                return parsed
    if isinstance(value, datetime):
        return ensure_utc(value)
    if not isinstance(value, str):
        raise SerializationError(
            "serialization.datetime",
            f"expected an ISO-8601 datetime string, got {type(value).__name__}",
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SerializationError(
            "serialization.datetime", f"{value!r} is not an ISO-8601 datetime"
        ) from exc
    return ensure_utc(parsed)


def _structure_date(value: object, _type: type) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise SerializationError(
            "serialization.date", f"expected a YYYY-MM-DD string, got {type(value).__name__}"
        )
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise SerializationError(
            "serialization.date", f"{value!r} is not a YYYY-MM-DD date"
        ) from exc


def _structure_timedelta(value: object, _type: type) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SerializationError(
            "serialization.timedelta",
            f"expected a number of seconds, got {type(value).__name__}",
        )
    return timedelta(seconds=value)


def _is_enum(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, Enum)


def _enum_structure_factory(type_: type[Enum]) -> Callable[[Any, Any], Enum]:
    """Members by value through the enum's own value map, as ``type_(value)`` does first;
    anything else goes to ``type_(value)`` itself (same members, same errors)."""
    members = type_._value2member_map_

    def structure(value: Any, _type: Any) -> Enum:
        try:
            return members[value]
        except (KeyError, TypeError):
            return type_(value)

    return structure


def _is_enum_frozenset(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) is frozenset and len(args) == 1 and _is_enum(args[0])


#: Distinct element lists remembered per enum-set type (a set of n members has 2**n forms).
_ENUM_SET_MEMO_SIZE: Final = 1024


def _enum_frozenset_structure_factory(type_: Any) -> Callable[[Any, Any], frozenset[Enum]]:
    """``frozenset[SomeEnum]`` from a JSON list, each distinct list read once and shared
    (the fast mode only: a failure is reported by the detailed mode)."""
    (enum,) = get_args(type_)
    member = _enum_structure_factory(enum)
    memo: dict[tuple[Any, ...], frozenset[Enum]] = {}

    def structure(value: Any, _type: Any) -> frozenset[Enum]:
        if type(value) is not list:
            return frozenset([member(item, enum) for item in value])
        key = tuple(value)
        found = memo.get(key)
        if found is None:
            found = frozenset([member(item, enum) for item in value])
            if len(memo) < _ENUM_SET_MEMO_SIZE:
                memo[key] = found
        return found

    return structure


def _is_optional(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) in (Union, UnionType) and len(args) == 2 and NoneType in args


def _optional_structure_factory(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """``X | None``: None, or X through X's hook, looked up once (cattrs looks it up on
    every call)."""
    (inner,) = (arg for arg in get_args(type_) if arg is not NoneType)
    hook: list[Callable[[Any, Any], Any]] = []

    def structure(value: Any, _type: Any) -> Any:
        if value is None:
            return None
        if not hook:
            hook.append(conv.get_structure_hook(inner))
        return hook[0](value, inner)

    return structure


def _is_homogeneous_tuple(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis


def _make_converter(*, detailed_validation: bool = True) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed_validation, forbid_extra_keys=True)
    conv.register_unstructure_hook(datetime, lambda dt: ensure_utc(dt).isoformat())
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(date, lambda d: d.isoformat())
    conv.register_structure_hook(date, _structure_date)
    conv.register_unstructure_hook(timedelta, lambda td: td.total_seconds())
    conv.register_structure_hook(timedelta, _structure_timedelta)
    conv.register_unstructure_hook(NPI, str)
    conv.register_structure_hook(NPI, lambda v, _t: NPI.parse(v))
    conv.register_unstructure_hook(EIN, str)
    conv.register_structure_hook(EIN, lambda v, _t: EIN.parse(v))

    def _unstructure_set(values: Set[Any]) -> list[Any]:
        items = [conv.unstructure(v) for v in values]
        if len(items) < 2:  # nothing to order
            return items
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))

    conv.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", t) in (set, frozenset), _unstructure_set
    )
    if not detailed_validation:
        conv.register_structure_hook_factory(_is_enum, _enum_structure_factory)
        conv.register_structure_hook_factory(_is_enum_frozenset, _enum_frozenset_structure_factory)
        conv.register_structure_hook_factory(_is_optional, _optional_structure_factory)
        # cattrs' own factory for tuple[X, ...] (its default dispatches X on every element).
        conv.register_structure_hook_factory(
            _is_homogeneous_tuple, homogenous_tuple_structure_factory
        )
    return conv


#: The single converter instance. Use :func:`to_data` / :func:`from_data`; do not mutate it.
converter: Final[cattrs.Converter] = _make_converter()
#: The same converter in its fast mode (no detailed validation): :func:`from_data` reads
#: with it first and asks :data:`converter` to name the problems only when it refuses.
_fast: Final[cattrs.Converter] = _make_converter(detailed_validation=False)
_fast_structure: Final = _fast.structure


def to_data(obj: object) -> Any:
    """Return *obj* as JSON-ready data (dicts, lists, strings, numbers, booleans, None)."""
    return converter.unstructure(obj)


def _describe(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, EnrollkitError):
        return exc.message
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unexpected field(s) {sorted(exc.extra_fields)}"
    return _cattrs_format_exception(exc, type_)


def from_data(data: object, cls: type[T]) -> T:
    """Build a *cls* from JSON-ready *data*, or raise SerializationError naming every bad path."""
    try:
        return _fast_structure(data, cls)
    except Exception:  # noqa: S110 - refused: the detailed mode reads it again, says why
        pass
    try:
        return converter.structure(data, cls)
    except BaseValidationError as exc:
        problems = cattrs.transform_error(exc, format_exception=_describe)
    except EnrollkitError as exc:
        problems = [f"{exc.message} @ $"]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        problems = [f"{_describe(exc, cls)} @ $"]
    name = getattr(cls, "__name__", str(cls))
    raise SerializationError(
        "serialization.invalid",
        f"Cannot read {name}: " + "; ".join(problems),
        type=name,
        errors=problems,
    )


def canonical_json(obj: object) -> bytes:
    """The canonical serialization of *obj*: sorted keys, no spaces, ASCII; stable for hashing."""
    return json.dumps(
        to_data(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")
