"""Copies of frozen values with some fields changed, without building them again.

Aggregates and value objects are frozen attrs classes; a transition returns a new
value with a few fields changed. ``attrs.evolve`` builds it through ``__init__``,
running every converter and validator again over fields that did not change (a
connection's sets of systems, an application's content). :func:`replace` sets each
slot directly instead, for values the caller built or checked itself: the version a
unit of work gives a saved aggregate, the state a transition moves to. A copy that
changes nothing is the value itself (it is immutable).

>>> import attrs
>>> @attrs.frozen
... class Note:
...     id: str
...     text: str = attrs.field(converter=str.strip)
...     version: int = 0
>>> note = Note("n1", "  hello ")
>>> replace(note, version=2)
Note(id='n1', text='hello', version=2)
>>> replace(note, text="hello") is note
False
>>> replace(note, version=0) is note
True
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs

__all__ = ["copy_with", "replace"]

T = TypeVar("T")

#: Copiers by (class, the names they change), generated on first use.
_COPIERS: Final[dict[tuple[Any, ...], Callable[..., Any]]] = {}


def replace(obj: T, /, **changes: Any) -> T:
    """*obj* with *changes* set as given (no converter or validator runs: pass values
    the class would hold). Slotted attrs classes are copied slot by slot, dictionary
    classes by one copy of the dictionary; a class with hidden state (a cached hash)
    goes through ``attrs.evolve``."""
    for name, value in changes.items():
        if getattr(obj, name) is not value:
            return copy_with(obj, changes)
    return obj


def copy_with(obj: T, changes: dict[str, Any], /) -> T:
    """:func:`replace` for *changes* known to change something: a new value always, the
    fields compared with nothing first (a transition that moves the state)."""
    cls: type[Any] = type(obj)
    fields = _DICT_FIELDS.get(cls)
    if fields is None:
        fields = _DICT_FIELDS[cls] = len(attrs.fields(cls)) if _dict_is_fields(cls) else 0
    if fields:
        # A dictionary class: one copy of the dictionary (in C), when it holds its fields
        # and nothing else (a cached property or hash makes it evolve below).
        held = obj.__dict__
        if len(held) == fields:
            held = held.copy()
            held.update(changes)
            if len(held) == fields:  # every name changed was a field: none was added
                new = _new_object(cls)
                _set_attribute(new, "__dict__", held)
                return new  # type: ignore[no-any-return]
    key = (cls, *changes)
    copy = _COPIERS.get(key)
    if copy is None:
        copy = _COPIERS[key] = _copier(cls, tuple(changes))
    return copy(obj, *changes.values())  # type: ignore[no-any-return]


def _copier(cls: type[Any], changed: tuple[str, ...]) -> Callable[..., Any]:
    """A function ``copy(instance, *values)``: a new *cls* with the fields named in
    *changed* set to *values* and every other field taken from *instance*, each slot set
    directly. Generated once per set of names, as attrs generates ``__init__``."""
    names = [field.name for field in attrs.fields(cls)]
    if not set(changed) <= set(names) or _GENERATED_NAMES & set(names):
        raise TypeError(f"cannot copy {cls.__name__} changing {changed}")

    if not _slots_are_fields(cls, names):  # hidden state beside the slots (a cached hash)

        def evolve(obj: Any, *values: Any) -> Any:
            return attrs.evolve(obj, **dict(zip(changed, values, strict=True)))

        return evolve
    lines = [f"def copy(self, {', '.join(changed)}):", "    new = new_object(cls)"]
    lines += [
        f"    set_{name}(new, {name if name in changed else 'self.' + name})" for name in names
    ]
    lines.append("    return new")
    namespace: dict[str, Any] = {"new_object": object.__new__, "cls": cls}
    namespace.update({f"set_{name}": getattr(cls, name).__set__ for name in names})
    code = compile("\n".join(lines), f"<enrollkit copy {cls.__name__} {changed}>", "exec")
    exec(code, namespace)  # noqa: S102 - generated from the class's own field names
    return namespace["copy"]  # type: ignore[no-any-return]


#: Names the generated copiers use for themselves: no field may be called so.
_GENERATED_NAMES: Final = frozenset({"self", "new", "cls", "new_object"})
#: Dictionary classes by the number of their fields (0: copy it some other way).
_DICT_FIELDS: Final[dict[type[Any], int]] = {}
_new_object: Final = object.__new__
_set_attribute: Final = object.__setattr__


def _dict_is_fields(cls: type[Any]) -> bool:
    """Whether *cls* keeps its fields in an instance dictionary and nothing else there but
    what a copy may share: no slots, no lazily written attributes (``__getattr__``)."""
    return (
        not any(klass.__dict__.get("__slots__") for klass in cls.__mro__)
        and "__dict__" in dir(cls)
        and all(
            klass.__dict__.get("__getattr__") is None
            for klass in cls.__mro__
            if klass is not object
        )
    )


def _slots_are_fields(cls: type[Any], names: list[str]) -> bool:
    """Whether every instance slot of *cls* is a field (so a slot-by-slot copy is whole)."""
    slots = {
        slot
        for klass in cls.__mro__
        for slot in klass.__dict__.get("__slots__", ())
        if slot not in ("__weakref__", "__dict__")
    }
    if any("__dict__" in klass.__dict__ for klass in cls.__mro__):
        return False  # instances carry a dictionary besides their slots
    return slots == set(names) and all(
        isinstance(getattr(cls, name, None), types.MemberDescriptorType) for name in names
    )
