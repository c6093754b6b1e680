"""EN-6 (amended): the application is compared with NPPES after normalisation."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.enrollment import (
    NPI_TYPES_BY_FORM,
    Address,
    Form,
    NppesRecord,
    PracticeLocation,
    compare_with_nppes,
    normalize,
    normalize_address,
)
from enrollkit.npi import NPIType
from tests.enrollment.factories import MAIN_ST, NPI_1, OAK_AVE, content_855b, content_855i

ELM_ST = Address("9 Elm Street", "Springfield", "IL", "62703")


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
        """The common case is reported with both names, and it blocks."""
        mismatches = compare_with_nppes(content_855b(), record("Acme Health Partners PLLC"))
        assert len(mismatches) == 1
        mismatch = mismatches[0]
        assert mismatch.field == "legal_name"
        assert mismatch.blocking
        assert mismatch.application_value == "Acme Family Medicine PLLC"
        assert mismatch.nppes_value == "Acme Health Partners PLLC"
        assert "Acme Health Partners PLLC" in mismatch.describe()

    def test_en_6_matching_record_reports_nothing(self) -> None:
        """Same facts in different spelling: no mismatch."""
        nppes = record(
            "ACME FAMILY MEDICINE, P.L.L.C.",
            Address("12 N. Main St.", "SPRINGFIELD", "IL", "62701-0001", line2="Ste. 4"),
        )
        assert compare_with_nppes(content_855b(), nppes, form=Form.CMS_855B) == ()

    def test_en_6_other_locations_missing_from_nppes_are_information(self) -> None:
        """NPPES lists one primary location: a second PECOS location it lacks is reported
        as information, never as a blocker (EN-6 amended)."""
        content = content_855b(
            practice_locations=(
                PracticeLocation("Main", MAIN_ST),
                PracticeLocation("Annex", OAK_AVE),
            )
        )
        (mismatch,) = compare_with_nppes(content, record())
        assert mismatch.field == "practice_locations[1]"
        assert not mismatch.blocking
        assert mismatch.application_value == OAK_AVE.one_line()
        assert mismatch.nppes_value == MAIN_ST.one_line()

    def test_en_6_primary_practice_location_blocks(self) -> None:
        """The application's first location must be NPPES's primary one."""
        content = content_855b(practice_locations=(PracticeLocation("Annex", OAK_AVE),))
        (mismatch,) = compare_with_nppes(content, record())
        assert (mismatch.field, mismatch.blocking) == ("primary_practice_location", True)
        assert mismatch.nppes_value == MAIN_ST.one_line()

    def test_en_6_secondary_nppes_location_is_not_the_primary(self) -> None:
        """A PECOS primary that NPPES lists only as a secondary location still blocks."""
        content = content_855b(practice_locations=(PracticeLocation("Annex", OAK_AVE),))
        (mismatch,) = compare_with_nppes(
            content, record("Acme Family Medicine PLLC", MAIN_ST, OAK_AVE)
        )
        assert mismatch.field == "primary_practice_location"

    def test_en_6_mailing_address_is_information(self) -> None:
        """Different mailing addresses are reported, without blocking."""
        nppes = NppesRecord(NPI_1, "Acme Family Medicine PLLC", MAIN_ST, (MAIN_ST,))
        (mismatch,) = compare_with_nppes(content_855b(mailing_address=OAK_AVE), nppes)
        assert (mismatch.field, mismatch.blocking) == ("mailing_address", False)

    def test_en_6_no_nppes_record_is_a_mismatch(self) -> None:
        """An NPI NPPES does not know is reported, and blocks."""
        (mismatch,) = compare_with_nppes(content_855b(), None)
        assert (mismatch.field, mismatch.blocking) == ("npi", True)

    def test_en_6_individual_name_is_compared_with_first_and_last_name(self) -> None:
        """NPPES keeps a Type 1 NPI's first and last name apart: they are what is compared,
        never a business-name field."""
        same = NppesRecord(
            NPI_1,
            first_name="ANA",
            last_name="DIAZ",
            practice_addresses=(MAIN_ST,),
            npi_type=NPIType.INDIVIDUAL,
        )
        assert compare_with_nppes(content_855i(), same, form=Form.CMS_855I) == ()
        renamed = attrs.evolve(same, last_name="Diaz-Moreno")
        (mismatch,) = compare_with_nppes(content_855i(), renamed, form=Form.CMS_855I)
        assert (mismatch.field, mismatch.application_value, mismatch.nppes_value) == (
            "legal_name",
            "Ana Diaz",
            "ANA Diaz-Moreno",
        )

    @pytest.mark.parametrize(
        ("form", "npi_type", "blocks"),
        [
            (Form.CMS_855I, NPIType.INDIVIDUAL, False),
            (Form.CMS_855I, NPIType.ORGANIZATION, True),
            (Form.CMS_855R, NPIType.ORGANIZATION, True),
            (Form.CMS_855B, NPIType.INDIVIDUAL, True),
            (Form.CMS_855A, NPIType.ORGANIZATION, False),
            (Form.CMS_855S, NPIType.INDIVIDUAL, False),
            (Form.CMS_855S, NPIType.ORGANIZATION, False),
        ],
    )
    def test_en_6_npi_type_matches_the_form(
        self, form: Form, npi_type: NPIType, blocks: bool
    ) -> None:
        """Type 1 for an individual's form, Type 2 for an organization's; [default] an 855S
        may be either."""
        nppes = attrs.evolve(record(), npi_type=npi_type)
        fields = {m.field for m in compare_with_nppes(content_855b(), nppes, form=form)}
        assert ("npi_type" in fields) is blocks
        assert NPI_TYPES_BY_FORM[form]

    def test_en_6_a_deactivated_npi_blocks(self) -> None:
        """NPPES shows the NPI deactivated: it cannot be enrolled."""
        nppes = attrs.evolve(record(), active=False)
        (mismatch,) = compare_with_nppes(content_855b(), nppes, form=Form.CMS_855B)
        assert (mismatch.field, mismatch.nppes_value, mismatch.blocking) == (
            "npi_status",
            "deactivated",
            True,
        )

    @given(st.lists(st.sampled_from([MAIN_ST, OAK_AVE, ELM_ST]), max_size=5))
    def test_en_6_only_the_primary_location_can_block(self, extra: list[Address]) -> None:
        """Whatever further locations the application lists, none of them blocks."""
        content = content_855b(
            practice_locations=(
                PracticeLocation("Main", MAIN_ST),
                *(PracticeLocation(f"L{i}", a) for i, a in enumerate(extra)),
            )
        )
        found = compare_with_nppes(content, record(), form=Form.CMS_855B)
        assert all(not m.blocking for m in found)
        assert {m.field for m in found} == {
            f"practice_locations[{i + 1}]" for i, a in enumerate(extra) if a is not MAIN_ST
        }


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
