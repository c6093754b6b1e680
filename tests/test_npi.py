"""NPI-1..NPI-3: the NPI value type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit import NPI, EnrollkitError, InvalidNPI, NPIType
from enrollkit.npi import EIN, InvalidEIN

bases = st.from_regex(r"[12][0-9]{8}", fullmatch=True)


def npi_from(base: str) -> str:
    return base + str(NPI.check_digit_for(base))


class TestNPI:
    def test_npi_2_known_valid_number(self) -> None:
        """The rulebook's example 1234567893 is valid (NPI-2)."""
        assert NPI.parse("1234567893").value == "1234567893"

    @given(bases)
    def test_npi_2_exactly_one_check_digit_validates(self, base: str) -> None:
        """For any 9-digit base starting with 1 or 2, exactly one of the ten digits validates."""
        valid = [d for d in "0123456789" if NPI.is_valid(base + d)]
        assert len(valid) == 1
        assert valid[0] == str(NPI.check_digit_for(base))

    @given(bases, st.integers(0, 9), st.integers(1, 9))
    def test_npi_2_any_single_digit_substitution_is_rejected(
        self, base: str, position: int, shift: int
    ) -> None:
        """Changing any one digit of a valid NPI makes it invalid (Luhn catches it)."""
        valid = npi_from(base)
        digit = (int(valid[position]) + shift) % 10
        mutated = valid[:position] + str(digit) + valid[position + 1 :]
        assert not NPI.is_valid(mutated)

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("123456789", "npi.length"),
            ("12345678933", "npi.length"),
            ("12345678a3", "npi.non_digit"),
            ("１２３４５６７８９３", "npi.non_digit"),
            ("3234567893", "npi.first_digit"),
            ("0234567893", "npi.first_digit"),
            ("1234567890", "npi.check_digit"),
        ],
    )
    def test_npi_1_bad_value_names_the_failed_check(self, text: str, code: str) -> None:
        """A bad NPI says which check failed (NPI-1, NPI-2) with our error, never a bare one."""
        with pytest.raises(InvalidNPI) as info:
            NPI.parse(text)
        assert info.value.code == code
        assert isinstance(info.value, EnrollkitError)
        assert info.value.fields["value"]

    def test_npi_1_not_text_is_our_error(self) -> None:
        """A number given as an int is refused with our error (ER-1)."""
        with pytest.raises(InvalidNPI) as info:
            NPI.parse(1234567893)
        assert info.value.code == "npi.not_text"

    def test_npi_1_constructor_validates_too(self) -> None:
        """An invalid NPI cannot be built by the constructor either."""
        with pytest.raises(InvalidNPI):
            NPI("1234567890")

    def test_npi_parse_strips_spaces(self) -> None:
        """Surrounding spaces from a form field are forgiven."""
        assert NPI.parse(" 1234567893\n") == NPI("1234567893")

    @given(bases)
    def test_npi_3_type_is_not_derived_from_digits(self, base: str) -> None:
        """NPI-3: the value carries no type; either type may be recorded with any NPI."""
        npi = NPI.parse(npi_from(base))
        assert not hasattr(npi, "type")
        assert {NPIType.INDIVIDUAL.value, NPIType.ORGANIZATION.value} == {1, 2}
        assert NPIType(1).label == "Type 1 (individual)"


class TestEIN:
    def test_parse_and_format(self) -> None:
        """An EIN is read with or without its dash and shown with it."""
        assert str(EIN.parse("123456789")) == "12-3456789"
        assert EIN.parse("12-3456789") == EIN("123456789")

    @pytest.mark.parametrize("text", ["12345678", "12-34567890", "ab-cdefghi", 123456789])
    def test_bad_ein_is_our_error(self, text: object) -> None:
        """A malformed EIN gets a clear error with a stable code."""
        with pytest.raises(InvalidEIN) as info:
            EIN.parse(text)
        assert info.value.code == "ein.format"
