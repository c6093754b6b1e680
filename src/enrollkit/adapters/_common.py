"""What every shipped adapter's unit of work shares.

* :class:`UnitOfWorkLifecycle`: a unit of work is used once: ``new`` until
  entered, ``open`` inside its ``with`` block, then ``committed`` or
  ``rolled back``. Leaving the block without a commit rolls back (ST-1);
  using it afterwards is our error.
* :func:`merge_range`: a range query's committed results overlaid with the
  unit's own writes, ordered by key then id, each aggregate once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from enrollkit.errors import StorageError

__all__ = ["UnitOfWorkLifecycle", "merge_range"]

A = TypeVar("A")


class UnitOfWorkLifecycle:
    """``with``-block handling and the open check; subclasses implement :meth:`rollback`."""

    _state: str = "new"

    def __enter__(self) -> Self:
        if self._state != "new":
            raise StorageError(
                "storage.uow_reused", "A unit of work is used once; start a new one."
            )
        self._state = "open"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == "open":
            self.rollback()

    def _check_open(self) -> None:
        if self._state != "open":
            raise StorageError(
                "storage.uow_closed",
                f"This unit of work is {self._state}; use it inside its 'with' block.",
            )

    def rollback(self) -> None:
        """Discard every write and event (each adapter says how)."""
        raise NotImplementedError


def merge_range(
    pairs: list[tuple[str, Any]],
    overlay: Sequence[Any],
    keys_of: Callable[[Any], Iterable[str]],
    start: str | None,
    stop: str | None,
) -> list[A]:
    """Overlay the unit's own writes on committed ``(key, aggregate)`` *pairs* of a range
    ``start <= key < stop``; return the aggregates ordered by key then id, each once
    (under its smallest key)."""
    if overlay:
        written = {obj.id for obj in overlay}
        pairs = [pair for pair in pairs if pair[1].id not in written]
        for obj in overlay:
            pairs.extend(
                (key, obj)
                for key in keys_of(obj)
                if (start is None or key >= start) and (stop is None or key < stop)
            )
        pairs.sort(key=lambda pair: (pair[0], pair[1].id))
    seen: set[str] = set()
    result: list[A] = []
    for _key, obj in pairs:
        if obj.id not in seen:
            seen.add(obj.id)
            result.append(obj)
    return result
