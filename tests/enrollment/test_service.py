"""EN-2..EN-6 use cases: who prepares, documents, NPPES gate, MAC transitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from enrollkit.clock import FixedClock
from enrollkit.enrollment import ApplicationStatus, Form, Kind, MediaType, NppesRecord
from enrollkit.errors import (
    ExpiredError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime
from tests.enrollment.factories import MAIN_ST
from tests.enrollment.world import NPI_ACME, Kit, acme_855b, ana_855i

PDF = b"%PDF-1.4\n%%EOF\n"
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
            kit.signatures.send_for_signature(app_id, actor=kit.actor("u-ao"))
        assert info.value.code == "application.nppes_mismatch"
        assert info.value.fields["mismatches"][0]["nppes"] == "Acme Health Partners PLLC"

    def test_en_6_acknowledged_mismatch_allows_sending_and_is_recorded(self, kit: Kit) -> None:
        """The preparer acknowledges; the event records who, and sending proceeds."""
        kit.nppes.put(RENAMED)
        app_id = self._draft(kit)
        kit.enrollment.acknowledge_nppes(app_id, actor=kit.actor("u-ao"))
        ack = kit.enrollment.get(app_id).nppes_acknowledgement
        assert ack is not None and ack.by == "u-ao"
        sent = kit.signatures.send_for_signature(app_id, actor=kit.actor("u-ao"))
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
            kit.signatures.send_for_signature(app_id, actor=kit.actor("u-ao"))


class TestMacSide:
    def _submitted(self, kit: Kit) -> str:
        app = kit.enrollment.create(
            actor=kit.actor("u-ana"),
            profile_id="prof-ana",
            form=Form.CMS_855I,
            kind=Kind.INITIAL,
            content=ana_855i(),
        )
        kit.signatures.send_for_signature(app.id, actor=kit.actor("u-ana"))
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
        """A withdrawn application cannot be sent."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ana"),
            profile_id="prof-ana",
            form=Form.CMS_855I,
            kind=Kind.INITIAL,
            content=ana_855i(),
        )
        kit.enrollment.withdraw(app.id, actor=kit.actor("u-ana"))
        with pytest.raises(InvalidTransitionError):
            kit.signatures.send_for_signature(app.id, actor=kit.actor("u-ana"))
