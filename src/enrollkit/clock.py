"""Time as a parameter (DESIGN habit 7).

Nothing in enrollkit calls ``datetime.now()`` except :class:`SystemClock`.
Every datetime the library accepts or returns is timezone-aware UTC; a naive
datetime is refused, because "9:00" without a zone is a deadline bug waiting
to happen.

>>> from datetime import datetime, timedelta, timezone
>>> clock = FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> clock.advance(days=30)
>>> clock.now().isoformat()
'2026-01-31T00:00:00+00:00'
>>> FixedClock(datetime(2026, 1, 1))
Traceback (most recent call last):
...
enrollkit.errors.ValidationError: A datetime must be timezone-aware (UTC); got the naive datetime 2026-01-01T00:00:00. ...
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol, runtime_checkable

from enrollkit.errors import ValidationError

__all__ = ["Clock", "FixedClock", "SystemClock", "days_left", "ensure_utc", "ensure_utc_or_none"]


def ensure_utc(value: datetime, *, field: str = "datetime") -> datetime:
    """Return *value* converted to UTC; refuse a naive datetime with a ValidationError."""
    if type(value) is datetime and value.tzinfo is UTC:  # already UTC: itself
        return value
    if not isinstance(value, datetime):
        raise ValidationError(
            "time.not_datetime",
            f"{field} must be a datetime; got {type(value).__name__}.",
            field=field,
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValidationError(
            "time.naive",
            f"A datetime must be timezone-aware (UTC); got the naive datetime "
            f"{value.isoformat()}. Attach a zone, e.g. value.replace(tzinfo=timezone.utc).",
            field=field,
            value=value.isoformat(),
        )
    return value.astimezone(UTC)


def ensure_utc_or_none(value: datetime | None) -> datetime | None:
    """:func:`ensure_utc` for an optional moment: ``None`` stays ``None``."""
    return None if value is None else ensure_utc(value)


def days_left(due: datetime | date, now: datetime) -> int:
    """Days left until *due*, as every screen shows them (EN-9, PW-12): whole calendar
    days (UTC) from today to the due date; 0 on the due date, negative once it passed.

    One function for the login banner, the agenda and the reports, so two screens never
    disagree [default: UTC calendar days].

    >>> due = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    >>> days_left(due, datetime(2026, 3, 6, 0, 0, tzinfo=UTC)), days_left(due, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    (56, 0)
    """
    today = ensure_utc(now, field="now").date()
    due_day = ensure_utc(due, field="due").date() if isinstance(due, datetime) else due
    return (due_day - today).days


@runtime_checkable
class Clock(Protocol):
    """Where enrollkit reads the current time."""

    def now(self) -> datetime:
        """Return the current time as a timezone-aware UTC datetime."""
        ...


class SystemClock:
    """The real clock: the operating system's current time in UTC."""

    __slots__ = ()

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)  # noqa: TID251 - the one place that reads the OS clock

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that stands still until told to move: for tests, demos and replays."""

    __slots__ = ("_now",)

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start, field="start")

    def now(self) -> datetime:
        """Return the clock's current time."""
        return self._now

    def set(self, value: datetime) -> None:
        """Move the clock to *value* (forwards or backwards)."""
        self._now = ensure_utc(value, field="value")

    def advance(
        self,
        delta: timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> None:
        """Move the clock forward by *delta* and/or the given units; never backwards."""
        step = (delta or timedelta()) + timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        )
        if step < timedelta():
            raise ValidationError(
                "time.backwards",
                "FixedClock.advance only moves forward; use set() to go back in time.",
                step_seconds=step.total_seconds(),
            )
        self._now = self._now + step

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"
