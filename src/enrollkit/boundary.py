"""Arguments checked where they enter the public API (Rule ER-1).

Every public method of every service is decorated with :func:`boundary`.
The decorator reads the method's type annotations once and checks each
argument against them before the method runs:

* text is a ``str`` without lone surrogates, at most 10,000 characters
  (or the :class:`Limit` given with ``Annotated``);
* an enum accepts its members and, from hosts that speak JSON, their values
  (``"AO"`` for ``Role.AUTHORIZED_OFFICIAL``); anything else is refused with
  the allowed values listed;
* numbers are ``int`` (never ``bool``) within a range; datetimes are
  timezone-aware and dates lie between the years 1900 and 9000;
* collections are real collections (not text), of bounded size, their items
  checked one by one; mappings likewise;
* a value object (an attrs class) must be an instance of that class, and
  its fields are checked recursively against *their* annotations, so a
  ``Profile`` built around a lone surrogate or an ``Employer`` holding a
  string where an enum belongs is refused here, not deep inside a use case;
* a :class:`~enrollkit.principals.Principal` must be one (the use case then
  checks its seal and account, AC-8).

A refusal is a :class:`~enrollkit.errors.ValidationError` with a stable
``input.*`` code (or ``principal.required``) naming the parameter, and its
message echoes at most a short prefix of what was given
(:func:`~enrollkit.errors.excerpt`). Past this point, code may trust its
types (DESIGN, "Trust").

>>> from enrollkit.access import Role
>>> class Demo:
...     @boundary
...     def grant(self, *, role: Role, note: str = "") -> Role:
...         return role
>>> Demo().grant(role="AO")
<Role.AUTHORIZED_OFFICIAL: 'AO'>
>>> Demo().grant(role="Admin")
Traceback (most recent call last):
...
enrollkit.errors.ValidationError: role must be one of 'IP', 'AO', 'AM', 'SEU', 'SUR'; got 'Admin'.
>>> Demo().grant(role=Role.STAFF_END_USER, note="x" * 20_000)
Traceback (most recent call last):
...
enrollkit.errors.ValidationError: note is at most 10000 characters; got 20000.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence, Set
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Final, TypeVar, cast

import attrs

from enrollkit.errors import ValidationError, excerpt
from enrollkit.principals import Principal

__all__ = [
    "MAX_ITEMS",
    "MAX_TEXT",
    "Limit",
    "Text",
    "boundary",
    "check_value",
]

F = TypeVar("F", bound=Callable[..., Any])
D = TypeVar("D", bound=date)

#: Default limits (ER-1): characters of one text argument, items of one collection.
MAX_TEXT: Final = 10_000
MAX_ITEMS: Final = 10_000
#: Bytes of one binary argument (documents have their own, smaller limit: EN-5).
MAX_BYTES: Final = 64 * 1024 * 1024
#: Integers outside this range are refused unless a Limit says otherwise.
MAX_INT: Final = 2**53
MIN_YEAR: Final = 1900
MAX_YEAR: Final = 9000


@attrs.frozen
class Limit:
    """Bounds for one annotated argument: ``Annotated[int, Limit(low=0, high=3650)]``,
    ``Annotated[str, Limit(chars=200)]``. ``stream=True`` on an ``Iterable`` reads it
    lazily (a file of a million lines): each item is checked as it is read, and
    ``items`` does not apply."""

    chars: int = MAX_TEXT
    low: int = -MAX_INT
    high: int = MAX_INT
    items: int = MAX_ITEMS
    stream: bool = False


_DEFAULT_LIMIT: Final = Limit()

#: An id or a short text the services take (an application id, a slot name, a source):
#: at most 500 characters.
Text = Annotated[str, Limit(chars=500)]

#: A keyword the caller did not give (the generated wrappers' default).
_MISSING: Final = object()

Checker = Callable[[Any, str], Any]

#: A checker's inline guard: an expression over ``{v}`` (the argument) that is true when
#: the checker would return the value as it is, with the names it uses. The generated
#: wrapper evaluates it in place of a call and calls the checker only when it is false,
#: so the common argument (short ASCII text, an enum member) costs no function call.
_GUARDS: Final[weakref.WeakKeyDictionary[Checker, tuple[str, dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)


def _guarded(checker: Checker, guard: str, **names: Any) -> Checker:
    """Record *guard* (see ``_GUARDS``) for *checker*; return the checker."""
    _GUARDS[checker] = (guard, names)
    return checker


def _refuse(code: str, message: str, name: str, **fields: Any) -> ValidationError:
    return ValidationError(code, message, parameter=name, **fields)


def _wrong_type(name: str, expected: str, value: object) -> ValidationError:
    return _refuse(
        "input.type",
        f"{name} must be {expected}; got {excerpt(value)}.",
        name,
        expected=expected,
        got=type(value).__name__,
    )


def _text_checker(limit: Limit) -> Checker:
    def check(value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise _wrong_type(name, "text", value)
        if len(value) > limit.chars:
            raise _refuse(
                "input.too_long",
                f"{name} is at most {limit.chars} characters; got {len(value)}.",
                name,
                limit=limit.chars,
                length=len(value),
            )
        if value.isascii():  # the common case, checked without a copy
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _refuse(
                "input.text",
                f"{name} contains a character that is not valid Unicode text (a lone "
                f"surrogate): {excerpt(value)}. Send text as UTF-8.",
                name,
            ) from None
        return value

    return _guarded(
        check, "type({v}) is str and len({v}) <= {chars} and {v}.isascii()", chars=limit.chars
    )


def _int_checker(limit: Limit) -> Checker:
    def check(value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(name, "a whole number", value)
        if not limit.low <= value <= limit.high:
            raise _refuse(
                "input.out_of_range",
                f"{name} must lie between {limit.low} and {limit.high}; got "
                f"{excerpt(str(value), 20)}.",
                name,
                low=limit.low,
                high=limit.high,
            )
        return value

    return check


def _bool_check(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _wrong_type(name, "True or False", value)
    return value


def _bytes_check(value: Any, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise _wrong_type(name, "bytes", value)
    data = bytes(value)
    if len(data) > MAX_BYTES:
        raise _refuse(
            "input.too_large",
            f"{name} is at most {MAX_BYTES} bytes; got {len(data)}.",
            name,
            limit=MAX_BYTES,
        )
    return data


def _in_year_range(value: D, name: str) -> D:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise _refuse(
            "input.out_of_range",
            f"{name} must lie between the years {MIN_YEAR} and {MAX_YEAR}; got {value.year}.",
            name,
        )
    return value


def _datetime_check(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise _wrong_type(name, "a datetime", value)
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise _refuse(
            "time.naive",
            f"{name} must be timezone-aware (UTC); attach a zone, e.g. "
            "value.replace(tzinfo=timezone.utc).",
            name,
        )
    return _in_year_range(value, name)


def _date_check(value: Any, name: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _wrong_type(name, "a date", value)
    return _in_year_range(value, name)


def _timedelta_check(value: Any, name: str) -> timedelta:
    if not isinstance(value, timedelta):
        raise _wrong_type(name, "a timedelta", value)
    if abs(value) > timedelta(days=366 * 100):
        raise _refuse("input.out_of_range", f"{name} is at most 100 years.", name)
    return value


def _principal_check(value: Any, name: str) -> Principal:
    if not isinstance(value, Principal):
        raise _refuse(
            "principal.required",
            f"{name} must be a Principal from a completed login or an audited host assertion "
            f"(AC-8); got {excerpt(value)}.",
            name,
            got=type(value).__name__,
        )
    return value


def _enum_checker(cls: type[enum.Enum], *, convert: bool) -> Checker:
    by_value = {member.value: member for member in cls}
    allowed = ", ".join(repr(member.value) for member in cls)

    def check(value: Any, name: str) -> enum.Enum:
        if isinstance(value, cls):
            return value
        if convert and isinstance(value, str | int) and not isinstance(value, bool):
            try:
                return by_value[value]
            except (KeyError, TypeError):
                pass
        raise _refuse(
            "input.choice",
            f"{name} must be one of {allowed}; got {excerpt(value)}.",
            name,
            allowed=[member.value for member in cls],
        )

    return _guarded(check, "type({v}) is {cls}", cls=cls)


def _optional(inner: Checker) -> Checker:
    def check(value: Any, name: str) -> Any:
        return None if value is None else inner(value, name)

    return check


def _union(options: list[tuple[str, Checker]]) -> Checker:
    expected = " or ".join(label for label, _ in options)

    def check(value: Any, name: str) -> Any:
        first: ValidationError | None = None
        for _label, checker in options:
            try:
                return checker(value, name)
            except ValidationError as exc:
                # The most specific refusal of a matching type wins (a bad NPI text
                # says why); a refusal for the wrong type only when nothing matched.
                if exc.code != "input.type" and first is None:
                    first = exc
        if first is not None:
            raise first
        raise _wrong_type(name, expected, value)

    return check


def _items_of(value: Any, name: str, limit: Limit, what: str) -> list[Any]:
    if isinstance(value, str | bytes | bytearray | memoryview | Mapping) or not isinstance(
        value, Iterable
    ):
        raise _wrong_type(name, what, value)
    items: list[Any] = []
    try:
        for item in value:
            items.append(item)
            if len(items) > limit.items:
                raise _refuse(
                    "input.too_many",
                    f"{name} holds at most {limit.items} items.",
                    name,
                    limit=limit.items,
                )
    except ValidationError:
        raise
    except Exception as exc:  # a hostile iterable; noqa: BLE001 would hide it
        raise _refuse(
            "input.type", f"{name} could not be read as {what}: {type(exc).__name__}.", name
        ) from exc
    return items


def _sequence_checker(item: Checker, limit: Limit, result: type) -> Checker:
    def check(value: Any, name: str) -> Any:
        items = _items_of(value, name, limit, "a collection")
        checked = [item(element, f"{name}[{i}]") for i, element in enumerate(items)]
        if result is frozenset:
            try:
                return frozenset(checked)
            except TypeError as exc:
                raise _wrong_type(name, "a collection of hashable values", value) from exc
        return tuple(checked)

    return check


def _stream_checker(item: Checker) -> Checker:
    def check(value: Any, name: str) -> Iterator[Any]:
        if isinstance(value, str | bytes | bytearray | memoryview | Mapping) or not isinstance(
            value, Iterable
        ):
            raise _wrong_type(name, "an iterable (read lazily)", value)

        def checked() -> Iterator[Any]:
            for i, element in enumerate(value):
                yield item(element, f"{name}[{i}]")

        return checked()

    return check


def _fixed_tuple_checker(items: list[Checker]) -> Checker:
    def check(value: Any, name: str) -> tuple[Any, ...]:
        if not isinstance(value, tuple | list) or len(value) != len(items):
            raise _wrong_type(name, f"a pair or tuple of {len(items)} values", value)
        return tuple(
            c(v, f"{name}[{i}]") for i, (c, v) in enumerate(zip(items, value, strict=True))
        )

    return check


def _mapping_checker(key: Checker, val: Checker, limit: Limit) -> Checker:
    def check(value: Any, name: str) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise _wrong_type(name, "a mapping", value)
        if len(value) > limit.items:
            raise _refuse("input.too_many", f"{name} holds at most {limit.items} items.", name)
        try:
            pairs = list(value.items())
        except Exception as exc:
            raise _refuse("input.type", f"{name} could not be read as a mapping.", name) from exc
        return {key(k, f"{name} key"): val(v, f"{name}[{excerpt(k, 20)}]") for k, v in pairs}

    return check


def _attrs_checker(cls: type[Any]) -> Checker:
    fields: list[tuple[str, Checker]] | None = None

    def check(value: Any, name: str) -> Any:
        nonlocal fields
        if not isinstance(value, cls):
            raise _wrong_type(name, f"a {cls.__name__}", value)
        if fields is None:
            fields = _field_checkers(cast(Hashable, cls))
        for field_name, checker in fields:
            checker(getattr(value, field_name), f"{name}.{field_name}")
        return value

    return check


@functools.cache
def _field_checkers(cls: Any) -> list[tuple[str, Checker]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return [
        (field.name, _compile(hints[field.name], convert=False))
        for field in attrs.fields(cls)
        if field.name in hints
    ]


def _label(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp)


def _compile(tp: Any, *, convert: bool, limit: Limit = _DEFAULT_LIMIT) -> Checker:
    """The checker of values annotated *tp* (programming errors raise TypeError)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        found = next((m for m in meta if isinstance(m, Limit)), limit)
        return _compile(base, convert=convert, limit=found)
    if tp is Any or tp is object:
        return lambda value, _name: value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        inner = [a for a in args if a is not type(None)]
        checker = (
            _compile(inner[0], convert=convert, limit=limit)
            if len(inner) == 1
            else _union([(_label(a), _compile(a, convert=convert, limit=limit)) for a in inner])
        )
        return _optional(checker) if len(inner) < len(args) else checker
    if origin is typing.Literal:
        choices = typing.get_args(tp)

        def literal(value: Any, name: str) -> Any:
            if value not in choices:
                raise _refuse("input.choice", f"{name} must be one of {choices!r}.", name)
            return value

        return literal
    if origin in (Callable, typing.Callable):

        def function(value: Any, name: str) -> Any:
            if not callable(value):
                raise _wrong_type(name, "a function", value)
            return value

        return function
    if origin in (tuple,):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence_checker(_compile(args[0], convert=convert), limit, tuple)
        return _fixed_tuple_checker([_compile(a, convert=convert) for a in args])
    if origin in (frozenset, set, Set):
        (arg,) = typing.get_args(tp)
        return _sequence_checker(_compile(arg, convert=convert), limit, frozenset)
    if origin in (Iterable, typing.Iterable) and limit.stream:
        (arg,) = typing.get_args(tp)
        return _stream_checker(_compile(arg, convert=convert))
    if origin in (list, Sequence, Iterable, typing.Iterable, typing.Sequence):
        (arg,) = typing.get_args(tp)
        return _sequence_checker(_compile(arg, convert=convert), limit, tuple)
    if origin in (dict, Mapping, typing.Mapping):
        key, val = typing.get_args(tp)
        return _mapping_checker(
            _compile(key, convert=convert), _compile(val, convert=convert), limit
        )
    if isinstance(origin, type) and issubclass(origin, typing.Generic):
        # A generic class of the library (``Collection[A]``): an instance of it; its type
        # parameter is the type checker's to check.
        return _instance_checker(origin)
    if origin is not None:
        raise TypeError(f"boundary: no checker for {tp!r}")
    if tp is str:
        return _text_checker(limit)
    if tp is bool:
        return _bool_check
    if tp is int:
        return _int_checker(limit)
    if tp is float:

        def number(value: Any, name: str) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _wrong_type(name, "a number", value)
            if value != value or abs(value) > MAX_INT:
                raise _refuse("input.out_of_range", f"{name} is out of range.", name)
            return float(value)

        return number
    if tp is bytes:
        return _bytes_check
    if tp is datetime:
        return _datetime_check
    if tp is date:
        return _date_check
    if tp is timedelta:
        return _timedelta_check
    if tp is Principal:
        return _principal_check
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_checker(tp, convert=convert)
    if isinstance(tp, type) and attrs.has(tp):
        return _attrs_checker(tp)
    if isinstance(tp, type):
        return _instance_checker(tp)
    raise TypeError(f"boundary: no checker for {tp!r}")


def _instance_checker(cls: type[Any]) -> Checker:
    """Ports and other protocol-typed arguments: a runtime-checkable protocol or a class."""

    def check(value: Any, name: str) -> Any:
        try:
            ok = isinstance(value, cls)
        except TypeError:  # a non-runtime protocol: trust the type checker
            ok = True
        if not ok:
            raise _wrong_type(name, f"a {cls.__name__}", value)
        return value

    return check


def check_value(value: Any, annotation: Any, *, name: str = "value") -> Any:
    """Check one *value* against an *annotation* as :func:`boundary` would."""
    return _compile(annotation, convert=True)(value, name)


class _Signature:
    __slots__ = ("by_name", "defaults", "positional", "qualname", "required")

    def __init__(self, fn: Callable[..., Any]) -> None:
        hints = typing.get_type_hints(fn, include_extras=True)
        parameters = list(inspect.signature(fn).parameters.values())[1:]  # after self
        self.qualname = fn.__qualname__
        self.by_name: dict[str, Checker] = {}
        self.positional: list[str] = []
        self.required: set[str] = set()
        self.defaults: dict[str, Any] = {}
        for parameter in parameters:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"boundary: {fn.__qualname__} takes *args or **kwargs")
            if parameter.kind is parameter.POSITIONAL_ONLY:
                raise TypeError(f"boundary: {fn.__qualname__} has positional-only parameters")
            self.by_name[parameter.name] = _compile(hints[parameter.name], convert=True)
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD:
                self.positional.append(parameter.name)
            if parameter.default is parameter.empty:
                self.required.add(parameter.name)
            else:
                self.defaults[parameter.name] = parameter.default

    def wrapper(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A wrapper of *fn* whose keyword parameters are *fn*'s own: the common call
        binds without a dictionary of keywords and checks each argument inline; any
        other call is bound by :meth:`bind`, which says what is wrong."""
        names = list(self.by_name)
        if {"self", "args", "extra"} & set(names):
            raise TypeError(f"boundary: {self.qualname} has a parameter the wrapper uses")
        missing = _MISSING
        required = [name for name in names if name in self.required]
        namespace: dict[str, Any] = {"fn": fn, "slow": self._slow(fn), "M": missing}
        checks = []
        for position, name in enumerate(names):
            checker = self.by_name[name]
            namespace[f"_c{position}"] = checker
            check = f"_c{position}({name}, {name!r})"
            inline = _GUARDS.get(checker)
            if inline is not None:
                guard, used = inline
                local = {key: f"_g{position}_{key}" for key in used}
                namespace.update({local[key]: value for key, value in used.items()})
                check = f"{name} if {guard.format(v=name, **local)} else {check}"
            if name in self.required:
                checks.append(f"{name}={check}")
            else:
                namespace[f"_d{position}"] = self.defaults[name]
                checks.append(f"{name}=_d{position} if {name} is M else ({check})")
        given = " or ".join(["args", "extra", *(f"{name} is M" for name in required)])
        values = ", ".join(f"({name!r}, {name})" for name in names)
        lines = [
            f"def checked(self, *args, {', '.join(f'{name}=M' for name in names)}, **extra):"
            if names
            else "def checked(self, *args, **extra):",
            f"    if {given}:",
            f"        return slow(self, args, {{k: v for k, v in ({values},) if v is not M}}"
            " | extra)"
            if names
            else "        return slow(self, args, extra)",
            f"    return fn(self, {', '.join(checks)})",
        ]
        code = compile("\n".join(lines), f"<boundary {self.qualname}>", "exec")
        exec(code, namespace)  # noqa: S102 - generated from the method's own parameter names
        return cast("Callable[..., Any]", namespace["checked"])

    def _slow(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def slow(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return fn(owner, **self.bind(args, kwargs))

        return slow

    def bind_keywords(self, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """The common call, every argument by name: *kwargs* checked in place, or None
        when a name is unknown or a required one missing (then :meth:`bind` says so)."""
        by_name = self.by_name
        for name, value in kwargs.items():
            checker = by_name.get(name)
            if checker is None:
                return None
            kwargs[name] = checker(value, name)
        if len(kwargs) != len(by_name) and not self.required <= kwargs.keys():
            return None
        return kwargs

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > len(self.positional):
            raise ValidationError(
                "input.arguments",
                f"{self.qualname} takes at most {len(self.positional)} positional "
                f"argument(s); got {len(args)}. Name the others.",
            )
        values: dict[str, Any] = {}
        for name, value in zip(self.positional, args, strict=False):
            values[name] = self.by_name[name](value, name)
        for name, value in kwargs.items():
            checker = self.by_name.get(name)
            if checker is None or name in values:
                raise ValidationError(
                    "input.arguments",
                    f"{self.qualname} has no parameter {excerpt(name)} (or it was given twice); "
                    f"its parameters are {', '.join(self.by_name)}.",
                    parameter=excerpt(name),
                )
            values[name] = checker(value, name)
        if len(values) < len(self.required) or not self.required <= values.keys():
            missing = sorted(self.required - values.keys())
            raise ValidationError(
                "input.missing",
                f"{self.qualname} needs {', '.join(missing)}.",
                missing=missing,
            )
        return values


def boundary(fn: F) -> F:
    """Check every argument of the public method *fn* against its annotations (ER-1).

    The checks are compiled once, when the annotations can be resolved (at decoration,
    or at the first call for names defined later): the common call, every argument by
    name, runs a generated wrapper that checks each argument in turn; any other call
    (positional arguments, an unknown or missing name) goes through :meth:`_Signature.bind`,
    which names what is wrong.
    """
    try:
        signature: _Signature | None = _Signature(fn)
    except NameError:  # an annotation names something defined after the method
        signature = None
    if signature is not None:
        checked = signature.wrapper(fn)
    else:

        def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal signature
            if signature is None:
                signature = _Signature(fn)
            if not args:
                values = signature.bind_keywords(kwargs)
                if values is not None:
                    return fn(self, **values)
            return fn(self, **signature.bind(args, kwargs))

    functools.update_wrapper(checked, fn)
    checked.__enrollkit_boundary__ = True  # type: ignore[attr-defined]
    return cast(F, checked)
