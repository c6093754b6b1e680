"""EN-6: the application is compared with NPPES after normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.enrollment import (
    Address,
    NppesRecord,
    PracticeLocation,
    compare_with_nppes,
    normalize,
    normalize_address,
)
from tests.enrollment.factories import MAIN_ST, NPI_1, OAK_AVE, content_855b


def record(name: str = "Acme Family Medicine PLLC", *addresses: Address) -> NppesRecord:
    return NppesRecord(NPI_1, name, practice_addresses=addresses or (MAIN_ST,))


class TestNormalisation:
    @pytest.mark.parametrize(
        ("left", "right"),
        [
            ("Acme Family Medicine, P.L.L.C.", "ACME FAMILY MEDICINE PLLC"),
            ("Acme Professional Limited Liability Company", "acme pllc"),
            ("Acme Incorporated", "Acme, Inc."),
            ("12 North Main Street, Suite 4", "12 N Main St Ste 4"),
            ("400 Oak Avenue", "400 oak ave."),
            ("9 Elm Street #200", "9 Elm St Suite 200"),
        ],
    )
    def test_en_6_equivalent_spellings_normalise_alike(self, left: str, right: str) -> None:
        """Case, punctuation and common abbreviations do not count as differences."""
        assert normalize(left) == normalize(right)

    def test_en_6_zip_plus_4_matches_zip(self) -> None:
        """62701-1234 and 62701 are the same ZIP for the comparison."""
        plus4 = Address("12 N Main St", "Springfield", "IL", "62701-1234", line2="Ste 4")
        assert normalize_address(plus4) == normalize_address(MAIN_ST)


class TestComparison:
    def test_en_6_legal_name_changed_in_nppes_but_not_in_pecos(self) -> None:
        """The common case is reported with both names."""
        mismatches = compare_with_nppes(content_855b(), record("Acme Health Partners PLLC"))
        assert len(mismatches) == 1
        mismatch = mismatches[0]
        assert mismatch.field == "legal_business_name"
        assert mismatch.application_value == "Acme Family Medicine PLLC"
        assert mismatch.nppes_value == "Acme Health Partners PLLC"
        assert "Acme Health Partners PLLC" in mismatch.describe()

    def test_en_6_matching_record_reports_nothing(self) -> None:
        """Same facts in different spelling: no mismatch."""
        nppes = record(
            "ACME FAMILY MEDICINE, P.L.L.C.",
            Address("12 N. Main St.", "SPRINGFIELD", "IL", "62701-0001", line2="Ste. 4"),
        )
        assert compare_with_nppes(content_855b(), nppes) == ()

    def test_en_6_unknown_practice_location_is_reported(self) -> None:
        """A practice location NPPES does not list is a mismatch naming both sides."""
        content = content_855b(
            practice_locations=(
                PracticeLocation("Main", MAIN_ST),
                PracticeLocation("Annex", OAK_AVE),
            )
        )
        (mismatch,) = compare_with_nppes(content, record())
        assert mismatch.field == "practice_locations[1]"
        assert mismatch.application_value == OAK_AVE.one_line()
        assert mismatch.nppes_value == MAIN_ST.one_line()

    def test_en_6_mailing_address_is_compared(self) -> None:
        """Different mailing addresses are reported."""
        nppes = NppesRecord(NPI_1, "Acme Family Medicine PLLC", MAIN_ST, (MAIN_ST,))
        (mismatch,) = compare_with_nppes(content_855b(mailing_address=OAK_AVE), nppes)
        assert mismatch.field == "mailing_address"

    def test_en_6_no_nppes_record_is_a_mismatch(self) -> None:
        """An NPI NPPES does not know is reported."""
        (mismatch,) = compare_with_nppes(content_855b(), None)
        assert mismatch.field == "npi"


class TestNormalisationProperties:
    @given(text=st.text(max_size=40))
    def test_en_6_normalize_is_idempotent(self, text: str) -> None:
        """Normalising twice changes nothing."""
        assert normalize(normalize(text)) == normalize(text)

    @given(
        words=st.lists(
            st.sampled_from(["Main", "Street", "Suite", "Acme", "Inc", "North"]), max_size=6
        )
    )
    def test_en_6_case_and_punctuation_never_count(self, words: list[str]) -> None:
        """Upper/lower case and added commas or periods normalise alike."""
        plain = " ".join(words)
        noisy = ", ".join(w.upper() + "." for w in words)
        assert normalize(plain) == normalize(noisy)
