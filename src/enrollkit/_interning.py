"""One shared copy of each id that many aggregates name (memory per stored aggregate).

Thousands of connections name the same surrogate organization and the same
requesting user; each connection built by a use case or decoded from a row
would otherwise hold its own copy of those strings (about 55 bytes each).
:func:`shared` returns the interpreter's one copy (:func:`sys.intern`), so a
million connections of a thousand surrogates hold a thousand surrogate ids.
Values, equality, hashing and encoding are unchanged; an interned string is
freed when nothing refers to it any more. Only ids that other aggregates
name go through it (an aggregate's own unique id would gain nothing).

>>> a, b = "".join(["org-", "1"]), "".join(["org-", "1"])
>>> a is b, shared(a) is shared(b)
(False, True)
>>> shared_or_none(None) is None
True
"""

from __future__ import annotations

import sys

__all__ = ["shared", "shared_or_none"]


def shared(value: str) -> str:
    """The one shared copy of the string *value*; anything else as given."""
    return sys.intern(value) if type(value) is str else value


def shared_or_none(value: str | None) -> str | None:
    """:func:`shared` for an optional id."""
    return sys.intern(value) if type(value) is str else value
