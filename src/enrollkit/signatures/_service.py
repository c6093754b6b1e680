"""Signature use cases: send, revise, sign, decline, withdraw (SG-2..SG-7, EN-3, EN-4, EN-6).

Each use case changes the application and its signature sheet in one
transaction (optimistic versions on both), so two last signatures racing
cannot both submit, and a revision can never leave an old signature counting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Annotated, Final, Unpack

from enrollkit.access import PROFILES, ProviderProfile, Role, decide_signing_authority
from enrollkit.boundary import Limit, Text, boundary
from enrollkit.enrollment import (
    APPLICATIONS,
    Application,
    ApplicationContent,
    ApplicationStatus,
    DocumentKind,
    DocumentRef,
    NppesRecord,
    PortedService,
    Revision,
    ServiceSettings,
    adds_location,
    inspect_document,
    require_application_access,
    require_profile_npi,
    same_name,
    sync_record,
)
from enrollkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
    excerpt,
)
from enrollkit.notify import Notification
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime, Transaction, use_case
from enrollkit.signatures._certificate import SignatureCertificate, build_certificate
from enrollkit.signatures._sheet import (
    SIGNATURE_SHEETS,
    Attestation,
    Signature,
    SignatureMethod,
    SignatureRequest,
    SignatureSheet,
    signed_event_data,
)
from enrollkit.signatures._slots import (
    SignerFacts,
    SignerSlot,
    SlotParty,
    eligibility,
    listed_for,
    paper_signers,
    slots_of,
)
from enrollkit.storage import require

__all__ = ["SignatureService"]

_BOTH: Final = frozenset(Attestation)
#: AC-8 [default]: a signature needs a login (or host assertion) at most this old.
SIGNING_WINDOW: Final = timedelta(minutes=15)

#: A revision digest: SHA-256 in hex (EN-3, SG-9).
Digest = Annotated[str, Limit(chars=128)]


class SignatureService(PortedService):
    """Send applications for signature, sign, decline and revise them (SG-2..SG-7).

    One service for the whole signature round because every one of these use
    cases changes the application (status, revisions) and its signature sheet
    together. *requirements* is the document checklist (EN-13) and fee schedule (EN-15)
    checked whenever a revision is frozen for signature.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        signing_window: timedelta = SIGNING_WINDOW,
        **settings: Unpack[ServiceSettings],
    ) -> None:
        super().__init__(runtime, **settings)
        self.signing_window = signing_window

    # -- reading ------------------------------------------------------------------------

    @boundary
    def sheet(self, application_id: Text) -> SignatureSheet:
        """Every request and signature of the application (an empty sheet before sending).

        No access check: a read for the host; provider-facing exports use :meth:`certificate`.
        """
        with self.runtime.transaction() as tx:
            return tx.repo(SIGNATURE_SHEETS).get(application_id) or SignatureSheet(
                id=application_id
            )

    @boundary
    def certificate(self, application_id: Text, *, actor: Principal) -> SignatureCertificate:
        """The signature certificate, verified against the audit chain (Rule SG-8); the
        actor needs PECOS access to the profile (EN-2)."""
        with self.runtime.transaction() as tx:
            app, _who = self._load_for(tx, application_id, actor)
            sheet = tx.repo(SIGNATURE_SHEETS).get(application_id) or SignatureSheet(
                id=application_id
            )
            now = tx.now
        return build_certificate(app, sheet, audit=self.runtime.storage.audit, now=now)

    # -- sending and revising (EN-3, EN-6, SG-2, SG-5) ----------------------------------

    def _load_for(
        self,
        tx: Transaction,
        application_id: str,
        actor: Principal,
        *,
        fresh_within: timedelta | None = None,
    ) -> tuple[Application, str]:
        """The application and the acting account id, once the actor is authenticated
        (AC-8, within *fresh_within* if given) and has PECOS access to the application's
        profile (EN-2, EN-12)."""
        who = tx.act(actor, fresh_within=fresh_within).id
        app = require(tx.repo(APPLICATIONS), application_id, what="application")
        require_application_access(tx, user_id=who, application=app)
        return app, who

    @use_case
    def send_for_signature(self, application_id: Text, *, actor: Principal) -> Application:
        """Freeze revision n, check NPPES (EN-6), the supporting documents (EN-13) and the
        fee (EN-15), open one request per slot (SG-2)."""
        with self.runtime.transaction() as tx:
            app, who = self._load_for(tx, application_id, actor)
            require_profile_npi(tx, app)
            app.require_nppes_consistent(self._nppes_record(app.content))
            self._require_supporting(tx, app)
            sent = app.send_for_signature(by=who, now=tx.now)
            stored = self._open_round(tx, app, sent, who, "application.sent_for_signature")
            tx.commit()
        return stored

    @use_case
    def revise(
        self,
        application_id: Text,
        *,
        actor: Principal,
        content: ApplicationContent | None = None,
        attach: Sequence[tuple[Text, bytes] | tuple[Text, bytes, DocumentKind]] = (),
        detach: Iterable[Text] = (),
    ) -> Application:
        """Change an application out for signature: revision n+1 supersedes every signature
        and open request of revision n and asks every slot again (EN-3, SG-5). Each of
        *attach* is (file name, bytes) or (file name, bytes, what it is: EN-13); the new
        revision must still carry its checklist and fee documents (EN-13, EN-15)."""
        inspected = [inspect_document(a[0], a[1], policy=self.document_policy) for a in attach]
        kinds = [a[2] if len(a) == 3 else None for a in attach]
        with self.runtime.transaction() as tx:
            app, who = self._load_for(tx, application_id, actor)
            removed = set(detach)
            documents: tuple[DocumentRef, ...] = tuple(
                d for d in app.documents if d.id not in removed
            )
            documents += tuple(
                i.ref(id=tx.new_id("doc"), uploaded_at=tx.now, uploaded_by=who, kind=k)
                for i, k in zip(inspected, kinds, strict=True)
            )
            revised = app.revise(content=content, documents=documents, by=who, now=tx.now)
            require_profile_npi(tx, revised)
            revised.require_nppes_consistent(self._nppes_record(revised.content))
            self._require_supporting(tx, revised)
            for given, info in zip(attach, inspected, strict=True):
                self.documents.put(info.sha256, bytes(given[1]))
            stored = self._open_round(tx, app, revised, who, "application.revised")
            tx.commit()
        return stored

    def _require_supporting(self, tx: Transaction, app: Application) -> None:
        """The checklist's documents (EN-13) and, where the fee is due this calendar year,
        its receipt or a hardship exception request (EN-15), before anyone signs."""
        history = tx.repo(APPLICATIONS).find(APPLICATIONS.index("profile"), app.profile_id)
        app.require_supporting_documents(
            self.requirements, year=tx.now.year, new_location=adds_location(app, history)
        )

    def _open_round(
        self, tx: Transaction, before: Application, after: Application, actor: str, event: str
    ) -> Application:
        revision = after.current_revision
        assert revision is not None
        slots = slots_of(after)
        invited = {slot.name: self._invitees(tx, after, revision, slot) for slot in slots}
        on_paper = {slot.name: paper_signers(slot, revision.content) for slot in slots}
        for slot in slots:
            if not invited[slot.name] and not on_paper[slot.name]:
                raise ValidationError(
                    "signature.no_signer",
                    f"No one can sign the {slot.name} slot: it needs {slot.describe()}, "
                    "listed on the application (SG-1); list them first. They sign "
                    "electronically with an I&A account, or on paper without one (SG-3).",
                    application_id=after.id,
                    slot=slot.name,
                )
        sheets = tx.repo(SIGNATURE_SHEETS)
        existing = sheets.get(after.id)
        sheet = existing or SignatureSheet(id=after.id)
        opened = sheet.open_round(
            revision,
            slots,
            candidates={name: tuple(a for a, _ in pairs) for name, pairs in invited.items()},
            paper_signers=on_paper,
            ids=[tx.new_id("sigreq") for _ in slots],
            now=tx.now,
        )
        if existing is None:
            sheets.add(opened)
        else:
            sheets.save(opened)
        stored = tx.save(
            APPLICATIONS,
            after,
            event,
            actor=actor,
            revision=revision.number,
            digest=revision.digest,
            status_before=before.status.value,
            superseded_requests=[r.id for r in sheet.open_requests()],
            slots=[s.name for s in slots],
        )
        for request in opened.requests_for(revision):
            tx.record(
                "signature.requested",
                subject=after.id,
                actor=actor,
                request_id=request.id,
                slot=request.slot.name,
                revision=revision.number,
                digest=revision.digest,
                candidates=list(request.candidates),
                paper_signers=list(request.paper_signers),
            )
            fields = {
                "application_id": after.id,
                "form": after.form.value,
                "slot": request.slot.name,
                "revision": str(revision.number),
            }
            for _account, recipient in invited[request.slot.name]:
                tx.notify(Notification(recipient, "signature.requested", fields))
            # SG-3: a listed official who cannot sign electronically is asked for a
            # wet-ink statement at the e-mail on the record.
            for address in self._paper_recipients(
                revision, request.slot, invited[request.slot.name]
            ):
                tx.notify(Notification(address, "signature.paper_requested", fields))
        return stored

    def _paper_recipients(
        self, revision: Revision, slot: SignerSlot, invited: tuple[tuple[str, str], ...]
    ) -> tuple[str, ...]:
        """E-mail addresses of officials listed for *slot* who are not invited to sign
        electronically (no account, or an account without the slot's I&A role)."""
        if slot.party is SlotParty.PRACTITIONER:
            return ()
        electronic = {account for account, _ in invited}
        found: list[str] = []
        for official in revision.content.officials:
            if (
                official.role in slot.record_roles
                and official.email
                and official.account_id not in electronic
                and official.email not in found
            ):
                found.append(official.email)
        return tuple(found)

    def _invitees(
        self, tx: Transaction, app: Application, revision: Revision, slot: SignerSlot
    ) -> tuple[tuple[str, str], ...]:
        """(account id, recipient) of everyone eligible for *slot* now (SG-2)."""
        content = revision.content
        if slot.party is SlotParty.PRACTITIONER:
            profile = tx.repo(PROFILES).get(app.profile_id)
            owner = profile.owner_id if profile is not None else None
            if owner is None:
                return ()
            email = content.practitioner.email if content.practitioner else None
            return ((owner, email or self.contacts.email_of(tx, owner) or owner),)
        found: list[tuple[str, str]] = []
        for official in content.officials:
            account = official.account_id
            if account is None or any(account == a for a, _ in found):
                continue
            if eligibility(slot, self._facts(tx, app, revision, slot, account)).eligible:
                found.append(
                    (account, official.email or self.contacts.email_of(tx, account) or account)
                )
        return tuple(found)

    def _facts(
        self, tx: Transaction, app: Application, revision: Revision, slot: SignerSlot, user_id: str
    ) -> SignerFacts:
        """What access and the record say about *user_id* for *slot* (RO-8)."""
        profile = tx.repo(PROFILES).get(app.profile_id)
        if slot.party is SlotParty.PRACTITIONER:
            return SignerFacts(
                user_id=user_id, owns_profile=profile is not None and profile.owner_id == user_id
            )
        org_profile: ProviderProfile | None = profile
        if slot.party is SlotParty.RECEIVING_ORGANIZATION:
            target = revision.content.reassignment
            org_profile = tx.repo(PROFILES).get(target.target_profile_id) if target else None
        organization_id = org_profile.organization_id if org_profile is not None else None
        authority = (
            decide_signing_authority(
                tx,
                user_id=user_id,
                organization_id=organization_id,
                listed_officials=listed_for(slot, revision.content.officials),
                roles=slot.roles,
            )
            if organization_id
            else None
        )
        return SignerFacts(
            user_id=user_id, authority=authority, official=revision.content.official_for(user_id)
        )

    def _nppes_record(self, content: ApplicationContent) -> NppesRecord | None:
        return self.nppes.lookup(content.npi) if content.npi is not None else None

    @use_case
    def withdraw(self, application_id: Text, *, actor: Principal) -> Application:
        """Withdraw a non-final application, whatever its status (EN-2, EN-4), closing
        its open signature requests (SG-5): the one withdraw use case. It lives here
        because enrollment cannot see signature requests (signatures builds on
        enrollment, never the reverse)."""
        with self.runtime.transaction() as tx:
            app, who = self._load_for(tx, application_id, actor)
            before = app.status_at(tx.now)
            withdrawn = app.withdraw(now=tx.now)
            sheet = tx.repo(SIGNATURE_SHEETS).get(app.id)
            closed = [r.id for r in sheet.open_requests()] if sheet is not None else []
            stored = tx.save(
                APPLICATIONS,
                withdrawn,
                "application.withdrawn",
                actor=who,
                status_before=before.value,
                superseded_requests=closed,
            )
            if sheet is not None and closed:
                tx.repo(SIGNATURE_SHEETS).save(sheet.supersede(now=tx.now))
            sync_record(tx, stored)  # EN-11: a withdrawn revalidation files nothing
            tx.commit()
        return stored

    # -- signing (SG-3, SG-4, SG-6) -----------------------------------------------------

    @use_case
    def sign_electronically(
        self,
        application_id: Text,
        *,
        actor: Principal,
        slot: Text,
        digest: Digest,
        confirmed_email: Text,
        attestations: Iterable[Attestation],
    ) -> Application:
        """The signer, logged in as themselves within the signing window (15 minutes by
        default, AC-8), signs the revision they reviewed (*digest*, SG-9): they confirm
        their e-mail and accept both attestations (SG-3); the last valid signature submits
        the application (SG-6)."""
        accepted = frozenset(attestations)
        if accepted != _BOTH:
            missing = sorted(a.value for a in _BOTH - accepted)
            raise ValidationError(
                "signature.attestations",
                f"Accept both attestations to sign electronically; missing: {', '.join(missing)} (SG-3).",
                missing=missing,
            )
        with self.runtime.transaction() as tx:
            signer_id = tx.act(actor, fresh_within=self.signing_window).id
            app, revision, sheet, request, facts, role = self._signable(
                tx, application_id, signer_id, slot, digest
            )
            expected = self._email_on_record(tx, revision, request.slot, signer_id)
            if expected is None or confirmed_email.strip().casefold() != expected.casefold():
                raise ValidationError(
                    "signature.email_mismatch",
                    "The e-mail you confirmed is not the one on record for this signer; "
                    "confirm your own e-mail address (SG-3).",
                    slot=slot,
                )
            signature = self._signature(
                tx, request, revision, facts, role, SignatureMethod.ELECTRONIC
            )
            stored = self._record(tx, app, revision, sheet, signature)
            tx.commit()
        return stored

    @use_case
    def sign_on_paper(
        self,
        application_id: Text,
        *,
        actor: Principal,
        slot: Text,
        digest: Digest,
        signer_name: Text,
        filename: Text,
        data: bytes,
    ) -> Application:
        """Fill *slot* with a wet-ink certification statement (SG-3 amended), scanned and
        uploaded by the actor (PECOS access, a recent login: EN-2, AC-8) for the revision
        with *digest* (SG-9). *signer_name* is the signer as listed on the record in the
        slot's capacity (the practitioner, an AO or a DO), who needs no I&A account. The
        statement is PDF or TIFF (EN-5); the last signature submits (SG-6).

        Paper is slower than signing electronically (the agenda says so): prefer
        :meth:`sign_electronically` whenever the signer has an account.
        """
        info = inspect_document(filename, data, policy=self.document_policy)
        with self.runtime.transaction() as tx:
            app, uploaded_by = self._load_for(
                tx, application_id, actor, fresh_within=self.signing_window
            )
            revision, sheet, request = self._open_slot(tx, app, slot, digest)
            listed = paper_signers(request.slot, revision.content)
            name = next((n for n in listed if same_name(n, signer_name)), None)
            if name is None:
                raise NotPermittedError(
                    "signature.not_listed",
                    f"{excerpt(signer_name)} is not listed on the application as "
                    f"{request.slot.describe()}; a paper signature is accepted only from "
                    f"someone listed in the slot's capacity ({', '.join(listed) or 'nobody'}; "
                    "SG-1, SG-3).",
                    slot=slot,
                )
            official = next(
                (
                    o
                    for o in revision.content.officials_named(name)
                    if o.role in request.slot.record_roles
                ),
                None,
            )
            signer_id = official.account_id if official is not None else None
            if request.slot.party is SlotParty.PRACTITIONER:
                profile = tx.repo(PROFILES).get(app.profile_id)
                signer_id = profile.owner_id if profile is not None else None
            signature = Signature(
                id=tx.new_id("sig"),
                request_id=request.id,
                slot=request.slot.name,
                signer_id=signer_id,
                role=None,
                record_role=official.role if official is not None else None,
                method=SignatureMethod.PAPER,
                signed_at=tx.now,
                revision=revision.number,
                digest=revision.digest,
                statement_sha256=info.sha256,
                uploaded_by=uploaded_by,
                signer_name=name,
            )
            self.documents.put(info.sha256, bytes(data))
            stored = self._record(tx, app, revision, sheet, signature)
            tx.commit()
        return stored

    @use_case
    def decline(
        self,
        application_id: Text,
        *,
        actor: Principal,
        slot: Text,
        reason: Annotated[str, Limit(chars=5000)],
    ) -> Application:
        """The actor, a signer of *slot*, declines with a reason: back to draft, the
        preparer is told (SG-7)."""
        if not reason.strip():
            raise ValidationError("signature.decline_reason", "Give a reason for declining (SG-7).")
        with self.runtime.transaction() as tx:
            signer_id = tx.act(actor).id
            app, _revision, sheet, request, _facts, _role = self._signable(
                tx, application_id, signer_id, slot, None
            )
            declined = app.decline(now=tx.now)
            tx.repo(SIGNATURE_SHEETS).save(sheet.decline(request.id, reason=reason, now=tx.now))
            stored = tx.save(
                APPLICATIONS,
                declined,
                "signature.declined",
                actor=signer_id,
                request_id=request.id,
                slot=slot,
                revision=request.revision,
                reason=reason,
            )
            tx.notify(
                Notification(
                    self.contacts.email_of(tx, app.created_by) or app.created_by,
                    "signature.declined",
                    {"application_id": app.id, "slot": slot, "reason": reason},
                )
            )
            tx.commit()
        return stored

    # -- helpers ------------------------------------------------------------------------

    def _signable(
        self,
        tx: Transaction,
        application_id: str,
        signer_id: str,
        slot: str,
        digest: str | None,
    ) -> tuple[Application, Revision, SignatureSheet, SignatureRequest, SignerFacts, Role]:
        app = require(tx.repo(APPLICATIONS), application_id, what="application")
        revision, sheet, request = self._open_slot(tx, app, slot, digest)
        facts = self._facts(tx, app, revision, request.slot, signer_id)
        role = eligibility(request.slot, facts).require()
        return app, revision, sheet, request, facts, role

    def _open_slot(
        self, tx: Transaction, app: Application, slot: str, digest: str | None
    ) -> tuple[Revision, SignatureSheet, SignatureRequest]:
        """The current revision, its sheet and the open request of *slot*, once the
        application awaits signatures and *digest* (if given) is current (SG-9)."""
        status = app.status_at(tx.now)
        revision = app.current_revision
        if status is not ApplicationStatus.PENDING_SIGNATURES or revision is None:
            raise InvalidTransitionError(
                "signature.not_pending",
                f"The application is {status.label}; only an application pending signatures "
                "can be signed or declined.",
                application_id=app.id,
                status=status.value,
            )
        if digest is not None and digest != revision.digest:
            raise ConflictError(
                "signature.stale_revision",
                f"The application was revised since you reviewed it: revision "
                f"{revision.number} is current. Review revision {revision.number} and sign "
                "that one (SG-9).",
                application_id=app.id,
                revision=revision.number,
                digest=revision.digest,
                given_digest=digest[:128],
            )
        sheet = require(tx.repo(SIGNATURE_SHEETS), app.id, what="signature sheet")
        return revision, sheet, sheet.open_request(revision, slot)

    def _email_on_record(
        self, tx: Transaction, revision: Revision, slot: SignerSlot, signer_id: str
    ) -> str | None:
        content = revision.content
        if (
            slot.party is SlotParty.PRACTITIONER
            and content.practitioner
            and content.practitioner.email
        ):
            return content.practitioner.email
        official = content.official_for(signer_id)
        if official is not None and official.email:
            return official.email
        return self.contacts.email_of(tx, signer_id)

    def _signature(
        self,
        tx: Transaction,
        request: SignatureRequest,
        revision: Revision,
        facts: SignerFacts,
        role: Role,
        method: SignatureMethod,
    ) -> Signature:
        return Signature(
            id=tx.new_id("sig"),
            request_id=request.id,
            slot=request.slot.name,
            signer_id=facts.user_id,
            role=role,
            record_role=facts.official.role if facts.official else None,
            method=method,
            signed_at=tx.now,
            revision=revision.number,
            digest=revision.digest,
        )

    def _record(
        self,
        tx: Transaction,
        app: Application,
        revision: Revision,
        sheet: SignatureSheet,
        signature: Signature,
    ) -> Application:
        signed = sheet.add_signature(signature)
        complete = signed.is_complete(revision)
        tx.repo(SIGNATURE_SHEETS).save(signed)
        acted = signature.uploaded_by or signature.signer_id or "?"
        stored = tx.save(
            APPLICATIONS,
            app.record_signature(complete=complete, now=tx.now),
            "signature.signed",
            actor=acted,
            **signed_event_data(signature),
        )
        if complete:
            sync_record(tx, stored)  # EN-10, EN-11: a filed revalidation, a development answered
            tx.record(
                "application.submitted",
                subject=app.id,
                actor=acted,
                revision=revision.number,
                digest=revision.digest,
            )
            tx.notify(
                Notification(
                    self.contacts.email_of(tx, app.created_by) or app.created_by,
                    "application.submitted",
                    {"application_id": app.id, "revision": str(revision.number)},
                )
            )
        return stored
