"""EN-2..EN-6 use cases: who prepares, documents, NPPES gate, MAC transitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import attrs
import pytest

from enrollkit.access import System
from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    Agenda,
    Application,
    ApplicationContent,
    ApplicationStatus,
    ChangeKind,
    Form,
    Kind,
    MediaType,
    NppesRecord,
    PracticeLocation,
    ProviderCategory,
)
from enrollkit.errors import (
    ExpiredError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.npi import NPIType
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime
from enrollkit.signatures import agenda_sources
from tests.enrollment.factories import MAIN_ST, OAK_AVE
from tests.enrollment.world import NPI_ACME, NPI_ANA, Kit, acme_855b, ana_855i

PDF = b"%PDF-1.4\n%%EOF\n"
_CHANGE = Kind.CHANGE_OF_INFORMATION
#: NPPES after Acme renamed itself there, but not in PECOS.
RENAMED = NppesRecord(NPI_ACME, "Acme Health Partners PLLC", practice_addresses=(MAIN_ST,))


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return Kit(runtime)


class TestPreparing:
    @pytest.mark.parametrize("user", ["u-ao", "u-do", "u-seu", "u-cred"])
    def test_en_2_anyone_with_pecos_access_prepares(self, kit: Kit, user: str) -> None:
        """AO, AM, SEU and a connected surrogate may all prepare Acme's application."""
        app = kit.enrollment.create(
            actor=kit.actor(user), profile_id="prof-acme", form=Form.CMS_855B, kind=Kind.INITIAL
        )
        assert app.status is ApplicationStatus.DRAFT and app.created_by == user
        assert kit.events(app.id) == ["application.created"]

    def test_en_2_without_access_is_refused_with_the_explanation(self, kit: Kit) -> None:
        """A stranger is refused with access's denial, and nothing is stored."""
        stranger = kit.actor("u-stranger")
        before = kit.runtime.storage.audit.entries()
        with pytest.raises(NotPermittedError) as info:
            kit.enrollment.create(
                actor=stranger,
                profile_id="prof-acme",
                form=Form.CMS_855B,
                kind=Kind.INITIAL,
            )
        assert info.value.fields["missing"]
        assert kit.runtime.storage.audit.entries() == before

    def test_en_2_editing_needs_access_too(self, kit: Kit) -> None:
        """Dr Diaz may not edit Acme's application."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"), profile_id="prof-acme", form=Form.CMS_855B, kind=Kind.INITIAL
        )
        with pytest.raises(NotPermittedError):
            kit.enrollment.edit(app.id, actor=kit.actor("u-ana"), content=acme_855b())
        edited = kit.enrollment.edit(app.id, actor=kit.actor("u-seu"), content=acme_855b())
        assert edited.content == acme_855b()

    def test_en_2_an_application_names_its_own_profiles_npi(self, kit: Kit) -> None:
        """Access to Dr Diaz's own profile files nothing for Acme: an application under
        prof-ana naming Acme's NPI is refused when created, edited or sent, and nothing
        is stored."""
        ana = kit.actor("u-ana")

        def change_for_ana(content: ApplicationContent | None = None) -> Application:
            return kit.enrollment.create(
                actor=ana, profile_id="prof-ana", form=Form.CMS_855I, kind=_CHANGE, content=content
            )

        before = kit.runtime.storage.audit.entries()
        with pytest.raises(ValidationError) as created:
            change_for_ana(acme_855b())
        assert created.value.code == "application.npi_not_profile"
        assert kit.runtime.storage.audit.entries() == before
        draft = change_for_ana()
        with pytest.raises(ValidationError) as edited:
            kit.enrollment.edit(draft.id, actor=ana, content=ana_855i(npi=NPI_ACME))
        assert edited.value.code == "application.npi_not_profile"
        assert kit.enrollment.get(draft.id).content == draft.content
        own = kit.enrollment.edit(draft.id, actor=ana, content=ana_855i())
        assert own.content.npi == NPI_ANA

    def test_en_5_attached_documents_are_sniffed_and_stored(self, kit: Kit) -> None:
        """A PDF named .tiff is attached as a PDF; its bytes are in the store."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"), profile_id="prof-acme", form=Form.CMS_855B, kind=Kind.INITIAL
        )
        ref = kit.enrollment.attach_document(
            app.id, actor=kit.actor("u-ao"), filename="scan.tiff", data=PDF
        )
        assert ref.media_type is MediaType.PDF
        assert kit.documents.get(ref.sha256) == PDF
        assert kit.enrollment.get(app.id).documents == (ref,)
        with pytest.raises(ValidationError):
            kit.enrollment.attach_document(
                app.id, actor=kit.actor("u-ao"), filename="x.pdf", data=b"text"
            )
        detached = kit.enrollment.detach_document(
            app.id, actor=kit.actor("u-ao"), document_id=ref.id
        )
        assert detached.documents == ()


class TestNppesGate:
    def _draft(self, kit: Kit) -> str:
        return kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(),
        ).id

    def test_en_6_mismatch_blocks_sending(self, kit: Kit) -> None:
        """NPPES changed the legal name: sending is refused with both names."""
        kit.nppes.put(RENAMED)
        app_id = self._draft(kit)
        (mismatch,) = kit.enrollment.check_nppes(app_id, actor=kit.actor("u-ao"))
        assert (mismatch.application_value, mismatch.nppes_value) == (
            "Acme Family Medicine PLLC",
            "Acme Health Partners PLLC",
        )
        with pytest.raises(ValidationError) as info:
            kit.send(app_id, actor=kit.actor("u-ao"))
        assert info.value.code == "application.nppes_mismatch"
        assert info.value.fields["mismatches"][0]["nppes"] == "Acme Health Partners PLLC"

    def test_en_6_acknowledged_mismatch_allows_sending_and_is_recorded(self, kit: Kit) -> None:
        """The preparer acknowledges; the event records who, and sending proceeds."""
        kit.nppes.put(RENAMED)
        app_id = self._draft(kit)
        kit.enrollment.acknowledge_nppes(app_id, actor=kit.actor("u-ao"))
        ack = kit.enrollment.get(app_id).nppes_acknowledgement
        assert ack is not None and ack.by == "u-ao"
        sent = kit.send(app_id, actor=kit.actor("u-ao"))
        assert sent.status is ApplicationStatus.PENDING_SIGNATURES
        assert "application.nppes_acknowledged" in kit.events(app_id)

    def test_en_6_only_the_preparer_acknowledges(self, kit: Kit) -> None:
        """Another user with access cannot acknowledge for the preparer."""
        kit.nppes.put(RENAMED)
        app_id = self._draft(kit)
        with pytest.raises(NotPermittedError):
            kit.enrollment.acknowledge_nppes(app_id, actor=kit.actor("u-seu"))

    def test_en_6_a_new_mismatch_needs_a_new_acknowledgement(self, kit: Kit) -> None:
        """An acknowledgement covers the mismatches it saw, not later ones."""
        kit.nppes.put(RENAMED)
        app_id = self._draft(kit)
        kit.enrollment.acknowledge_nppes(app_id, actor=kit.actor("u-ao"))
        kit.enrollment.edit(
            app_id, actor=kit.actor("u-ao"), content=acme_855b(legal_business_name="Acme X")
        )
        with pytest.raises(ValidationError):
            kit.send(app_id, actor=kit.actor("u-ao"))

    def test_en_6_information_never_blocks_sending(self, kit: Kit) -> None:
        """EN-6 amended: a second practice location NPPES does not list and another mailing
        address are reported by the check, and sending proceeds without acknowledging."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(
                practice_locations=(
                    PracticeLocation("Main office", MAIN_ST),
                    PracticeLocation("Annex", OAK_AVE),
                ),
                mailing_address=OAK_AVE,
            ),
        )
        kit.nppes.put(
            attrs.evolve(
                RENAMED, legal_business_name="Acme Family Medicine PLLC", mailing_address=MAIN_ST
            )
        )
        found = kit.enrollment.check_nppes(app.id, actor=kit.actor("u-ao"))
        assert [(m.field, m.blocking) for m in found] == [
            ("practice_locations[1]", False),
            ("mailing_address", False),
        ]
        with pytest.raises(ValidationError) as info:
            kit.enrollment.acknowledge_nppes(app.id, actor=kit.actor("u-ao"))
        assert info.value.code == "nppes.nothing_to_acknowledge"
        sent = kit.send(app.id, actor=kit.actor("u-ao"))
        assert sent.status is ApplicationStatus.PENDING_SIGNATURES

    def test_en_6_a_type_2_npi_on_an_855i_blocks(self, kit: Kit) -> None:
        """The NPI's type is checked against the form: an 855I needs a Type 1 NPI."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ana"),
            profile_id="prof-ana",
            form=Form.CMS_855I,
            kind=Kind.INITIAL,
            content=ana_855i(),
        )
        record = kit.nppes.lookup(NPI_ANA)
        assert record is not None
        kit.nppes.put(attrs.evolve(record, npi_type=NPIType.ORGANIZATION))
        with pytest.raises(ValidationError) as info:
            kit.send(app.id, actor=kit.actor("u-ana"))
        assert [m["field"] for m in info.value.fields["mismatches"]] == ["npi_type"]


class TestMacSide:
    def _submitted(self, kit: Kit) -> str:
        app = kit.enrollment.create(
            actor=kit.actor("u-ana"),
            profile_id="prof-ana",
            form=Form.CMS_855I,
            kind=Kind.INITIAL,
            content=ana_855i(),
        )
        kit.send(app.id, actor=kit.actor("u-ana"))
        from enrollkit.signatures import Attestation

        kit.signatures.sign_electronically(
            app.id,
            actor=kit.actor("u-ana"),
            digest=kit.digest(app.id),
            slot="individual",
            confirmed_email="ana@example.org",
            attestations=set(Attestation),
        )
        return app.id

    def test_ac_8_mac_use_cases_accept_only_a_mac_principal(self, kit: Kit) -> None:
        """MAC use cases refuse account and help-desk principals; nothing changes."""
        app_id = self._submitted(kit)
        steps: list[Callable[[Principal], object]] = [
            lambda p: kit.enrollment.start_review(app_id, actor=p),
            lambda p: kit.enrollment.request_development(app_id, actor=p, reason="Add license"),
            lambda p: kit.enrollment.approve(app_id, actor=p, ptan="P1"),
            lambda p: kit.enrollment.deny(app_id, actor=p, reason="Not eligible"),
        ]
        events = kit.events(app_id)
        for step in steps:
            for principal in (kit.actor("u-ana"), kit.actor("u-ao"), kit.actors.help_desk()):
                with pytest.raises(NotPermittedError) as info:
                    step(principal)
                assert info.value.code == "principal.kind"
                assert info.value.fields["allowed"] == ["mac"]
        assert kit.events(app_id) == events
        assert kit.enrollment.get(app_id).status is ApplicationStatus.SUBMITTED
        reviewed = kit.enrollment.start_review(app_id, actor=kit.mac())
        assert reviewed.status is ApplicationStatus.IN_REVIEW
        assert kit.runtime.storage.audit.for_subject(app_id)[-1].event.actor == "mac:mac"

    def test_en_4_review_development_and_approval(
        self, kit: Kit, clock: FixedClock, notifier: InMemoryNotifier
    ) -> None:
        """Submitted → in review → development requested (preparer told) → … → approved."""
        app_id = self._submitted(kit)
        kit.enrollment.start_review(app_id, actor=kit.mac())
        app = kit.enrollment.request_development(app_id, actor=kit.mac(), reason="Add license")
        assert app.development_due() == clock.now() + timedelta(days=30)
        sent = notifier.last("u-ana", "application.development_requested")
        assert sent is not None and sent.fields["reason"] == "Add license"
        with pytest.raises(InvalidTransitionError):
            kit.enrollment.approve(app_id, actor=kit.mac(), ptan="P1")

    def test_en_4_missed_response_deadline_reads_rejected(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """Day 30 after the request, the application reads rejected and edits expire."""
        app_id = self._submitted(kit)
        kit.enrollment.start_review(app_id, actor=kit.mac())
        kit.enrollment.request_development(app_id, actor=kit.mac(), reason="Add license")
        clock.advance(days=30)
        assert kit.enrollment.get(app_id).status_at(clock.now()) is ApplicationStatus.REJECTED
        with pytest.raises(ExpiredError):
            kit.enrollment.edit(app_id, actor=kit.actor("u-ana"), content=ana_855i())

    def test_en_7_mac_extends_a_development_request(self, kit: Kit, clock: FixedClock) -> None:
        """The MAC moves the due date later; who, when and the date replaced are recorded,
        and the application is not rejected on the original date."""
        app_id = self._submitted(kit)
        kit.enrollment.start_review(app_id, actor=kit.mac())
        asked = kit.enrollment.request_development(app_id, actor=kit.mac(), reason="License")
        original = asked.development_due()
        assert original is not None
        clock.advance(days=20)
        with pytest.raises(NotPermittedError):
            kit.enrollment.extend_development(
                app_id, actor=kit.actor("u-ana"), due_at=original + timedelta(days=14)
            )
        with pytest.raises(ValidationError) as info:
            kit.enrollment.extend_development(
                app_id, actor=kit.mac(), due_at=original - timedelta(days=1)
            )
        assert info.value.code == "application.extension_not_later"
        app = kit.enrollment.extend_development(
            app_id, actor=kit.mac(), due_at=original + timedelta(days=14), reason="Asked for"
        )
        assert app.development is not None
        (extension,) = app.development.extensions
        assert (extension.by, extension.at, extension.previous_due_at) == (
            "mac:mac",
            clock.now(),
            original,
        )
        assert app.development.original_due_at == original
        assert app.development_due() == original + timedelta(days=14)
        clock.advance(days=12)  # past the original date, before the extended one
        assert kit.enrollment.get(app_id).status_at(clock.now()) is (
            ApplicationStatus.DEVELOPMENT_REQUESTED
        )
        assert kit.events(app_id)[-1] == "application.development_extended"
        clock.advance(days=12)  # past the extended date: rejected, nothing left to extend
        with pytest.raises(ExpiredError):
            kit.enrollment.extend_development(
                app_id, actor=kit.mac(), due_at=clock.now() + timedelta(days=5)
            )

    def test_en_8_approval_keeps_ptan_and_medicare_id(self, kit: Kit) -> None:
        """The approval stores PTAN, Medicare ID and effective date for the reports."""
        app_id = self._submitted(kit)
        kit.enrollment.start_review(app_id, actor=kit.mac())
        app = kit.enrollment.approve(
            app_id,
            actor=kit.mac(),
            ptan="PT123",
            medicare_id="MC456",
            effective_date=date(2026, 2, 1),
        )
        assert app.decision is not None and app.decision.ptan == "PT123"
        assert kit.events(app_id)[-1] == "application.approved"

    def test_en_4_withdraw_and_then_nothing(self, kit: Kit) -> None:
        """A withdrawn application cannot be sent (one withdraw, on the signature
        service, for every status)."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ana"),
            profile_id="prof-ana",
            form=Form.CMS_855I,
            kind=Kind.INITIAL,
            content=ana_855i(),
        )
        kit.signatures.withdraw(app.id, actor=kit.actor("u-ana"))
        with pytest.raises(InvalidTransitionError):
            kit.send(app.id, actor=kit.actor("u-ana"))


class TestChanges:
    def test_en_7_category_sets_the_window(self, kit: Kit, clock: FixedClock) -> None:
        """An 855B supplier that is not a practitioner group reports an AO change in 30 days,
        a practitioner group in 90 (42 CFR 424.516)."""
        on = clock.now().date()
        group = kit.enrollment.record_change(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            change=ChangeKind.OFFICIALS,
            occurred_on=on,
            description="New AO",
        )
        supplier = kit.enrollment.record_change(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            change=ChangeKind.OFFICIALS,
            occurred_on=on,
            description="New AO",
            category=ProviderCategory.INSTITUTIONAL,
        )
        assert group.category is ProviderCategory.PRACTITIONER
        policy = kit.enrollment.deadlines
        assert (group.due(policy) - on, supplier.due(policy) - on) == (
            timedelta(days=90),
            timedelta(days=30),
        )
        assert group.counterpart_id is None  # an AO change is PECOS-only

    def test_en_14_a_pecos_rename_creates_an_nppes_to_do(self, kit: Kit, clock: FixedClock) -> None:
        """Recording a legal-name change in PECOS records the same change for NPPES, linked
        both ways, due in 30 days; it is met once the NPPES record shows the new name."""
        agenda = Agenda(kit.runtime, sources=agenda_sources(nppes=kit.nppes))
        pecos = kit.enrollment.record_change(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            change=ChangeKind.LEGAL_NAME,
            occurred_on=clock.now().date(),
            description="Renamed",
            new_value="Acme Health Partners PLLC",
        )
        open_changes = kit.enrollment.changes("prof-acme", actor=kit.actor("u-ao"))
        (nppes,) = [c for c in open_changes if c.system is System.NPPES]
        assert (pecos.counterpart_id, nppes.counterpart_id) == (nppes.id, pecos.id)
        assert nppes.due(kit.enrollment.deadlines) == clock.now().date() + timedelta(days=30)
        titles = [i.title for i in agenda.for_profile("prof-acme")]
        assert any("to NPPES" in t for t in titles) and any("(PECOS)" in t for t in titles)
        kit.nppes.put(RENAMED)  # NPPES now shows the new name
        titles = [i.title for i in agenda.for_profile("prof-acme")]
        assert not any("to NPPES" in t for t in titles)
        assert any("(PECOS)" in t for t in titles)

    def test_en_14_an_nppes_address_change_creates_a_pecos_to_do(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """The reverse: an NPPES practice-location change creates the PECOS to-do, with the
        category's window (practitioner group: 30 days for a location)."""
        nppes = kit.enrollment.record_change(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            change=ChangeKind.PRACTICE_LOCATION,
            occurred_on=clock.now().date(),
            description="Moved",
            system=System.NPPES,
            new_value=OAK_AVE.one_line(),
        )
        (twin,) = [
            c
            for c in kit.enrollment.changes("prof-acme", actor=kit.actor("u-ao"))
            if c.id == nppes.counterpart_id
        ]
        assert twin.system is System.PECOS
        assert twin.due(kit.enrollment.deadlines) == clock.now().date() + timedelta(days=30)
        record = attrs.evolve(RENAMED, practice_addresses=(OAK_AVE,))
        assert nppes.shown_by(record) and not nppes.shown_by(RENAMED)

    def test_en_7_changes_go_to_pecos_or_nppes_only(self, kit: Kit, clock: FixedClock) -> None:
        """EHR holds no enrollment facts: a change for it is refused."""
        with pytest.raises(ValidationError) as info:
            kit.enrollment.record_change(
                actor=kit.actor("u-ao"),
                profile_id="prof-acme",
                form=Form.CMS_855B,
                change=ChangeKind.OTHER,
                occurred_on=clock.now().date(),
                description="x",
                system=System.EHR,
            )
        assert info.value.code == "change.system"
