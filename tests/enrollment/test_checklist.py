"""EN-13 (required documents) and EN-15 (the application fee), as data and at sending."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.enrollment import (
    CMS_CHECKLIST,
    FEE_FORMS,
    FEE_KINDS,
    FORM_KINDS,
    PROVIDER_TYPES_BY_FORM,
    Application,
    DocumentKind,
    DocumentRef,
    FeeSchedule,
    Form,
    Kind,
    MediaType,
    PracticeLocation,
    ProviderType,
    Requirements,
    adds_practice_location,
)
from enrollkit.errors import ValidationError
from enrollkit.runtime import Runtime
from tests.conftest import T0
from tests.enrollment.factories import MAIN_ST, OAK_AVE
from tests.enrollment.world import Kit, acme_855b

RULES = Requirements()
FILED = sorted(
    (
        (form, kind, provider_type)
        for form in Form
        for kind in FORM_KINDS[form]
        for provider_type in PROVIDER_TYPES_BY_FORM[form]
    ),
    key=str,
)
PAYING = [f for f in FILED if RULES.fee_for(*f, year=2025) is not None]
PRACTITIONER_FORMS = (Form.CMS_855I, Form.CMS_855O)


def document(kind: DocumentKind | None, n: int = 0) -> DocumentRef:
    return DocumentRef(
        id=f"doc-{n}",
        filename=f"{kind.value if kind else 'scan'}.pdf",
        media_type=MediaType.PDF,
        size=10,
        sha256=f"{n:064x}",
        uploaded_at=T0,
        uploaded_by="u-prep",
        kind=kind,
    )


def application(
    form: Form, kind: Kind, provider_type: ProviderType, *documents: DocumentRef
) -> Application:
    return Application(
        id="app-1",
        profile_id="prof-1",
        form=form,
        kind=kind,
        provider_type=provider_type,
        created_by="u-prep",
        created_at=T0,
        status_changed_at=T0,
        documents=documents,
    )


def checklist_documents(form: Form, kind: Kind, provider_type: ProviderType) -> list[DocumentRef]:
    """One document per checklist line the combination needs (EN-13)."""
    return [
        document(min(r.accepts, key=lambda k: k.value), n)
        for n, r in enumerate(RULES.checklist_for(form, kind, provider_type))
    ]


class TestChecklist:
    @given(st.sampled_from(FILED))
    def test_en_13_missing_documents_are_named(
        self, filed: tuple[Form, Kind, ProviderType]
    ) -> None:
        """Without documents, sending is refused naming every checklist line that applies;
        with one document of each, only the fee (EN-15) can still be missing."""
        required = RULES.checklist_for(*filed)
        bare = application(*filed)
        if required:
            with pytest.raises(ValidationError) as info:
                bare.require_supporting_documents(RULES, year=2025)
            assert info.value.code == "application.missing_documents"
            assert info.value.message.startswith("Missing supporting documents (")
            for line in required:
                assert line.name in info.value.message
        furnished = application(
            *filed, *checklist_documents(*filed), document(DocumentKind.FEE_RECEIPT, 99)
        )
        furnished.require_supporting_documents(RULES, year=2025)

    def test_en_13_seed_irs_letter_for_an_organization(self) -> None:
        """An 855B initial enrollment without the IRS letter (CP-575/147C) is refused."""
        app = application(
            Form.CMS_855B,
            Kind.INITIAL,
            ProviderType.PRACTITIONER_GROUP,
            document(DocumentKind.STATE_LICENSE),
        )
        with pytest.raises(ValidationError) as info:
            app.require_supporting_documents(RULES, year=2026)
        assert info.value.fields["missing"] == ["IRS letter confirming the EIN (CP-575 or 147C)"]

    @pytest.mark.parametrize("provider_type", list(ProviderType))
    def test_en_13_588_needs_a_voided_check_or_bank_letter(
        self, provider_type: ProviderType
    ) -> None:
        """A CMS-588, by any filer, needs a voided check or bank letter; a document of
        another kind (or of no declared kind) does not count."""
        app = application(Form.CMS_588, Kind.INITIAL, provider_type, document(None))
        with pytest.raises(ValidationError) as info:
            app.require_supporting_documents(RULES, year=2026)
        assert info.value.fields["missing"] == ["voided check or bank letter"]
        paid = application(
            Form.CMS_588,
            Kind.INITIAL,
            provider_type,
            document(DocumentKind.VOIDED_CHECK_OR_BANK_LETTER),
        )
        paid.require_supporting_documents(RULES, year=2026)

    def test_en_13_every_line_is_sourced_or_a_default(self) -> None:
        """Each checklist line names its source, and what it accepts is a declared kind."""
        for line in CMS_CHECKLIST:
            assert line.source and line.accepts and line.forms and line.kinds

    def test_en_13_a_host_checklist_replaces_the_default(self) -> None:
        """The checklist is data: a host's own list is what is checked."""
        app = application(Form.CMS_855B, Kind.INITIAL, ProviderType.PRACTITIONER_GROUP)
        app.require_supporting_documents(Requirements(checklist=()), year=2026)


class TestApplicationFee:
    @given(st.sampled_from(PAYING), st.integers(2021, 2100), st.booleans())
    def test_en_15_fee_payers_need_a_receipt_or_hardship_request(
        self, filed: tuple[Form, Kind, ProviderType], year: int, hardship: bool
    ) -> None:
        """Every fee-paying combination is refused without a receipt or a hardship exception
        request, naming the amount due, and accepted with either (42 CFR 424.514)."""
        documents = checklist_documents(*filed)
        with pytest.raises(ValidationError) as info:
            application(*filed, *documents).require_supporting_documents(RULES, year=year)
        fee = RULES.fees.amount(year)
        assert info.value.fields["fee_amount"] == str(fee.amount)
        assert "hardship exception request" in info.value.message and "EN-15" in info.value.message
        kind = DocumentKind.HARDSHIP_EXCEPTION_REQUEST if hardship else DocumentKind.FEE_RECEIPT
        application(*filed, *documents, document(kind, 99)).require_supporting_documents(
            RULES, year=year
        )

    @given(st.sampled_from(FILED), st.integers(2021, 2100), st.booleans())
    def test_en_15_who_pays(
        self, filed: tuple[Form, Kind, ProviderType], year: int, new_location: bool
    ) -> None:
        """855A, 855S, 20134 and an 855B supplier pay on initial enrollment, revalidation and
        a new practice location; 855I and 855O (and practitioner groups, 855R, 588) never."""
        form, kind, provider_type = filed
        fee = RULES.fee_for(form, kind, provider_type, year=year, new_location=new_location)
        pays = provider_type in FEE_FORMS.get(form, frozenset()) and (
            kind in FEE_KINDS or (kind is Kind.CHANGE_OF_INFORMATION and new_location)
        )
        assert (fee is not None) is pays
        if form in PRACTITIONER_FORMS or provider_type is ProviderType.PRACTITIONER_GROUP:
            assert fee is None

    @given(
        st.sampled_from([f for f in FILED if f[0] in PRACTITIONER_FORMS]), st.integers(2021, 2100)
    )
    def test_en_15_855i_and_855o_never_need_a_receipt(
        self, filed: tuple[Form, Kind, ProviderType], year: int
    ) -> None:
        """A practitioner's 855I or 855O with its checklist goes out with no fee document."""
        application(*filed, *checklist_documents(*filed)).require_supporting_documents(
            RULES, year=year, new_location=True
        )

    def test_en_15_amounts_per_calendar_year(self) -> None:
        """[default] CMS's amounts as shipped: 2024 $709, 2025 $730; 2026 takes the last
        known amount, marked estimated, until the host adds CMS's figure."""
        fees = FeeSchedule()
        assert fees.amount(2024).amount == Decimal("709")
        assert fees.amount(2025).amount == Decimal("730") and not fees.amount(2025).estimated
        assert fees.amount(2026).amount == Decimal("730") and fees.amount(2026).estimated
        updated = FeeSchedule({**fees.amounts, 2026: Decimal("750")})
        assert updated.amount(2026).amount == Decimal("750") and not updated.amount(2026).estimated
        with pytest.raises(ValidationError) as info:
            fees.amount(2000)
        assert info.value.code == "fee.unknown_year"
        with pytest.raises(ValidationError):
            FeeSchedule({2025: Decimal("0")})

    def test_en_15_a_new_practice_location_is_one_not_approved_before(self) -> None:
        """A change pays when it names a location the approved enrollment lacks (addresses
        compared after normalisation); with none approved known, [default] it does not."""
        main = PracticeLocation("Main", MAIN_ST)
        oak = PracticeLocation("Oak", OAK_AVE)
        assert adds_practice_location((main, oak), (main,))
        assert not adds_practice_location((main,), (main, oak))
        assert not adds_practice_location((main, oak), None)


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return Kit(runtime)


def _acme_855b(kit: Kit, kind: Kind, provider_type: ProviderType | None = None) -> Application:
    """Acme's 855B of *kind*, created by its AO (``u-ao``)."""
    return kit.enrollment.create(
        actor=kit.actor("u-ao"),
        profile_id="prof-acme",
        form=Form.CMS_855B,
        kind=kind,
        provider_type=provider_type,
        content=acme_855b(),
    )


class TestSendingChecksThem:
    def test_en_13_sending_names_what_is_missing_and_signs_nothing(self, kit: Kit) -> None:
        """The AO's 855B initial enrollment without its documents is refused before anyone
        is asked to sign; once attached (by kind), it goes out."""
        ao = kit.actor("u-ao")
        app = _acme_855b(kit, Kind.INITIAL)
        with pytest.raises(ValidationError) as info:
            kit.signatures.send_for_signature(app.id, actor=ao)
        assert info.value.code == "application.missing_documents"
        assert "IRS letter" in info.value.message and "state license" in info.value.message
        assert kit.signatures.sheet(app.id).requests == ()
        status = kit.enrollment.requirements_of(app.id, actor=ao)
        assert not status.complete and status.fee is None
        kit.attach_required(app.id, actor=ao)
        assert kit.enrollment.requirements_of(app.id, actor=ao).complete
        assert kit.signatures.send_for_signature(app.id, actor=ao).status.value == (
            "pending_signatures"
        )

    def test_en_15_an_855b_supplier_pays_this_years_fee(self, kit: Kit) -> None:
        """An 855B filed by a supplier that is not a practitioner group owes the fee of the
        current calendar year (2026: [default] the 2025 amount) until a receipt is attached."""
        ao = kit.actor("u-ao")
        app = _acme_855b(kit, Kind.REVALIDATION, ProviderType.SUPPLIER)
        status = kit.enrollment.requirements_of(app.id, actor=ao)
        assert status.fee is not None and status.fee.year == T0.year == 2026
        assert status.fee.amount == Decimal("730") and not status.fee_covered
        for line in status.required:
            kit.enrollment.attach_document(
                app.id,
                actor=ao,
                filename="doc.pdf",
                data=b"%PDF-1.7 " + line.name.encode(),
                kind=min(line.accepts, key=lambda k: k.value),
            )
        with pytest.raises(ValidationError) as info:
            kit.signatures.send_for_signature(app.id, actor=ao)
        assert info.value.fields["fee_year"] == 2026
        kit.enrollment.attach_document(
            app.id,
            actor=ao,
            filename="hardship.pdf",
            data=b"%PDF-1.7 hardship",
            kind=DocumentKind.HARDSHIP_EXCEPTION_REQUEST,
        )
        assert kit.signatures.send_for_signature(app.id, actor=ao).status.value == (
            "pending_signatures"
        )

    def test_en_13_revising_keeps_the_checklist(self, kit: Kit) -> None:
        """A revision that detaches a required document is refused (EN-13, SG-5)."""
        ao = kit.actor("u-ao")
        app = _acme_855b(kit, Kind.INITIAL)
        sent = kit.send(app.id, actor=ao)
        irs = next(d for d in sent.documents if d.kind is DocumentKind.IRS_EIN_LETTER)
        with pytest.raises(ValidationError) as info:
            kit.signatures.revise(app.id, actor=ao, detach=[irs.id])
        assert info.value.code == "application.missing_documents"
        revised = kit.signatures.revise(
            app.id,
            actor=ao,
            detach=[irs.id],
            attach=[("147c.pdf", b"%PDF-1.7 147C", DocumentKind.IRS_EIN_LETTER)],
        )
        assert revised.current_revision is not None and revised.current_revision.number == 2
