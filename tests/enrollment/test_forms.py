"""EN-1 amended: the remaining forms (855O, 20134, 588), who files each, and NPPES types."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.enrollment import (
    FORM_KINDS,
    PROVIDER_TYPES_BY_FORM,
    Application,
    Form,
    Kind,
    NppesRecord,
    ProviderCategory,
    ProviderType,
    compare_with_nppes,
    expected_npi_types,
)
from enrollkit.errors import ValidationError
from enrollkit.npi import NPIType
from tests.conftest import T0
from tests.enrollment.factories import NPI_1, content_855b, content_855i


def start(form: Form, kind: Kind, provider_type: ProviderType | None = None) -> Application:
    return Application.start(
        id="app-1",
        profile_id="prof-1",
        form=form,
        kind=kind,
        created_by="u-prep",
        now=T0,
        provider_type=provider_type,
    )


class TestFormsAndFilers:
    @given(st.sampled_from(Form))
    def test_en_1_every_form_has_kinds_and_filers(self, form: Form) -> None:
        """Each form is filed for at least an initial enrollment (or a reassignment) and by
        at least one provider type; the default filer is the first listed."""
        assert FORM_KINDS[form] & {Kind.INITIAL, Kind.REASSIGNMENT}
        assert PROVIDER_TYPES_BY_FORM[form]
        default = form.default_provider_type
        assert default is None or default is PROVIDER_TYPES_BY_FORM[form][0]

    def test_en_1_855o_is_filed_by_the_practitioner(self) -> None:
        """An 855O enrolls an individual practitioner (ordering, referring, certifying):
        never reassigned, never by an organization."""
        app = start(Form.CMS_855O, Kind.INITIAL)
        assert app.provider_type is ProviderType.INDIVIDUAL_PRACTITIONER
        assert app.form.revalidates and not app.form.is_organizational
        with pytest.raises(ValidationError) as info:
            start(Form.CMS_855O, Kind.INITIAL, ProviderType.PRACTITIONER_GROUP)
        assert info.value.code == "application.provider_type"

    def test_en_1_20134_is_filed_by_an_mdpp_supplier(self) -> None:
        """A CMS-20134 enrolls an MDPP supplier, an organization reporting like other
        suppliers (EN-7)."""
        app = start(Form.CMS_20134, Kind.REVALIDATION)
        assert app.provider_type is ProviderType.MDPP_SUPPLIER
        assert app.form.is_organizational
        assert app.form.default_category is ProviderCategory.INSTITUTIONAL
        assert app.provider_type.category is ProviderCategory.INSTITUTIONAL

    def test_en_1_588_names_its_filer_and_does_not_revalidate(self) -> None:
        """A CMS-588 goes with an enrollment of any provider type, so it must say which; it
        revalidates with that enrollment, not on its own."""
        with pytest.raises(ValidationError) as info:
            start(Form.CMS_588, Kind.INITIAL)
        assert info.value.code == "application.provider_type"
        app = start(Form.CMS_588, Kind.CHANGE_OF_INFORMATION, ProviderType.SUPPLIER)
        assert app.provider_type is ProviderType.SUPPLIER
        assert not Form.CMS_588.revalidates
        with pytest.raises(ValidationError) as refused:
            start(Form.CMS_588, Kind.REVALIDATION, ProviderType.SUPPLIER)
        assert refused.value.code == "application.form_kind"

    def test_en_1_855b_supplier_is_an_institutional_reporter(self) -> None:
        """An 855B filed by a supplier that is not a practitioner group reports like other
        suppliers (EN-7); a practitioner group (the default) like practitioners."""
        assert start(Form.CMS_855B, Kind.INITIAL).provider_type is ProviderType.PRACTITIONER_GROUP
        supplier = start(Form.CMS_855B, Kind.INITIAL, ProviderType.SUPPLIER)
        assert supplier.provider_type.category is ProviderCategory.INSTITUTIONAL

    @given(st.sampled_from(Form), st.sampled_from(Kind))
    def test_en_1_start_accepts_exactly_the_forms_kinds(self, form: Form, kind: Kind) -> None:
        """A draft starts for the kinds its form is filed for and no other (EN-1, EN-12)."""
        filer = PROVIDER_TYPES_BY_FORM[form][0]
        if kind in FORM_KINDS[form]:
            assert start(form, kind, filer).kind is kind
        else:
            with pytest.raises(ValidationError) as info:
                start(form, kind, filer)
            assert info.value.code == "application.form_kind"

    def test_en_1_588_for_an_individual_needs_the_practitioner(self) -> None:
        """A 588 for an individual names the practitioner; for an organization its legal
        name and officials (what its signer slot needs, SG-1)."""
        individual = start(Form.CMS_588, Kind.INITIAL, ProviderType.INDIVIDUAL_PRACTITIONER)
        assert "practitioner" in individual.missing_for_signature()
        organization = start(Form.CMS_588, Kind.INITIAL, ProviderType.PRACTITIONER_GROUP)
        assert {"legal_business_name", "officials"} <= set(organization.missing_for_signature())


class TestNppesTypes:
    @pytest.mark.parametrize(
        ("form", "provider_type", "expected"),
        [
            (Form.CMS_855O, None, {NPIType.INDIVIDUAL}),
            (Form.CMS_20134, None, {NPIType.ORGANIZATION}),
            (Form.CMS_588, ProviderType.INDIVIDUAL_PRACTITIONER, {NPIType.INDIVIDUAL}),
            (Form.CMS_588, ProviderType.DMEPOS_SUPPLIER, {NPIType.ORGANIZATION}),
        ],
    )
    def test_en_6_npi_type_of_the_remaining_forms(
        self, form: Form, provider_type: ProviderType | None, expected: set[NPIType]
    ) -> None:
        """855O enrolls a Type 1 NPI, 20134 a Type 2; a 588 the type of its filer (NPI-3)."""
        assert expected_npi_types(form, provider_type) == expected

    def test_en_6_855o_on_a_type_2_npi_is_a_blocking_mismatch(self) -> None:
        """An 855O compared with a Type 2 NPPES record reports the NPI type, blocking."""
        record = NppesRecord(
            npi=NPI_1,
            legal_business_name="Ana Diaz",
            npi_type=NPIType.ORGANIZATION,
        )
        found = compare_with_nppes(content_855i(), record, form=Form.CMS_855O)
        (mismatch,) = [m for m in found if m.field == "npi_type"]
        assert mismatch.blocking and "CMS-855O" in mismatch.application_value

    def test_en_6_588_follows_its_filer(self) -> None:
        """A 588 by an organization expects a Type 2 NPI: a Type 1 record is a mismatch."""
        record = NppesRecord(
            npi=NPI_1, legal_business_name="Acme Clinic", npi_type=NPIType.INDIVIDUAL
        )
        found = compare_with_nppes(
            content_855b(),
            record,
            form=Form.CMS_588,
            provider_type=ProviderType.PRACTITIONER_GROUP,
        )
        assert any(m.field == "npi_type" for m in found)
