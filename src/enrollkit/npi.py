"""National Provider Identifiers (Rules NPI-1..NPI-4) and the EIN.

>>> from enrollkit import NPI
>>> NPI.parse("1234567893")
NPI('1234567893')
>>> str(NPI.parse(" 1234567893 "))
'1234567893'
>>> NPI.parse("1234567890")
Traceback (most recent call last):
...
enrollkit.npi.InvalidNPI: NPI 1234567890 fails its check digit: the last digit should be 3 (Luhn over 80840 + the first 9 digits, NPI-2). Check the number for a typo.
>>> NPI.check_digit_for("123456789")
3
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Final

import attrs

from enrollkit.errors import ValidationError, clip, excerpt

__all__ = ["EIN", "NPI", "InvalidEIN", "InvalidNPI", "NPIType"]

_NPI_LENGTH: Final = 10
_PREFIX_SUM: Final = 24  # Luhn contribution of the "80840" card-issuer prefix (NPI-2)


class InvalidNPI(ValidationError):
    """An NPI broke NPI-1 or NPI-2; ``code`` says which check failed."""

    default_code = "npi.invalid"


class NPIType(Enum):
    """An NPI's entity type (NPI-3): a fact recorded with the number, never derived from it."""

    INDIVIDUAL = 1  #: Type 1: an individual provider.
    ORGANIZATION = 2  #: Type 2: an organization.

    @property
    def label(self) -> str:
        """A short human label: ``"Type 1 (individual)"``."""
        return f"Type {self.value} ({self.name.lower()})"


def _luhn_check_digit(base9: str) -> int:
    """Check digit for the 9-digit base of an NPI (NPI-2)."""
    total = _PREFIX_SUM
    # From the rightmost base digit, every other digit (starting with it) is doubled.
    for index, char in enumerate(reversed(base9)):
        digit = ord(char) - 48
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


@attrs.frozen(repr=False, order=True, weakref_slot=False)
class NPI:
    """A syntactically valid NPI: 10 ASCII digits, first 1 or 2, Luhn check digit.

    Build one with :meth:`parse`; the constructor validates too, so an invalid
    ``NPI`` cannot exist. The NPI's *type* (individual or organization) is not
    part of the value (NPI-3): it is recorded with the profile that owns it.
    """

    value: str = attrs.field()

    @value.validator
    def _check(self, _attribute: attrs.Attribute[str], value: str) -> None:
        NPI._validate(value)

    @staticmethod
    def _validate(value: object) -> None:
        if not isinstance(value, str):
            raise InvalidNPI(
                "npi.not_text",
                f"An NPI is given as text of 10 digits; got {excerpt(value)}.",
                value=clip(value),
            )
        if len(value) != _NPI_LENGTH:
            raise InvalidNPI(
                "npi.length",
                f"An NPI has exactly 10 digits; {excerpt(value)} has {len(value)} characters "
                "(NPI-1).",
                value=clip(value),
                length=len(value),
            )
        if not (value.isascii() and value.isdigit()):
            bad = next(c for c in value if not ("0" <= c <= "9"))
            raise InvalidNPI(
                "npi.non_digit",
                f"An NPI contains digits only; {excerpt(value)} contains {excerpt(bad)} (NPI-1).",
                value=clip(value),
            )
        if value[0] not in "12":
            raise InvalidNPI(
                "npi.first_digit",
                f"An NPI starts with 1 or 2; {excerpt(value)} starts with {value[0]} (NPI-1).",
                value=clip(value),
            )
        expected = _luhn_check_digit(value[:9])
        if int(value[9]) != expected:
            raise InvalidNPI(
                "npi.check_digit",
                f"NPI {value} fails its check digit: the last digit should be {expected} "
                "(Luhn over 80840 + the first 9 digits, NPI-2). Check the number for a typo.",
                value=value,
                expected_check_digit=expected,
            )

    @classmethod
    def parse(cls, text: object) -> NPI:
        """Parse *text* (surrounding spaces allowed) into an NPI or raise :class:`InvalidNPI`."""
        if isinstance(text, NPI):
            return text
        if isinstance(text, str):
            text = text.strip()
        return cls(text)  # type: ignore[arg-type]  # the constructor validates (NPI-1, NPI-2)

    @classmethod
    def is_valid(cls, text: object) -> bool:
        """Return whether *text* parses as an NPI."""
        try:
            cls.parse(text)
        except InvalidNPI:
            return False
        return True

    @staticmethod
    def check_digit_for(base9: str) -> int:
        """Return the check digit that completes a 9-digit base (NPI-2)."""
        text: object = base9  # a hostile caller may pass anything
        if not isinstance(text, str) or len(text) != 9 or not (text.isascii() and text.isdigit()):
            raise InvalidNPI(
                "npi.base_length",
                f"The base of an NPI is 9 digits; got {excerpt(base9)}.",
                value=clip(base9),
            )
        return _luhn_check_digit(base9)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"NPI({self.value!r})"


class InvalidEIN(ValidationError):
    """An Employer Identification Number is not 9 digits."""

    default_code = "ein.invalid"


_EIN_RE: Final = re.compile(r"^(\d{2})-?(\d{7})$")


def _nine_digits(value: object) -> bool:
    return isinstance(value, str) and len(value) == 9 and value.isascii() and value.isdigit()


@attrs.frozen(repr=False, order=True, weakref_slot=False)
class EIN:
    """An Employer Identification Number, stored as 9 digits, shown as ``12-3456789``.

    Organizations without an NPI (NPI-4) are found by legal name and, when
    known, EIN.

    >>> EIN.parse("12-3456789")
    EIN('12-3456789')
    """

    value: str = attrs.field()

    @value.validator
    def _check(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not _nine_digits(value):
            raise InvalidEIN(
                "ein.format",
                f"An EIN has 9 digits, written 12-3456789; got {excerpt(value)}.",
                value=clip(value),
            )

    @classmethod
    def parse(cls, text: object) -> EIN:
        """Parse ``"12-3456789"`` or ``"123456789"`` into an EIN or raise :class:`InvalidEIN`."""
        if isinstance(text, EIN):
            return text
        match = _EIN_RE.match(text.strip()) if isinstance(text, str) and len(text) < 64 else None
        if match is None:
            raise InvalidEIN(
                "ein.format",
                f"An EIN has 9 digits, written 12-3456789; got {excerpt(text)}.",
                value=clip(text),
            )
        return cls(match.group(1) + match.group(2))

    def __str__(self) -> str:
        return f"{self.value[:2]}-{self.value[2:]}"

    def __repr__(self) -> str:
        return f"EIN({str(self)!r})"
