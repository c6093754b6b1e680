"""SG-1 and RO-8: who must sign, and who may."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.access import Decision, Denial, GrantKind, GrantPath, Role
from enrollkit.enrollment import (
    FORM_KINDS,
    PROVIDER_TYPES_BY_FORM,
    Form,
    Kind,
    Official,
    OfficialRole,
    ProviderType,
    ReassignmentParty,
)
from enrollkit.errors import NotPermittedError, ValidationError
from enrollkit.signatures import SignerFacts, eligibility, listed_for, signer_slots

F, K = Form, Kind
IND, RECV = "individual", "receiving_organization"
AO, AO_DO = "authorized_official", "authorized_or_delegated_official"
REFUSED = "refused"

#: SG-1, every form × kind × reassignment flag, naming the slots.
SG_1_TABLE: dict[tuple[Form, Kind, bool], tuple[str, ...] | str] = {}
for _kind in Kind:
    if _kind is K.REASSIGNMENT_TERMINATION:  # EN-12: needs the terminating party
        for _form, _flag in itertools.product(Form, (False, True)):
            SG_1_TABLE[(_form, _kind, _flag)] = REFUSED
        continue
    SG_1_TABLE[(F.CMS_855I, _kind, False)] = (IND, RECV) if _kind is K.REASSIGNMENT else (IND,)
    SG_1_TABLE[(F.CMS_855I, _kind, True)] = (IND, RECV)
    # EN-11 [default]: an 855R is not reactivated on its own (its 855I is)
    SG_1_TABLE[(F.CMS_855R, _kind, False)] = REFUSED if _kind is K.REACTIVATION else (IND, RECV)
    SG_1_TABLE[(F.CMS_855R, _kind, True)] = REFUSED if _kind is K.REACTIVATION else (IND, RECV)
    for _form in (F.CMS_855B, F.CMS_855A, F.CMS_855S, F.CMS_20134):
        for _flag in (False, True):
            SG_1_TABLE[(_form, _kind, _flag)] = (
                REFUSED if _kind is K.REASSIGNMENT else (AO,) if _kind is K.INITIAL else (AO_DO,)
            )
    for _flag in (False, True):  # EN-1 amended: 855O, the practitioner signs; never reassigns
        SG_1_TABLE[(F.CMS_855O, _kind, _flag)] = REFUSED if _kind is K.REASSIGNMENT else (IND,)
        # a CMS-588 is a new EFT authorization or a change to one (FORM_KINDS); the
        # provider type decides its signer (TestEft below): without one, refused
        SG_1_TABLE[(F.CMS_588, _kind, _flag)] = REFUSED


class TestReassignmentTermination:
    @pytest.mark.parametrize(
        ("party", "slot"),
        [(ReassignmentParty.INDIVIDUAL, IND), (ReassignmentParty.ORGANIZATION, RECV)],
    )
    def test_en_12_only_the_terminating_party_signs(
        self, party: ReassignmentParty, slot: str
    ) -> None:
        """Either party may terminate alone; only that party's slot is required."""
        slots = signer_slots(
            F.CMS_855R, K.REASSIGNMENT_TERMINATION, reassignment=True, terminated_by=party
        )
        assert tuple(s.name for s in slots) == (slot,)

    def test_en_12_termination_is_filed_on_855r(self) -> None:
        """A reassignment is terminated on CMS-855R only."""
        with pytest.raises(ValidationError) as info:
            signer_slots(
                F.CMS_855I,
                K.REASSIGNMENT_TERMINATION,
                reassignment=True,
                terminated_by=ReassignmentParty.INDIVIDUAL,
            )
        assert info.value.code == "application.form_kind"


class TestSignerSlots:
    def test_sg_1_table_covers_every_combination(self) -> None:
        """The table names every form × kind × reassignment combination."""
        assert set(SG_1_TABLE) == set(itertools.product(Form, Kind, (False, True)))

    @pytest.mark.parametrize(("form", "kind", "reassignment"), sorted(SG_1_TABLE, key=str))
    def test_sg_1_required_slots(self, form: Form, kind: Kind, reassignment: bool) -> None:
        """signer_slots matches the SG-1 table for this combination."""
        expected = SG_1_TABLE[(form, kind, reassignment)]
        if expected == REFUSED:
            with pytest.raises(ValidationError):
                signer_slots(form, kind, reassignment=reassignment)
            return
        slots = signer_slots(form, kind, reassignment=reassignment)
        assert tuple(s.name for s in slots) == expected

    def test_sg_1_855s_initial_is_ao_only_changes_ao_or_do(self) -> None:
        """855S: AO only for initial; AO or AM/DO for changes."""
        (initial,) = signer_slots(Form.CMS_855S, Kind.INITIAL, reassignment=False)
        (change,) = signer_slots(Form.CMS_855S, Kind.CHANGE_OF_INFORMATION, reassignment=False)
        assert initial.roles == {Role.AUTHORIZED_OFFICIAL}
        assert change.roles == {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER}

    def test_sg_1_no_slot_accepts_seus_or_surrogates(self) -> None:
        """No slot of any combination lists SEU or Surrogate."""
        for (form, kind, flag), expected in SG_1_TABLE.items():
            if expected == REFUSED:
                continue
            for slot in signer_slots(form, kind, reassignment=flag):
                assert not slot.roles & {Role.STAFF_END_USER, Role.SURROGATE}


def allowed(role: Role) -> Decision:
    """Access's RO-8 decision, allowed in *role*."""
    return Decision.allow(
        GrantPath(GrantKind.ASSOCIATION, role, f"holds {role.value}", rule="RO-8")
    )


def denied(code: str) -> Decision:
    """Access's RO-8 decision, denied with *code*."""
    return Decision.deny(
        Denial(code, "not listed", "You are not listed on the record.", (), "RO-8")
    )


class TestEligibility:
    def test_sg_1_allowed_authority_signs_in_its_role(self) -> None:
        """An AO whom access allows (RO-8) signs an AO slot in the AO role."""
        (slot,) = signer_slots(Form.CMS_855B, Kind.INITIAL, reassignment=False)
        facts = SignerFacts("u", authority=allowed(Role.AUTHORIZED_OFFICIAL))
        assert eligibility(slot, facts).require() is Role.AUTHORIZED_OFFICIAL

    def test_ro_8_denied_authority_keeps_access_code_and_reason(self) -> None:
        """When access says no (not listed on the record), the refusal carries its reason."""
        (slot,) = signer_slots(Form.CMS_855B, Kind.REVALIDATION, reassignment=False)
        verdict = eligibility(
            slot, SignerFacts("u", authority=denied("access.not_listed_on_record"))
        )
        assert not verdict.eligible and verdict.code == "access.not_listed_on_record"
        assert "not listed on the record" in verdict.reason
        with pytest.raises(NotPermittedError):
            verdict.require()

    def test_sg_1_a_role_outside_the_slot_never_signs(self) -> None:
        """Even an allowed decision in a role the slot does not list is refused (AM on AO-only)."""
        (initial,) = signer_slots(Form.CMS_855A, Kind.INITIAL, reassignment=False)
        (change,) = signer_slots(Form.CMS_855A, Kind.CHANGE_OF_INFORMATION, reassignment=False)
        facts = SignerFacts("u", authority=allowed(Role.ACCESS_MANAGER))
        assert not eligibility(initial, facts).eligible
        assert eligibility(change, facts).role is Role.ACCESS_MANAGER

    @pytest.mark.parametrize("role", [Role.STAFF_END_USER, Role.SURROGATE])
    def test_sg_1_seus_and_surrogates_never_sign(self, role: Role) -> None:
        """No slot of any form and kind takes an SEU or a Surrogate, whatever the facts."""
        for form, kind in itertools.product(Form, Kind):
            if SG_1_TABLE[(form, kind, False)] == REFUSED:
                continue
            for slot in signer_slots(form, kind, reassignment=False):
                facts = SignerFacts("u", authority=allowed(role))
                assert not eligibility(slot, facts).eligible

    def test_sg_1_only_the_practitioner_signs_the_individual_slot(self) -> None:
        """An AO of the group cannot sign the individual's section."""
        slot = signer_slots(Form.CMS_855R, Kind.REASSIGNMENT, reassignment=True)[0]
        ao = SignerFacts("u", authority=allowed(Role.AUTHORIZED_OFFICIAL))
        assert not eligibility(slot, ao).eligible
        assert eligibility(slot, SignerFacts("u", owns_profile=True)).role is (
            Role.INDIVIDUAL_PROVIDER
        )

    def test_sg_1_listing_the_slot_accepts(self) -> None:
        """An AO-only slot counts only officials listed as AO; AO-or-DO slots count both."""
        officials = (
            Official("Olga", OfficialRole.AUTHORIZED_OFFICIAL, account_id="u-ao"),
            Official("Dan", OfficialRole.DELEGATED_OFFICIAL, account_id="u-do"),
            Official("Nobody", OfficialRole.AUTHORIZED_OFFICIAL),
        )
        (initial,) = signer_slots(Form.CMS_855S, Kind.INITIAL, reassignment=False)
        (change,) = signer_slots(Form.CMS_855S, Kind.REVALIDATION, reassignment=False)
        assert listed_for(initial, officials) == ("u-ao",)
        assert listed_for(change, officials) == ("u-ao", "u-do")


#: Every (form, kind, provider type, terminating party) an application can have (EN-1).
FILED = sorted(
    (
        (form, kind, provider_type, party)
        for form in Form
        for kind in FORM_KINDS[form]
        for provider_type in PROVIDER_TYPES_BY_FORM[form]
        for party in ((*ReassignmentParty,) if kind is K.REASSIGNMENT_TERMINATION else (None,))
    ),
    key=str,
)


class TestRemainingForms:
    @given(st.sampled_from(FILED), st.booleans())
    def test_sg_1_every_form_and_kind_has_slots(
        self,
        filed: tuple[Form, Kind, ProviderType, ReassignmentParty | None],
        reassignment: bool,
    ) -> None:
        """Every form × kind × provider type an application can be filed with has at least one
        slot, none open to SEUs or Surrogates, all with an I&A role (SG-1, EN-1)."""
        form, kind, provider_type, party = filed
        slots = signer_slots(
            form,
            kind,
            reassignment=reassignment,
            terminated_by=party,
            provider_type=provider_type,
        )
        assert slots
        for slot in slots:
            assert slot.roles and not slot.roles & {Role.STAFF_END_USER, Role.SURROGATE}

    @given(st.sampled_from(sorted(FORM_KINDS[Form.CMS_855O], key=str)), st.booleans())
    def test_sg_1_855o_the_practitioner_signs_alone(self, kind: Kind, flag: bool) -> None:
        """CMS-855O (ordering, referring, certifying): the practitioner, and no one else."""
        assert [s.name for s in signer_slots(Form.CMS_855O, kind, reassignment=flag)] == [IND]

    def test_sg_1_20134_initial_by_an_ao_changes_by_an_ao_or_do(self) -> None:
        """CMS-20134 (MDPP): an AO signs an initial enrollment; an AO or DO the rest."""
        (initial,) = signer_slots(Form.CMS_20134, Kind.INITIAL, reassignment=False)
        assert initial.roles == {Role.AUTHORIZED_OFFICIAL}
        assert initial.record_roles == {OfficialRole.AUTHORIZED_OFFICIAL}
        for kind in FORM_KINDS[Form.CMS_20134] - {Kind.INITIAL}:
            (slot,) = signer_slots(Form.CMS_20134, kind, reassignment=False)
            assert slot.name == AO_DO
            assert slot.roles == {Role.AUTHORIZED_OFFICIAL, Role.ACCESS_MANAGER}

    @given(
        st.sampled_from(sorted(FORM_KINDS[Form.CMS_588], key=str)),
        st.sampled_from(ProviderType),
    )
    def test_sg_1_588_practitioner_or_an_ao_or_do(
        self, kind: Kind, provider_type: ProviderType
    ) -> None:
        """CMS-588 (EFT): the practitioner for an individual; an AO or DO of an organization,
        on a new authorization as on a change (SG-1, EN-1 amended)."""
        slots = signer_slots(Form.CMS_588, kind, reassignment=False, provider_type=provider_type)
        expected = AO_DO if provider_type.is_organization else IND
        assert [s.name for s in slots] == [expected]

    def test_en_1_588_must_say_who_files_it(self) -> None:
        """A CMS-588 without a provider type is refused: its signer depends on it."""
        with pytest.raises(ValidationError) as info:
            signer_slots(Form.CMS_588, Kind.INITIAL, reassignment=False)
        assert info.value.code == "application.provider_type"

    @given(st.sampled_from(Form), st.sampled_from(Kind))
    def test_en_1_a_form_is_signed_only_for_its_kinds(self, form: Form, kind: Kind) -> None:
        """Slots exist exactly for the kinds a form is filed for (FORM_KINDS); others are
        refused with application.form_kind (EN-1)."""
        if kind in FORM_KINDS[form]:
            return
        with pytest.raises(ValidationError) as info:
            signer_slots(
                form,
                kind,
                reassignment=False,
                terminated_by=ReassignmentParty.INDIVIDUAL,
                provider_type=PROVIDER_TYPES_BY_FORM[form][0],
            )
        assert info.value.code == "application.form_kind"


class TestFormsTable:
    def test_en_1_the_docs_table_is_rendered_from_the_data(self) -> None:
        """The forms table names every form, the fee only where EN-15 charges one, and
        the enrollment page renders it (SG-1, EN-13, EN-15)."""
        from pathlib import Path

        from enrollkit.signatures import render_forms_table

        table = render_forms_table()
        for form in Form:
            assert f"| {form.value} |" in table
        for line in table.splitlines():
            if line.startswith(("| 855I ", "| 855O ")):
                assert line.endswith("| none |")
        page = Path(__file__).resolve().parents[2] / "docs" / "enrollment.md"
        assert "enrollkit:render enrollkit.signatures:render_forms_table" in page.read_text()
