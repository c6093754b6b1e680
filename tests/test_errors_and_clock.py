"""ER-1 (the error family) and the clock's UTC-only rule."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from enrollkit import errors
from enrollkit.clock import FixedClock, SystemClock, ensure_utc


class TestErrors:
    @pytest.mark.parametrize(
        ("cls", "builtin"),
        [
            (errors.ValidationError, ValueError),
            (errors.SerializationError, ValueError),
            (errors.NotFoundError, LookupError),
            (errors.NotPermittedError, PermissionError),
        ],
    )
    def test_er_1_families_subclass_matching_builtins(
        self, cls: type[errors.EnrollkitError], builtin: type[Exception]
    ) -> None:
        """ER-1: each family is an EnrollkitError and, where meaning matches, the builtin."""
        err = cls("x.y", "Something to fix.", detail=1)
        assert isinstance(err, errors.EnrollkitError)
        assert isinstance(err, builtin)
        assert (err.code, str(err), err.fields) == ("x.y", "Something to fix.", {"detail": 1})

    def test_er_1_errors_survive_pickling(self) -> None:
        """Errors cross process boundaries with code, message and fields intact."""
        err = errors.ConflictError("storage.stale", "Reload and retry.", id="c-1")
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is errors.ConflictError
        assert back.to_dict() == err.to_dict()

    def test_er_1_code_is_required(self) -> None:
        """An error without a code is a programming error."""
        with pytest.raises(TypeError):
            errors.EnrollkitError("", "no code")

    def test_every_family_has_a_default_code(self) -> None:
        """Every public family declares a distinct default code."""
        families = [
            getattr(errors, name)
            for name in errors.__all__
            if isinstance(getattr(errors, name), type)
        ]
        codes = [f.default_code for f in families]
        assert len(set(codes)) == len(codes)


class TestClock:
    def test_naive_datetime_is_refused(self) -> None:
        """A naive datetime is refused with a clear error."""
        with pytest.raises(errors.ValidationError) as info:
            FixedClock(datetime(2026, 1, 1))
        assert info.value.code == "time.naive"

    def test_other_zones_are_converted_to_utc(self) -> None:
        """An aware datetime in another zone is converted to UTC."""
        eastern = timezone(timedelta(hours=-5))
        value = ensure_utc(datetime(2026, 1, 1, 7, tzinfo=eastern))
        assert value.utcoffset() == timedelta(0)
        assert value.hour == 12

    def test_fixed_clock_advances_and_refuses_to_go_backwards(self) -> None:
        """advance() moves forward only; set() can go anywhere."""
        clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
        clock.advance(days=1, hours=2)
        assert clock.now() == datetime(2026, 1, 2, 2, tzinfo=UTC)
        with pytest.raises(errors.ValidationError):
            clock.advance(days=-1)
        clock.set(datetime(2025, 1, 1, tzinfo=UTC))
        assert clock.now().year == 2025

    def test_system_clock_is_aware_utc(self) -> None:
        """The system clock returns aware UTC datetimes."""
        assert SystemClock().now().utcoffset() == timedelta(0)

    def test_not_a_datetime_is_refused(self) -> None:
        """ensure_utc refuses non-datetimes with our error."""
        with pytest.raises(errors.ValidationError):
            ensure_utc("2026-01-01")  # type: ignore[arg-type]


class TestMessages:
    @pytest.mark.parametrize(
        ("phrase", "expected"),
        [
            ("Access Manager", "an Access Manager"),
            ("Authorized Official", "an Authorized Official"),
            ("Individual Provider", "an Individual Provider"),
            ("Staff End User", "a Staff End User"),
            ("Surrogate", "a Surrogate"),
            ("EHR", "an EHR"),
            ("NPPES", "an NPPES"),
            ("PECOS", "a PECOS"),
            ("user", "a user"),
            ("one-time code", "a one-time code"),
        ],
    )
    def test_er_1_messages_use_the_right_article(self, phrase: str, expected: str) -> None:
        """Messages composed from labels read as English: an Access Manager, a Surrogate."""
        assert errors.a_or_an(phrase) == expected
