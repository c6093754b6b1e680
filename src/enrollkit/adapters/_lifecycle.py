"""The life of a unit of work, shared by every shipped adapter.

A unit of work is used once: ``new`` until entered, ``open`` inside its
``with`` block, then ``committed`` or ``rolled back``. Leaving the block
without a commit rolls back (ST-1); using it afterwards is our error.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from enrollkit.errors import StorageError

__all__ = ["UnitOfWorkLifecycle"]


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
