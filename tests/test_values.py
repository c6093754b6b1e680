"""enrollkit.values.replace: the copy a transition or a save makes (ST-2, EN-4, CO-6)."""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.values import replace


def _tags(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen
class Slotted:
    id: str
    tags: frozenset[str] = attrs.field(converter=_tags)
    version: int = 0


@attrs.frozen(slots=False)
class WithDict:
    id: str
    version: int = 0


@attrs.frozen(cache_hash=True)
class CachedHash:
    id: str
    version: int = 0


@given(st.text(), st.frozensets(st.text()), st.integers(), st.integers())
def test_st_2_a_copy_is_what_evolve_builds(
    ident: str, tags: frozenset[str], v: int, w: int
) -> None:
    """For values the class would hold, the slot-by-slot copy equals attrs.evolve's."""
    value = Slotted(ident, tags, v)
    assert replace(value, version=w) == attrs.evolve(value, version=w)
    assert replace(value, version=w).tags is value.tags  # kept, not converted again


def test_st_2_a_copy_that_changes_nothing_is_the_value_itself() -> None:
    value = Slotted("a", frozenset({"x"}))
    assert replace(value, version=0) is value
    assert replace(value, version=1) is not value


def test_st_2_classes_a_slot_copy_cannot_make_whole_go_through_evolve() -> None:
    """A dict class, or one with hidden state (a cached hash), is built by attrs.evolve."""
    assert replace(WithDict("a"), version=3) == WithDict("a", 3)
    copied = replace(CachedHash("a"), version=3)
    assert copied == CachedHash("a", 3)
    assert hash(copied) == hash(CachedHash("a", 3))
