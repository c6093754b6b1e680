"""SG-2..SG-9: requests, signing what was reviewed, revisions, declines, the certificate;
AC-8's step-up before signing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from enrollkit.access import Role
from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    Agenda,
    Application,
    ApplicationStatus,
    EnrollmentService,
    Form,
    Kind,
    Official,
    OfficialRole,
    Reassignment,
    ReassignmentParty,
)
from enrollkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime
from enrollkit.signatures import (
    Attestation,
    RequestStatus,
    SignatureMethod,
    SignatureService,
    agenda_sources,
)
from tests.enrollment.factories import OAK_AVE
from tests.enrollment.world import (
    EMAILS,
    NPI_ACME,
    OFFICIALS,
    Kit,
    acme_855b,
    ana_855i,
    ana_855r,
)

BOTH = frozenset(Attestation)
PDF = b"%PDF-1.7\nsigned certification statement\n%%EOF\n"


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return Kit(runtime)


def reassignment(kit: Kit, *, send: bool = True) -> Application:
    """Dr Diaz's 855R to Acme, prepared by the credentialer, sent for signature."""
    app = kit.enrollment.create(
        actor=kit.actor("u-cred"),
        profile_id="prof-ana",
        form=Form.CMS_855R,
        kind=Kind.REASSIGNMENT,
        content=ana_855r(),
    )
    return kit.send(app.id, actor=kit.actor("u-cred")) if send else app


def sign(kit: Kit, app_id: str, user: str, slot: str) -> Application:
    return kit.signatures.sign_electronically(
        app_id,
        actor=kit.actor(user),
        digest=kit.digest(app_id),
        slot=slot,
        confirmed_email=EMAILS[user],
        attestations=BOTH,
    )


def on_paper(
    kit: Kit,
    app_id: str,
    *,
    actor: str | Principal,
    slot: str = "individual",
    name: str = "Ana Diaz",
    digest: str | None = None,
    filename: str = "statement.pdf",
    data: bytes = PDF,
) -> Application:
    """*actor* (a cast member, or a principal) uploads the wet-ink statement *name*
    signed for *slot* (SG-3); by default Dr Diaz's, for the individual slot."""
    return kit.signatures.sign_on_paper(
        app_id,
        actor=kit.actor(actor) if isinstance(actor, str) else actor,
        slot=slot,
        signer_name=name,
        digest=kit.digest(app_id) if digest is None else digest,
        filename=filename,
        data=data,
    )


class TestRequests:
    def test_sg_2_one_request_per_slot_with_notifications(
        self, kit: Kit, notifier: InMemoryNotifier
    ) -> None:
        """Sending an 855R opens the individual and receiving-organization requests and
        notifies every eligible signer at the e-mail on record."""
        app = reassignment(kit)
        sheet = kit.signatures.sheet(app.id)
        assert [r.slot.name for r in sheet.open_requests()] == [
            "individual",
            "receiving_organization",
        ]
        recipients = {n.recipient for n in notifier.sent if n.template == "signature.requested"}
        assert recipients == {"ana@example.org", "olga@acme.org", "dan@acme.org"}
        assert kit.events(app.id).count("signature.requested") == 2

    def test_sg_2_seu_listed_as_do_is_not_invited(self, kit: Kit) -> None:
        """The SEU listed (wrongly) as DO on the record gets no request (SG-1)."""
        app = reassignment(kit)
        (org_request,) = [
            r for r in kit.signatures.sheet(app.id).open_requests() if r.slot.name != "individual"
        ]
        assert org_request.candidates == ("u-ao", "u-do")

    def test_sg_1_nobody_listed_in_the_slots_capacity_is_refused_before_sending(
        self, kit: Kit
    ) -> None:
        """An initial 855B needs an AO: a record listing only a DO cannot be sent."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(
                officials=tuple(
                    o for o in acme_855b().officials if o.role is OfficialRole.DELEGATED_OFFICIAL
                )
            ),
        )
        with pytest.raises(ValidationError) as info:
            kit.send(app.id, actor=kit.actor("u-ao"))
        assert info.value.code == "signature.no_signer"
        assert kit.enrollment.get(app.id).status is ApplicationStatus.DRAFT


class TestPaper:
    """SG-3 amended: the CEO listed as AO on an 855B, with no I&A account, signs on paper."""

    def _ceo_only(self, kit: Kit) -> Application:
        content = acme_855b(
            officials=(Official("Carl Chen", OfficialRole.AUTHORIZED_OFFICIAL, "carl@acme.org"),)
        )
        app = kit.enrollment.create(
            actor=kit.actor("u-seu"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=content,
        )
        return kit.send(app.id, actor=kit.actor("u-seu"))

    def test_sg_3_a_round_opens_for_an_official_without_an_account(
        self, kit: Kit, notifier: InMemoryNotifier
    ) -> None:
        """The round opens; the CEO is asked for a wet-ink statement at the e-mail on the
        record; nobody is invited to sign electronically."""
        app = self._ceo_only(kit)
        (request,) = kit.signatures.sheet(app.id).open_requests()
        assert (request.candidates, request.paper_signers, request.paper_only) == (
            (),
            ("Carl Chen",),
            True,
        )
        asked = notifier.last("carl@acme.org", "signature.paper_requested")
        assert asked is not None and asked.fields["slot"] == "authorized_official"

    def test_sg_3_the_preparer_uploads_the_ceos_paper_signature(self, kit: Kit) -> None:
        """The statement names the CEO as listed; the last signature submits; the
        certificate shows paper, the name and the uploader."""
        app = self._ceo_only(kit)
        with pytest.raises(NotPermittedError) as info:
            kit.signatures.sign_on_paper(
                app.id,
                actor=kit.actor("u-seu"),
                slot="authorized_official",
                digest=kit.digest(app.id),
                signer_name="Olga Ortiz",  # not listed on this record
                filename="statement.pdf",
                data=PDF,
            )
        assert info.value.code == "signature.not_listed"
        done = on_paper(
            kit, app.id, actor="u-seu", slot="authorized_official", name="  carl   CHEN "
        )
        assert done.status is ApplicationStatus.SUBMITTED
        (signature,) = kit.signatures.sheet(app.id).signatures
        assert (signature.signer_id, signature.signer_name, signature.record_role) == (
            None,
            "Carl Chen",
            OfficialRole.AUTHORIZED_OFFICIAL,
        )
        assert signature.method is SignatureMethod.PAPER
        certificate = kit.signatures.certificate(app.id, actor=kit.actor("u-ao"))
        assert certificate.verified
        assert "signed by Carl Chen (listed as AO)" in certificate.to_text()
        assert "paper at" in certificate.to_text() and "uploaded by u-seu" in certificate.to_text()

    def test_sg_3_paper_needs_pecos_access_to_upload(self, kit: Kit) -> None:
        """A stranger cannot upload a statement for the CEO."""
        app = self._ceo_only(kit)
        with pytest.raises(NotPermittedError):
            on_paper(kit, app.id, actor="u-stranger", slot="authorized_official", name="Carl Chen")
        assert kit.signatures.sheet(app.id).signatures == ()

    def test_sg_3_the_agenda_warns_that_paper_is_slower(self, kit: Kit) -> None:
        """The open paper-only slot reads as a paper signature to collect, slower."""
        app = self._ceo_only(kit)
        agenda = Agenda(kit.runtime, sources=agenda_sources())
        (item,) = agenda.for_profile("prof-acme")
        assert (item.kind, item.rule) == ("signature.paper", "SG-3")
        assert "Carl Chen" in item.title and "slower" in item.title
        assert app.id in item.title

    def test_sg_3_an_account_holder_may_also_sign_on_paper(self, kit: Kit) -> None:
        """Olga, the AO with an account, may still sign on paper: recorded as paper, with
        her account from the record and no I&A role used."""
        app = kit.enrollment.create(
            actor=kit.actor("u-seu"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(),
        )
        kit.send(app.id, actor=kit.actor("u-seu"))
        on_paper(kit, app.id, actor="u-seu", slot="authorized_official", name="Olga Ortiz")
        (signature,) = kit.signatures.sheet(app.id).signatures
        assert (signature.signer_id, signature.role, signature.method) == (
            "u-ao",
            None,
            SignatureMethod.PAPER,
        )


class TestSigning:
    def test_sg_6_last_signature_submits(self, kit: Kit, notifier: InMemoryNotifier) -> None:
        """The first signature leaves it pending; the last submits it."""
        app = reassignment(kit)
        assert sign(kit, app.id, "u-ana", "individual").status is (
            ApplicationStatus.PENDING_SIGNATURES
        )
        done = sign(kit, app.id, "u-do", "receiving_organization")
        assert done.status is ApplicationStatus.SUBMITTED
        assert kit.events(app.id)[-1] == "application.submitted"
        assert notifier.last("u-cred", "application.submitted") is not None

    def test_sg_4_signature_records_everything(self, kit: Kit) -> None:
        """Signer, slot, role, method, time, revision and digest are recorded."""
        app = reassignment(kit)
        sign(kit, app.id, "u-ao", "receiving_organization")
        (signature,) = kit.signatures.sheet(app.id).signatures
        revision = kit.enrollment.get(app.id).current_revision
        assert revision is not None
        assert (signature.signer_id, signature.slot, signature.role) == (
            "u-ao",
            "receiving_organization",
            Role.AUTHORIZED_OFFICIAL,
        )
        assert signature.method is SignatureMethod.ELECTRONIC
        assert (signature.revision, signature.digest) == (1, revision.digest)
        assert signature.signed_at == kit.runtime.clock.now()

    def test_sg_3_electronic_signer_confirms_own_email(self, kit: Kit) -> None:
        """Confirming someone else's e-mail is refused."""
        app = reassignment(kit)
        with pytest.raises(ValidationError) as info:
            kit.signatures.sign_electronically(
                app.id,
                actor=kit.actor("u-ao"),
                digest=kit.digest(app.id),
                slot="receiving_organization",
                confirmed_email="dan@acme.org",
                attestations=BOTH,
            )
        assert info.value.code == "signature.email_mismatch"

    def test_sg_3_both_attestations_are_required(self, kit: Kit) -> None:
        """One attestation is not enough."""
        app = reassignment(kit)
        with pytest.raises(ValidationError) as info:
            kit.signatures.sign_electronically(
                app.id,
                actor=kit.actor("u-ana"),
                digest=kit.digest(app.id),
                slot="individual",
                confirmed_email="ana@example.org",
                attestations={Attestation.ACCURACY},
            )
        assert info.value.fields["missing"] == ["electronic_signature"]

    def test_sg_3_paper_certification_statement(self, kit: Kit) -> None:
        """The credentialer uploads the wet-ink statement Dr Diaz signed; a text file is
        refused; it is recorded as paper, with the name on the record and the uploader."""
        app = reassignment(kit)
        with pytest.raises(ValidationError):
            on_paper(
                kit, app.id, actor="u-cred", slot="individual", name="Ana Diaz", data=b"I certify"
            )
        on_paper(
            kit,
            app.id,
            actor="u-cred",
            slot="individual",
            name="Ana Diaz",
            filename="statement.tif",
        )
        (signature,) = kit.signatures.sheet(app.id).signatures
        assert signature.method is SignatureMethod.PAPER
        assert signature.uploaded_by == "u-cred" and signature.signer_id == "u-ana"
        assert (signature.signer_name, signature.role) == ("Ana Diaz", None)
        assert signature.statement_sha256 is not None
        assert kit.documents.get(signature.statement_sha256) == PDF

    @pytest.mark.parametrize(
        ("user", "slot"),
        [
            ("u-cred", "individual"),
            ("u-cred", "receiving_organization"),
            ("u-seu", "receiving_organization"),
            ("u-ao", "individual"),
            ("u-stranger", "receiving_organization"),
        ],
    )
    def test_sg_1_ineligible_signers_are_refused(self, kit: Kit, user: str, slot: str) -> None:
        """Credentialers, SEUs, the wrong party and strangers never sign."""
        app = reassignment(kit)
        with pytest.raises(NotPermittedError):
            kit.signatures.sign_electronically(
                app.id,
                actor=kit.actor(user),
                digest=kit.digest(app.id),
                slot=slot,
                confirmed_email=EMAILS.get(user, "x@example.org"),
                attestations=BOTH,
            )
        assert kit.signatures.sheet(app.id).signatures == ()

    def test_ro_8_ao_not_listed_on_the_record_cannot_sign(self, kit: Kit) -> None:
        """Acme's AO in I&A, dropped from the officials of the record, is refused (RO-8)."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.REVALIDATION,
            content=acme_855b(officials=acme_855b().officials[1:]),
        )
        kit.send(app.id, actor=kit.actor("u-ao"))
        with pytest.raises(NotPermittedError) as info:
            sign(kit, app.id, "u-ao", "authorized_or_delegated_official")
        assert info.value.code == "access.not_listed_on_record"
        done = sign(kit, app.id, "u-do", "authorized_or_delegated_official")
        assert done.status is ApplicationStatus.SUBMITTED

    def test_ro_8_am_listed_as_do_cannot_sign_an_initial_enrollment(self, kit: Kit) -> None:
        """An initial 855B takes an AO listed as AO; the AM listed as DO is refused."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(),
        )
        kit.send(app.id, actor=kit.actor("u-ao"))
        (request,) = kit.signatures.sheet(app.id).open_requests()
        assert request.candidates == ("u-ao",)
        with pytest.raises(NotPermittedError):
            sign(kit, app.id, "u-do", "authorized_official")

    def test_sg_6_a_signed_slot_is_not_signed_twice(self, kit: Kit) -> None:
        """The second AO finds the organization's slot already signed."""
        app = reassignment(kit)
        sign(kit, app.id, "u-ao", "receiving_organization")
        with pytest.raises(InvalidTransitionError):
            sign(kit, app.id, "u-do", "receiving_organization")


class TestRevisionsAndDeclines:
    def test_sg_5_revision_supersedes_every_signature_and_request(self, kit: Kit) -> None:
        """After one signature, a revision voids it, closes both requests and opens two new."""
        app = reassignment(kit)
        sign(kit, app.id, "u-ana", "individual")
        revised = kit.signatures.revise(
            app.id, actor=kit.actor("u-cred"), content=ana_855r(mailing_address=OAK_AVE)
        )
        assert revised.current_revision is not None and revised.current_revision.number == 2
        sheet = kit.signatures.sheet(app.id)
        assert [r.status for r in sheet.requests] == [
            RequestStatus.SIGNED,
            RequestStatus.SUPERSEDED,
            RequestStatus.OPEN,
            RequestStatus.OPEN,
        ]
        assert sheet.valid_signatures(revised.current_revision) == ()
        assert sheet.signatures[0].superseded_at is not None
        sign(kit, app.id, "u-ana", "individual")
        done = sign(kit, app.id, "u-ao", "receiving_organization")
        assert done.status is ApplicationStatus.SUBMITTED
        assert {
            s.digest
            for s in kit.signatures.sheet(app.id).valid_signatures(revised.current_revision)
        } == {revised.current_revision.digest}

    def test_en_2_a_revision_keeps_the_profiles_npi(self, kit: Kit) -> None:
        """A revision that names another provider's NPI is refused (EN-2): revision 1
        stays the one out for signature."""
        app = reassignment(kit)
        with pytest.raises(ValidationError) as info:
            kit.signatures.revise(app.id, actor=kit.actor("u-cred"), content=ana_855r(npi=NPI_ACME))
        assert info.value.code == "application.npi_not_profile"
        current = kit.enrollment.get(app.id).current_revision
        assert current is not None and current.number == 1

    def test_sg_5_revise_with_a_new_document(self, kit: Kit) -> None:
        """Attaching a document while out for signature is a revision too."""
        app = reassignment(kit)
        revised = kit.signatures.revise(
            app.id, actor=kit.actor("u-cred"), attach=[("license.pdf", PDF)]
        )
        assert len(revised.documents) == 1
        assert revised.revisions[0].digest != revised.revisions[1].digest

    def test_sg_7_decline_returns_to_draft_and_notifies_the_preparer(
        self, kit: Kit, notifier: InMemoryNotifier
    ) -> None:
        """A decline needs a reason, returns the application to draft, tells the preparer."""
        app = reassignment(kit)
        with pytest.raises(ValidationError):
            kit.signatures.decline(
                app.id, actor=kit.actor("u-ao"), slot="receiving_organization", reason=" "
            )
        back = kit.signatures.decline(
            app.id,
            actor=kit.actor("u-ao"),
            slot="receiving_organization",
            reason="Wrong start date",
        )
        assert back.status is ApplicationStatus.DRAFT
        sent = notifier.last("u-cred", "signature.declined")
        assert sent is not None and sent.fields["reason"] == "Wrong start date"
        assert kit.signatures.sheet(app.id).open_requests() == ()
        again = kit.send(app.id, actor=kit.actor("u-cred"))
        assert again.current_revision is not None and again.current_revision.number == 2

    def test_sg_7_only_an_eligible_signer_declines(self, kit: Kit) -> None:
        """The credentialer cannot decline for the provider."""
        app = reassignment(kit)
        with pytest.raises(NotPermittedError):
            kit.signatures.decline(
                app.id, actor=kit.actor("u-cred"), slot="individual", reason="no"
            )


class TestCertificate:
    def _signed(self, kit: Kit) -> Application:
        app = reassignment(kit)
        sign(kit, app.id, "u-ana", "individual")
        kit.signatures.revise(
            app.id, actor=kit.actor("u-cred"), content=ana_855r(mailing_address=OAK_AVE)
        )
        sign(kit, app.id, "u-ana", "individual")
        return sign(kit, app.id, "u-do", "receiving_organization")

    def test_sg_8_certificate_lists_signatures_verified_against_the_chain(self, kit: Kit) -> None:
        """Three signatures, one superseded; every one matches its audit event."""
        app = self._signed(kit)
        certificate = kit.signatures.certificate(app.id, actor=kit.actor("u-cred"))
        assert certificate.verified
        assert [(e.slot, e.revision, e.counts) for e in certificate.entries] == [
            ("individual", 1, False),
            ("individual", 2, True),
            ("receiving_organization", 2, True),
        ]
        assert all(e.audit_seq is not None for e in certificate.entries)
        data = certificate.to_data()
        assert data["verified"] is True and data["entries"][2]["role"] == "AM"
        text = certificate.to_text()
        assert "superseded: does not count" in text and "Verified against the audit chain." in text

    def test_sg_8_certificate_detects_a_signature_without_event(self, kit: Kit) -> None:
        """A signature forged into storage (no audit event) fails verification."""
        from enrollkit.signatures import SIGNATURE_SHEETS

        app = self._signed(kit)
        with kit.runtime.transaction() as tx:
            sheet = tx.repo(SIGNATURE_SHEETS).get(app.id)
            assert sheet is not None
            forged = attrs.evolve(sheet.signatures[0], id="sig-forged")
            tx.repo(SIGNATURE_SHEETS).save(
                attrs.evolve(sheet, signatures=(*sheet.signatures, forged))
            )
            tx.commit()
        certificate = kit.signatures.certificate(app.id, actor=kit.actor("u-cred"))
        assert not certificate.verified
        assert certificate.problems == ("signature sig-forged has no audit event",)
        assert "NOT VERIFIED" in certificate.to_text()


class TestWithdraw:
    def test_en_4_withdraw_while_out_for_signature_closes_the_requests(self, kit: Kit) -> None:
        """Withdrawing supersedes every open request (SG-5); nobody signs it afterwards."""
        app = reassignment(kit)
        withdrawn = kit.signatures.withdraw(app.id, actor=kit.actor("u-cred"))
        assert withdrawn.status is ApplicationStatus.WITHDRAWN
        sheet = kit.signatures.sheet(app.id)
        assert sheet.open_requests() == ()
        assert {r.status for r in sheet.requests} == {RequestStatus.SUPERSEDED}
        with pytest.raises(InvalidTransitionError):
            sign(kit, app.id, "u-ana", "individual")

    @pytest.mark.parametrize(
        "status",
        ["draft", "pending_signatures", "submitted", "in_review", "development_requested"],
    )
    def test_en_4_one_withdraw_for_every_non_final_status(self, kit: Kit, status: str) -> None:
        """The one withdraw use case ends an application in any non-final status, and the
        event says from which status and which requests it closed."""
        app = reassignment(kit, send=status != "draft")
        if status in ("submitted", "in_review", "development_requested"):
            sign(kit, app.id, "u-ana", "individual")
            sign(kit, app.id, "u-do", "receiving_organization")
        if status in ("in_review", "development_requested"):
            kit.enrollment.start_review(app.id, actor=kit.mac())
        if status == "development_requested":
            kit.enrollment.request_development(app.id, actor=kit.mac(), reason="Add a license")
        assert kit.enrollment.get(app.id).status.value == status
        sheet = None if status == "draft" else kit.signatures.sheet(app.id)
        open_before = [r.id for r in sheet.open_requests()] if sheet is not None else []
        assert bool(open_before) is (status == "pending_signatures")
        withdrawn = kit.signatures.withdraw(app.id, actor=kit.actor("u-cred"))
        assert withdrawn.status is ApplicationStatus.WITHDRAWN
        (event,) = [
            e.event
            for e in kit.runtime.storage.audit.for_subject(app.id)
            if e.event.name == "application.withdrawn"
        ]
        assert (event.actor, event.data["status_before"]) == ("u-cred", status)
        assert event.data["superseded_requests"] == open_before
        with pytest.raises(InvalidTransitionError):
            kit.signatures.withdraw(app.id, actor=kit.actor("u-cred"))

    def test_en_2_withdrawing_needs_pecos_access(self, kit: Kit) -> None:
        """A stranger cannot withdraw someone's application (EN-2); it stays as it was."""
        app = reassignment(kit)
        with pytest.raises(NotPermittedError):
            kit.signatures.withdraw(app.id, actor=kit.actor("u-stranger"))
        assert kit.enrollment.get(app.id).status is ApplicationStatus.PENDING_SIGNATURES

    def test_en_4_enrollment_has_no_second_withdraw(self) -> None:
        """Withdrawing is one use case: the enrollment service offers none of its own."""
        assert not hasattr(EnrollmentService, "withdraw")
        assert callable(SignatureService.withdraw)


def test_sg_8_certificate_needs_pecos_access(kit: Kit) -> None:
    """A stranger cannot export the certificate (EN-2)."""
    app = reassignment(kit)
    with pytest.raises(NotPermittedError):
        kit.signatures.certificate(app.id, actor=kit.actor("u-stranger"))


class TestSignWhatWasReviewed:
    @pytest.fixture
    def sent(self, kit: Kit) -> str:
        """Dr Diaz's 855R, out for signature (revision 1)."""
        return reassignment(kit).id

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        digest=st.one_of(
            st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
            st.text(max_size=128),
        ),
        electronic=st.booleans(),
    )
    def test_sg_9_any_digest_but_the_current_one_is_refused(
        self, kit: Kit, sent: str, digest: str, electronic: bool
    ) -> None:
        """Any digest but the current one is refused as stale_revision; nothing is stored."""
        # The kit is shared by the examples: each refusal must leave it exactly as it was.
        app_id = sent
        current = kit.digest(app_id)
        assume(digest != current)
        signer = kit.actor("u-ana" if electronic else "u-cred")
        before = len(kit.runtime.storage.audit.entries())
        with pytest.raises(ConflictError) as info:
            if electronic:
                kit.signatures.sign_electronically(
                    app_id,
                    actor=signer,
                    digest=digest,
                    slot="individual",
                    confirmed_email="ana@example.org",
                    attestations=BOTH,
                )
            else:
                on_paper(kit, app_id, actor=signer, digest=digest)
        assert info.value.code == "signature.stale_revision"
        assert (info.value.fields["revision"], info.value.fields["digest"]) == (1, current)
        assert len(info.value.message) < 300
        assert kit.signatures.sheet(app_id).signatures == ()
        assert len(kit.runtime.storage.audit.entries()) == before
        assert not kit.documents.exists(hashlib.sha256(PDF).hexdigest())
        assert kit.enrollment.get(app_id).status is ApplicationStatus.PENDING_SIGNATURES

    def test_sg_9_a_signer_who_reviewed_revision_1_cannot_sign_revision_2(self, kit: Kit) -> None:
        """Revision 1's digest is refused once revision 2 exists, naming revision 2."""
        app = reassignment(kit)
        reviewed = kit.digest(app.id)
        kit.signatures.revise(
            app.id, actor=kit.actor("u-cred"), content=ana_855r(mailing_address=OAK_AVE)
        )
        current = kit.digest(app.id)
        assert current != reviewed

        def electronically() -> Application:
            return kit.signatures.sign_electronically(
                app.id,
                actor=kit.actor("u-ana"),
                digest=reviewed,
                slot="individual",
                confirmed_email="ana@example.org",
                attestations=BOTH,
            )

        def with_statement() -> Application:
            return on_paper(kit, app.id, actor="u-cred", digest=reviewed)

        attempts: list[Callable[[], Application]] = [electronically, with_statement]
        for attempt in attempts:
            with pytest.raises(ConflictError) as info:
                attempt()
            assert info.value.code == "signature.stale_revision"
            assert info.value.fields["revision"] == 2
            assert info.value.fields["digest"] == current
            assert info.value.fields["given_digest"] == reviewed
        assert kit.signatures.sheet(app.id).signatures == ()
        assert "signature.signed" not in kit.events(app.id)
        signed = sign(kit, app.id, "u-ana", "individual")
        assert signed.status is ApplicationStatus.PENDING_SIGNATURES
        (signature,) = kit.signatures.sheet(app.id).signatures
        assert (signature.revision, signature.digest) == (2, current)

    @pytest.mark.parametrize(
        "digest",
        [
            pytest.param("a" * 2_000_000, id="2MB"),
            pytest.param("\ud800", id="one-surrogate"),
            pytest.param("\ud800" * 64, id="64-surrogates"),
        ],
    )
    def test_er_1_a_hostile_digest_is_refused_briefly(
        self, kit: Kit, sent: str, digest: str
    ) -> None:
        """A 2 MB or lone-surrogate digest is a ValidationError with a short message."""
        with pytest.raises(ValidationError) as info:
            kit.signatures.sign_electronically(
                sent,
                actor=kit.actor("u-ana"),
                digest=digest,
                slot="individual",
                confirmed_email="ana@example.org",
                attestations=BOTH,
            )
        assert info.value.code in {"input.too_long", "input.text"}
        assert len(info.value.message) < 300
        assert kit.signatures.sheet(sent).signatures == ()


class TestSigningStepUp:
    def test_ac_8_signing_needs_a_login_within_15_minutes(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """Both signing methods need a login at most 15 minutes old (principal.stale)."""
        app = reassignment(kit)
        ana = kit.actor("u-ana")
        cred = kit.actor("u-cred")
        clock.advance(minutes=15, seconds=1)
        with pytest.raises(NotPermittedError) as info:
            kit.signatures.sign_electronically(
                app.id,
                actor=ana,
                digest=kit.digest(app.id),
                slot="individual",
                confirmed_email="ana@example.org",
                attestations=BOTH,
            )
        assert info.value.code == "principal.stale"
        with pytest.raises(NotPermittedError) as info:
            on_paper(kit, app.id, actor=cred)
        assert info.value.code == "principal.stale"
        assert kit.signatures.sheet(app.id).signatures == ()
        fresh = kit.actor("u-ana")
        clock.advance(minutes=15)
        kit.signatures.sign_electronically(
            app.id,
            actor=fresh,
            digest=kit.digest(app.id),
            slot="individual",
            confirmed_email="ana@example.org",
            attestations=BOTH,
        )
        assert len(kit.signatures.sheet(app.id).signatures) == 1

    @pytest.mark.parametrize(
        ("window", "age", "signs"),
        [
            (timedelta(hours=1), timedelta(minutes=20), True),
            (timedelta(hours=1), timedelta(minutes=61), False),
            (timedelta(minutes=5), timedelta(minutes=6), False),
            (timedelta(minutes=5), timedelta(minutes=5), True),
        ],
    )
    def test_ac_8_the_signing_window_is_configurable(
        self, kit: Kit, clock: FixedClock, window: timedelta, age: timedelta, signs: bool
    ) -> None:
        """SignatureService(signing_window=...) sets how recent the signer's login must be."""
        service = SignatureService(
            kit.runtime, documents=kit.documents, nppes=kit.nppes, signing_window=window
        )
        app = reassignment(kit)
        ana = kit.actor("u-ana")
        clock.advance(age)

        def attempt() -> Application:
            return service.sign_electronically(
                app.id,
                actor=ana,
                digest=kit.digest(app.id),
                slot="individual",
                confirmed_email="ana@example.org",
                attestations=BOTH,
            )

        if signs:
            attempt()
            assert len(kit.signatures.sheet(app.id).signatures) == 1
        else:
            with pytest.raises(NotPermittedError) as info:
                attempt()
            assert info.value.code == "principal.stale"
            assert info.value.fields["fresh_within_minutes"] == int(window.total_seconds() // 60)


def termination(kit: Kit, actor: str, party: ReassignmentParty) -> Application:
    """*actor* terminates Dr Diaz's reassignment to Acme for *party*, sent for signature."""
    content = ana_855i(
        reassignment=Reassignment("prof-acme", terminated_by=party),
        officials=OFFICIALS if party is ReassignmentParty.ORGANIZATION else (),
    )
    app = kit.enrollment.create(
        actor=kit.actor(actor),
        profile_id="prof-ana",
        form=Form.CMS_855R,
        kind=Kind.REASSIGNMENT_TERMINATION,
        content=content,
    )
    return kit.send(app.id, actor=kit.actor(actor))


class TestReassignmentTermination:
    """EN-12: either party may terminate a reassignment alone; only that party signs."""

    def test_en_12_the_organization_terminates_alone(
        self, kit: Kit, notifier: InMemoryNotifier
    ) -> None:
        """Acme's AO, with no access to Dr Diaz's profile, files the termination through
        Acme's; only Acme's slot opens, Dr Diaz is not asked, Acme's signature submits."""
        with pytest.raises(NotPermittedError):  # any other kind still needs her profile
            kit.enrollment.create(
                actor=kit.actor("u-ao"),
                profile_id="prof-ana",
                form=Form.CMS_855R,
                kind=Kind.REASSIGNMENT,
                content=ana_855r(),
            )
        app = termination(kit, "u-ao", ReassignmentParty.ORGANIZATION)
        assert [r.slot.name for r in kit.signatures.sheet(app.id).open_requests()] == [
            "receiving_organization"
        ]
        assert notifier.last("ana@example.org", "signature.requested") is None
        done = sign(kit, app.id, "u-ao", "receiving_organization")
        assert done.status is ApplicationStatus.SUBMITTED

    def test_en_12_the_individual_terminates_alone(self, kit: Kit) -> None:
        """Dr Diaz ends it herself: only her slot, no Acme official needed on the record."""
        app = termination(kit, "u-ana", ReassignmentParty.INDIVIDUAL)
        assert [r.slot.name for r in kit.signatures.sheet(app.id).open_requests()] == ["individual"]
        with pytest.raises(NotPermittedError):
            sign(kit, app.id, "u-ao", "individual")
        assert sign(kit, app.id, "u-ana", "individual").status is ApplicationStatus.SUBMITTED

    def test_en_12_the_terminating_party_must_be_named(self, kit: Kit) -> None:
        """Without the terminating party the application is incomplete."""
        app = kit.enrollment.create(
            actor=kit.actor("u-ana"),
            profile_id="prof-ana",
            form=Form.CMS_855R,
            kind=Kind.REASSIGNMENT_TERMINATION,
            content=ana_855r(),
        )
        with pytest.raises(ValidationError) as info:
            kit.send(app.id, actor=kit.actor("u-ana"))
        assert info.value.fields["missing"] == ["reassignment.terminated_by"]

    def test_en_12_a_terminated_reassignment_leaves_the_report(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """Once the termination is approved the reassignment is no longer reported."""
        app = reassignment(kit)
        sign(kit, app.id, "u-ana", "individual")
        sign(kit, app.id, "u-ao", "receiving_organization")
        kit.enrollment.start_review(app.id, actor=kit.mac())
        kit.enrollment.approve(app.id, actor=kit.mac(), ptan="PT-R")
        assert len(kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-ao"))) == 1
        clock.advance(days=1)
        ended = termination(kit, "u-ao", ReassignmentParty.ORGANIZATION)
        sign(kit, ended.id, "u-ao", "receiving_organization")
        kit.enrollment.start_review(ended.id, actor=kit.mac())
        kit.enrollment.approve(ended.id, actor=kit.mac(), ptan=None)
        assert kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-ao")) == ()
