"""The one converter (Rule ST-4): every domain object to and from JSON-ready data.

Datetimes travel as ISO-8601 UTC strings, dates as ``YYYY-MM-DD``, enums by
value, NPIs and EINs as strings, sets as sorted lists (so serializations are
canonical and can be hashed, EN-3). Malformed input is refused with a
:class:`~enrollkit.errors.SerializationError` whose ``fields["errors"]`` name
each failing path.

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
from collections.abc import Set
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar

import cattrs
from cattrs.errors import BaseValidationError, ForbiddenExtraKeysError
from cattrs.v import format_exception as _cattrs_format_exception

from enrollkit.clock import ensure_utc
from enrollkit.errors import EnrollkitError, SerializationError
from enrollkit.npi import EIN, NPI

__all__ = ["canonical_json", "converter", "from_data", "to_data"]

T = TypeVar("T")


def _structure_datetime(value: object, _type: type) -> datetime:
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


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
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
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))

    conv.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", t) in (set, frozenset), _unstructure_set
    )
    return conv


#: The single converter instance. Use :func:`to_data` / :func:`from_data`; do not mutate it.
converter: Final[cattrs.Converter] = _make_converter()


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
