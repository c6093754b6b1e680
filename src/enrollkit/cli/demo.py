"""The typical credentialing story, played through the public API on real storage.

Dr. Ana Rivera owns Rivera Pediatrics PLLC; Summit Credentialing LLC (no
NPI) works her Medicare enrollment. The story runs every capability once:
accounts and MFA, organizations and profiles, the provider's office manager
as her Access Manager, My Pending Connections cleared with Approve All
Selected, an explained refusal, a staff invitation with a PIN, an 855I with a
reassignment, two signers, a correction that makes both sign again,
submission, a paper signature for an official without an I&A account (and
the agenda's warning), a request rejected after 30 days without an answer,
the agenda and the audit chain's verification.

:func:`play` returns a :class:`DemoReport` (steps in plain words, the
agenda, the audit trail) that the CLI prints as text or JSON.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any, TypeVar

import attrs

from enrollkit.access import Action, Employer, InMemoryProofer, InMemoryVerifier, Role, System
from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    Address,
    AgendaItem,
    ApplicationContent,
    Form,
    InMemoryNppesDirectory,
    Kind,
    NppesRecord,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
    Reassignment,
)
from enrollkit.errors import EnrollkitError
from enrollkit.identity import (
    IA_ACCOUNT_POLICY,
    Authenticated,
    FactorKind,
    MfaRequired,
    NewFactor,
    Profile,
)
from enrollkit.kit import Enrollkit
from enrollkit.notify import InMemoryNotifier
from enrollkit.npi import NPI, NPIType
from enrollkit.principals import PrincipalKind
from enrollkit.runtime import SequentialIds
from enrollkit.signatures import Attestation
from enrollkit.storage import Storage

T = TypeVar("T")

__all__ = [
    "DEMO_START",
    "RECORD_ITEM_KINDS",
    "SAMPLE_REVALIDATION_LIST",
    "DemoReport",
    "DemoStep",
    "play",
]

#: When the story starts (the demo's clock then moves by hand).
DEMO_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

#: Item 9 of issue 13: a small revalidation list shipped with the package, as CMS writes it;
#: fictitious people and organizations (the NPIs have valid check digits, NPI-2).
SAMPLE_REVALIDATION_LIST = "sample_revalidation_list.csv"
#: The agenda items the enrollment record drives (EN-7, EN-11).
RECORD_ITEM_KINDS = ("revalidation.due", "revalidation.mac_notice", "record.reactivate")
_ANA_NPI = "1234567893"  # Type 1: Dr. Ana Rivera
_PLLC_NPI = "1245319599"  # Type 2: Rivera Pediatrics PLLC
_OFFICE = Address("480 Harbor Boulevard", "Annapolis", "MD", "21401", line2="Suite 210")


@attrs.frozen
class DemoStep:
    """One step of the story: a title and what happened, in plain words."""

    number: int
    title: str
    lines: tuple[str, ...]


@attrs.frozen
class DemoReport:
    """Everything the demo did and found."""

    database: str
    people: tuple[tuple[str, str], ...]  #: (account id, name) of the story's people
    steps: tuple[DemoStep, ...]
    agenda: tuple[AgendaItem, ...]
    audit: tuple[tuple[int, str, str, str | None, str], ...]  #: (seq, time, event, actor, subject)
    audit_ok: bool
    audit_reason: str | None

    def to_data(self) -> dict[str, Any]:
        """JSON-ready data of the whole report."""
        return {
            "database": self.database,
            "people": dict(self.people),
            "steps": [
                {"step": s.number, "title": s.title, "lines": list(s.lines)} for s in self.steps
            ],
            "agenda": [
                {
                    "kind": i.kind,
                    "due": i.due.isoformat(),
                    "days_left": i.days_left,
                    "title": i.title,
                    "rule": i.rule,
                }
                for i in self.agenda
            ],
            "audit": {
                "verified": self.audit_ok,
                "reason": self.audit_reason,
                "entries": [
                    {"seq": seq, "at": at, "event": name, "actor": actor, "subject": subject}
                    for seq, at, name, actor, subject in self.audit
                ],
            },
        }

    def to_text(self) -> str:
        """The story as a person reads it."""
        names = dict(self.people)
        out: list[str] = ["enrollkit demo: a credentialing story", f"database: {self.database}", ""]
        for step in self.steps:
            out.append(f"{step.number:>2}. {step.title}")
            out += [f"    {line}" for line in step.lines]
            out.append("")
        out.append("Agenda for Dr. Ana Rivera (what is due, EN-9):")
        if not self.agenda:
            out.append("    nothing due")
        for item in self.agenda:
            out.append(f"    {item.due.date().isoformat()}  {item.days_left:>3} days  {item.title}")
        out.append("")
        out.append(f"Audit trail ({len(self.audit)} entries, hash-chained, AU-1):")
        for seq, at, name, actor, subject in self.audit:
            who = names.get(actor, actor) if actor else "system"
            out.append(f"    #{seq:<3} {at[:16]}  {name:<34} by {who:<12} on {subject}")
        verdict = (
            "verified: every entry links to the one before"
            if self.audit_ok
            else (f"BROKEN: {self.audit_reason}")
        )
        out.append(f"Audit chain {verdict}.")
        return "\n".join(out)


class _Story:
    def __init__(self, kit: Enrollkit, clock: FixedClock, outbox: InMemoryNotifier) -> None:
        self.kit = kit
        self.clock = clock
        self.outbox = outbox
        self.steps: list[DemoStep] = []
        self.names: dict[str, str] = {}
        self.passwords: dict[str, tuple[str, str]] = {}

    @contextmanager
    def step(self, title: str) -> Iterator[list[str]]:
        lines: list[str] = []
        yield lines
        self.steps.append(DemoStep(len(self.steps) + 1, title, tuple(map(self.readable, lines))))

    def readable(self, text: str) -> str:
        """*text* with account ids replaced by the people's names."""
        for account, name in self.names.items():
            text = text.replace(account, name)
        return text

    def register(self, user_id: str, first: str, last: str, email: str) -> str:
        questions = IA_ACCOUNT_POLICY.question_catalogue[:3]
        password = f"{first[0]}q#Harbor{len(last)}"
        account = self.kit.identity.register(
            user_id=user_id,
            password=password,
            profile=Profile(first, last, email),
            security_answers={q: f"answer {i}" for i, q in enumerate(questions)},
            factor=NewFactor(FactorKind.EMAIL, email),
        )
        self.names[account.id] = first
        self.names[f"{PrincipalKind.MAC.value}:novitas-7"] = "the MAC"
        self.passwords[account.id] = (user_id, password)
        return account.id

    def login(self, account_id: str) -> Authenticated:
        """Both login steps (AC-5): the password, then the code e-mailed to the person.
        The answer holds the principal every use case acts for (AC-8)."""
        user_id, password = self.passwords[account_id]
        first = self.kit.identity.login(user_id, password)
        if not isinstance(first, MfaRequired):
            raise _broken(f"{user_id}'s login should ask for a code; it answered {first!r}")
        email = self.kit.identity.get(account_id).profile.email
        done = self.kit.identity.verify_code(user_id, self.secret_sent(email, "mfa.code"))
        if not isinstance(done, Authenticated):
            raise _broken(f"{user_id}'s code should log them in; it answered {done!r}")
        return done

    def secret_sent(self, recipient: str, template: str) -> str:
        """The code or PIN the notifier was given for *recipient* (what they would read)."""
        note = self.outbox.last(recipient, template)
        if note is None or note.secret is None:
            raise _broken(f"no {template} with a secret was sent to {recipient}")
        return note.secret

    def mail_to(self, recipient: str, template: str) -> str:
        note = self.outbox.last(recipient, template)
        return f"e-mail to {recipient}: {template}" if note else f"(no {template} for {recipient})"


def play(storage: Storage, *, database: str, secret_key: bytes | None = None) -> DemoReport:
    """Play the story on *storage* (empty) and report what happened.

    *secret_key* seals the story's principals (AC-8); by default a new random key,
    as the demo's logins are not kept."""
    clock = FixedClock(DEMO_START)
    outbox = InMemoryNotifier()
    verifier = InMemoryVerifier()
    proofer = InMemoryProofer()
    nppes = InMemoryNppesDirectory()
    kit = Enrollkit(
        storage=storage,
        secret_key=secret_key if secret_key is not None else secrets.token_bytes(32),
        clock=clock,
        notifier=outbox,
        ids=SequentialIds(),
        verifier=verifier,
        proofer=proofer,
        nppes=nppes,
    )
    story = _Story(kit, clock, outbox)
    access, enrollment, signatures = kit.access, kit.enrollment, kit.signatures

    with story.step("Four people open I&A accounts") as say:
        ana = story.register("ARivera1", "Ana", "Rivera", "ana@riverapeds.example")
        ben = story.register("BOkafor7", "Ben", "Okafor", "ben@riverapeds.example")
        carla = story.register("CMendez3", "Carla", "Mendez", "carla@summitcred.example")
        dana = story.register("DPark22", "Dana", "Park", "dana@summitcred.example")
        say.append("Dr. Ana Rivera (provider), Ben Okafor (her office manager),")
        say.append("Carla Mendez (owner of Summit Credentialing) and Dana Park (a credentialer).")
        signed_in = {who: story.login(who) for who in (ana, ben, carla, dana)}
        done = signed_in[ana]
        say.append(
            "Each logs in: password, then the 6-digit code e-mailed to them (AC-5); Ana's "
            f"password is good for {done.days_until_expiry} more days (PW-12)."
        )
        say.append("Every step below acts for one of these logins, never for a bare name (AC-8).")
        as_ana, as_ben, as_carla, as_dana = (
            signed_in[w].principal for w in (ana, ben, carla, dana)
        )

    with story.step("Ana's two provider profiles and the credentialing company") as say:
        nppes.put(_at_the_office(_ANA_NPI, "Ana Rivera MD", NPIType.INDIVIDUAL))
        proofer.approve(_ANA_NPI, ana, reference="IDP-20260302-1")
        claim = access.claim_individual_profile(
            actor=as_ana, npi=_ANA_NPI, legal_name="Ana Rivera MD"
        )
        individual = _must(claim.profile, "Ana's proven individual profile")
        pllc = access.register_organization(
            actor=as_ana, legal_name="Rivera Pediatrics PLLC", npi=_PLLC_NPI
        )
        pllc_profile = _must(pllc.profile, "the PLLC's Type 2 profile")
        verifier.approve(pllc.organization.id, ana, reference="HD-20260302-1")
        access.verify_authorized_official(actor=as_ana, association_id=pllc.association.id)
        ben_assoc = access.request_association(
            actor=as_ben,
            employer=Employer.organization(pllc.organization.id),
            role=Role.AUTHORIZED_OFFICIAL,
        )
        verifier.approve(pllc.organization.id, ben, reference="HD-20260302-2")
        access.verify_authorized_official(actor=as_ben, association_id=ben_assoc.id)
        summit = access.register_organization(
            actor=as_carla, legal_name="Summit Credentialing LLC", ein="47-1234567"
        )
        verifier.approve(summit.organization.id, carla, reference="HD-20260302-3")
        access.verify_authorized_official(actor=as_carla, association_id=summit.association.id)
        say.append(
            f"{individual.label}: Ana's individual profile, hers once identity proofing "
            "confirmed she is the provider of that active Type 1 NPI (RO-9)."
        )
        say.append(f"{pllc_profile.label}: her company; Ana and Ben are its AOs, verified")
        say.append("by the help desk (RO-3). A provider with a company has two profiles (CO-1).")
        say.append(f"{summit.organization.label}: the surrogate, found by name and EIN (NPI-4).")

    with story.step("Ana makes Ben, her office manager, Access Manager of her own profile") as say:
        asked = access.request_association(
            actor=as_ben,
            employer=Employer.individual_provider(individual.id),
            role=Role.ACCESS_MANAGER,
        )
        access.approve_association(actor=as_ana, association_id=asked.id)
        say.append(
            "Ben asks for the Access Manager role on Ana's individual profile and Ana approves: "
            "only she grants it there (RO-5)."
        )
        decision = access.decide(
            user_id=ben,
            action=Action.MANAGE_CONNECTIONS,
            profile_id=individual.id,
            system=System.PECOS,
        )
        say.append("He may now manage that profile's connections and staff for her:")
        say.append(decision.explain())

    with story.step("Summit asks for both profiles; Ana approves all selected at once") as say:
        for profile in (individual, pllc_profile):
            access.request_connection(
                actor=as_carla,
                surrogate_id=summit.organization.id,
                profile_id=profile.id,
                systems=[System.PECOS, System.NPPES],
            )
        say.append("Ana opens My Pending Connections (CO-9):")
        pending = access.pending_for(actor=as_ana)
        for row in pending:
            asked_for = " and ".join(sorted(s.value for s in row.connection.requested_systems))
            say.append(
                f"  [x] {row.surrogate_name} asks for {row.profile_name} ({asked_for}); "
                f"rejected automatically in {row.days_left} days unless answered"
            )
        approved_all = access.approve_selected(
            actor=as_ana, selections={row.connection_id: None for row in pending}
        )
        say.append("She selects both and presses Approve All Selected: one unit of work.")
        for approved in approved_all:
            systems = " and ".join(sorted(s.value for s in approved.approved_systems))
            say.append(f"Connection {approved.id}: approved for {systems}.")
        say.append("One never implies the other: each profile needs its own connection (CO-1).")

    with story.step("Summit invites Dana as Staff End User; she accepts with the PIN") as say:
        invitation = access.invite(
            actor=as_carla,
            employers=Employer.organization(summit.organization.id),
            name="Dana Park",
            email="dana@summitcred.example",
            role=Role.STAFF_END_USER,
        )
        pin = story.secret_sent("dana@summitcred.example", "access.invitation")
        say.append(
            f"Invitation {invitation.id}: a {len(pin)}-character PIN goes out by e-mail "
            "only; it is stored hashed and expires in 72 hours (RO-7)."
        )
        (joined,) = access.accept_invitation(
            actor=as_dana,
            invitation_id=invitation.id,
            email="dana@summitcred.example",
            pin=pin,
        )
        say.append(f"Dana accepts with her e-mail and the PIN: association {joined.id} is active.")

    with story.step("Dana, a Staff End User, tries to ask for EHR access: refused") as say:
        try:
            access.request_connection(
                actor=as_dana,
                surrogate_id=summit.organization.id,
                profile_id=individual.id,
                systems=[System.EHR],
            )
        except EnrollkitError as refused:
            say.append(f"Refused [{refused.code}]:")
            say.append(refused.message)
        decision = access.decide(
            user_id=dana, action=Action.ACT_ON_BEHALF, profile_id=individual.id, system=System.PECOS
        )
        say.append("But she may work on Ana's PECOS enrollment, and the decision says why:")
        say.append(decision.explain())

    with story.step("Dana prepares Ana's 855I, reassigning benefits to the PLLC") as say:
        content = ApplicationContent(
            legal_business_name="Ana Rivera MD",
            npi=NPI(_ANA_NPI),
            practitioner=Practitioner("Ana", "Rivera", email="ana@riverapeds.example"),
            practice_locations=(PracticeLocation("Harbor office", _OFFICE),),
            officials=(_pllc_ao("Ben Okafor", account_id=ben),),
            reassignment=Reassignment(pllc_profile.id, effective_date=date(2026, 4, 1)),
            effective_date=date(2026, 4, 1),
        )
        app = enrollment.create(
            actor=as_dana,
            profile_id=individual.id,
            form=Form.CMS_855I,
            kind=Kind.REASSIGNMENT,
            content=content,
        )
        enrollment.attach_document(
            app.id, actor=as_dana, filename="md-license.pdf", data=b"%PDF-1.7 state license"
        )
        say.append(f"Application {app.id}: CMS-855I, reassignment to {pllc_profile.label}.")
        say.append("Her access comes from Summit's approved PECOS connection (EN-2, CO-7).")
        say.append("The state license is attached: a PDF, recognised by its content (EN-5).")

    with story.step("Sent for signature: Ana and the PLLC's AO are asked to sign") as say:
        app = signatures.send_for_signature(app.id, actor=as_dana)
        revision = _must(app.current_revision, "the frozen revision")
        say.append(
            f"Revision {revision.number} is frozen, SHA-256 {revision.digest[:16]}... (EN-3);"
        )
        say.append("NPPES agrees with the legal name and address (EN-6).")
        say.append(story.mail_to("ana@riverapeds.example", "signature.requested") + " (section 4A)")
        say.append(story.mail_to("ben@riverapeds.example", "signature.requested") + " (section 4B)")

    _sign_both(story, app.id, ana=ana, ben=ben)
    with story.step("Both sign electronically; the last signature submits it") as say:
        app = enrollment.get(app.id)
        say.append("Ana and Ben confirm their e-mail and both attestations (SG-3).")
        say.append(f"Status: {app.status.value.replace('_', ' ')} (SG-6).")

    with story.step("The MAC asks for a correction") as say:
        clock.advance(days=9)
        mac = kit.identity.assert_operator(
            "novitas-7", kind=PrincipalKind.MAC, asserted_by="demo: the MAC's portal"
        )
        enrollment.start_review(app.id, actor=mac)
        app = enrollment.request_development(
            app.id,
            actor=mac,
            reason="The reassignment cannot start before the PLLC's own effective date; "
            "use 2026-04-15",
        )
        due = app.development_due()
        say.append(
            f"Development requested; the response is due {due.date().isoformat() if due else '?'} (EN-4)."
        )

    with story.step("Dana corrects it: revision 2, and both must sign again") as say:
        clock.advance(days=2)
        corrected = attrs.evolve(
            content,
            reassignment=Reassignment(pllc_profile.id, effective_date=date(2026, 4, 15)),
            effective_date=date(2026, 4, 15),
        )
        as_dana = story.login(dana).principal
        app = enrollment.edit(app.id, actor=as_dana, content=corrected)
        app = signatures.send_for_signature(app.id, actor=as_dana)
        new = _must(app.current_revision, "the corrected revision")
        say.append(
            f"Revision {new.number}, SHA-256 {new.digest[:16]}...: the signatures on "
            f"revision {new.number - 1} no longer count (SG-5)."
        )
        say.append(story.mail_to("ana@riverapeds.example", "signature.requested"))
        say.append(story.mail_to("ben@riverapeds.example", "signature.requested"))
        say.append("Ana's agenda now (EN-9):")
        for item in kit.agenda(for_user=ana):
            say.append(f"  {item.due.date().isoformat()} ({item.days_left} days) {item.title}")

    _sign_both(story, app.id, ana=ana, ben=ben)
    with story.step("Both sign revision 2; the application is submitted again") as say:
        app = enrollment.get(app.id)
        certificate = signatures.certificate(app.id, actor=as_dana)
        say.append(f"Status: {app.status.value.replace('_', ' ')}.")
        counting = sum(1 for e in certificate.entries if e.counts)
        say.append(
            f"Signature certificate: {len(certificate.entries)} signatures, {counting} count "
            f"for revision {new.number}; "
            + (
                "verified against the audit chain (SG-8)."
                if certificate.verified
                else "NOT verified."
            )
        )

    with story.step("The PLLC's AO on the record has no I&A account: a paper signature") as say:
        clock.advance(days=1)
        nppes.put(_at_the_office(_PLLC_NPI, "Rivera Pediatrics PLLC", NPIType.ORGANIZATION))
        as_dana = story.login(dana).principal
        change = enrollment.create(
            actor=as_dana,
            profile_id=pllc_profile.id,
            form=Form.CMS_855B,
            kind=Kind.CHANGE_OF_INFORMATION,
            content=ApplicationContent(
                legal_business_name="Rivera Pediatrics PLLC",
                npi=NPI(_PLLC_NPI),
                practice_locations=(PracticeLocation("Harbor office", _OFFICE),),
                officials=(_pllc_ao("Grace Lee"),),
            ),
        )
        change = signatures.send_for_signature(change.id, actor=as_dana)
        say.append(
            f"Dana prepares the PLLC's 855B change ({change.id}); the AO listed on the record is "
            "Grace Lee, its medical director, who has no I&A account."
        )
        say.append(story.mail_to("grace@riverapeds.example", "signature.paper_requested"))
        warning = next(
            i for i in kit.agenda(for_profile=pllc_profile.id) if i.kind == "signature.paper"
        )
        say.append(f"The PLLC's agenda warns (SG-3): {warning.title}")
        clock.advance(days=6)
        as_dana = story.login(dana).principal
        revision = _must(change.current_revision, "the 855B revision")
        change = signatures.sign_on_paper(
            change.id,
            actor=as_dana,
            slot="authorized_or_delegated_official",
            digest=revision.digest,
            signer_name="Grace Lee",
            filename="855b-certification-signed.pdf",
            data=b"%PDF-1.7 certification statement, wet-ink signature of Grace Lee",
        )
        say.append(
            "Six days later Grace's wet-ink statement arrives; Dana uploads the scan for her "
            f"(PDF, EN-5). Status: {change.status.value.replace('_', ' ')}, signed on paper."
        )

    with story.step("A request nobody answers auto-rejects after 30 days") as say:
        late = access.request_connection(
            actor=story.login(carla).principal,
            surrogate_id=summit.organization.id,
            profile_id=individual.id,
            systems=[System.EHR],
        )
        say.append(f"Summit asks for EHR access ({late.id}); nobody acts on it.")
        clock.advance(days=30)
        state = access.connection_state(late.id)
        say.append(f"30 days later a plain read sees it {state.label}, no sweep needed (CO-5).")
        swept = access.sweep_expired_connections()
        say.append(f"The optional sweep records {len(swept)} expiry as an audit event.")

    with story.step("Summit imports CMS's revalidation list; the agenda it drives") as say:
        sample = resources.files("enrollkit.cli").joinpath(SAMPLE_REVALIDATION_LIST)
        with sample.open(encoding="utf-8") as lines:
            imported = kit.records.import_revalidation_list(
                actor=story.login(carla).principal,
                lines=lines,
                source="sample revalidation list (fictitious providers)",
            )
        say.append(
            f"{imported.rows} rows of a sample list (fictitious providers) land in one unit "
            f"of work: {len(imported.new)} enrollment records (EN-10)."
        )
        for record in kit.records.for_npi(NPI(_ANA_NPI)):
            due_text = record.due.isoformat() if record.due else "TBD"
            say.append(
                f"Ana's enrollment {record.enrollment_id} in {record.state}: due {due_text}."
            )
        for item in kit.agenda(for_user=ana):
            if item.kind in RECORD_ITEM_KINDS:
                say.append(f"Ana's agenda ({item.rule}): {item.title}")

    agenda = kit.agenda(for_user=ana)
    audit = storage.audit
    entries = audit.entries()
    verification = audit.verify()
    return DemoReport(
        database=database,
        people=tuple(story.names.items()),
        steps=tuple(story.steps),
        agenda=agenda,
        audit=tuple(
            (e.seq, e.event.at.isoformat(), e.event.name, e.event.actor, e.event.subject)
            for e in entries
        ),
        audit_ok=verification.ok,
        audit_reason=verification.reason,
    )


def _at_the_office(npi: str, name: str, npi_type: NPIType) -> NppesRecord:
    """The NPPES record of *npi*: *name*, practising at the Harbor office."""
    return NppesRecord(NPI(npi), name, practice_addresses=(_OFFICE,), npi_type=npi_type)


def _pllc_ao(name: str, account_id: str | None = None) -> Official:
    """*name*, listed as the PLLC's authorized official, with a riverapeds address."""
    email = f"{name.split()[0].lower()}@riverapeds.example"
    return Official(name, OfficialRole.AUTHORIZED_OFFICIAL, email=email, account_id=account_id)


def _broken(what: str) -> EnrollkitError:
    return EnrollkitError("demo.broken", f"The demo story went off script: {what}.")


def _must(value: T | None, what: str) -> T:
    if value is None:
        raise _broken(f"{what} is missing")
    return value


def _sign_both(story: _Story, application_id: str, *, ana: str, ben: str) -> None:
    """Each signer logs in again (signing wants a login of the last 15 minutes, AC-8) and
    signs the revision they reviewed, named by its digest (SG-9)."""
    story.clock.advance(hours=20)
    revision = _must(
        story.kit.enrollment.get(application_id).current_revision, "the revision to sign"
    )

    def sign(user_id: str, slot: str, email: str) -> None:
        story.kit.signatures.sign_electronically(
            application_id,
            actor=story.login(user_id).principal,
            slot=slot,
            digest=revision.digest,
            confirmed_email=email,
            attestations=set(Attestation),
        )

    sign(ana, "individual", "ana@riverapeds.example")
    story.clock.advance(hours=4)
    sign(ben, "receiving_organization", "ben@riverapeds.example")
