"""Enrollment use cases: one transaction each (Rules EN-2..EN-6, EN-8 data).

Signing and everything that opens or closes signature requests (send,
revise, sign, decline, withdraw) lives in
:class:`enrollkit.signatures.SignatureService`, which builds on this package;
this service prepares applications and records what the MAC does with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Annotated, Final, Unpack

import attrs

from enrollkit.access import PROFILES, System
from enrollkit.boundary import Limit, Text, boundary
from enrollkit.clock import ensure_utc
from enrollkit.enrollment._access import (
    require_application_access,
    require_pecos_access,
    require_profile_npi,
)
from enrollkit.enrollment._agenda import AgendaQuery, profiles_in_scope, records_in_scope
from enrollkit.enrollment._application import APPLICATIONS, Application, adds_location
from enrollkit.enrollment._changes import (
    BOTH_SYSTEMS,
    REPORTABLE_CHANGES,
    REPORTING_SYSTEMS,
    ReportableChange,
)
from enrollkit.enrollment._checklist import FEE_DOCUMENTS, RequirementsStatus
from enrollkit.enrollment._content import ApplicationContent, DocumentKind, DocumentRef
from enrollkit.enrollment._deadlines import ChangeKind, DeadlinePolicy
from enrollkit.enrollment._documents import (
    inspect_document,
)
from enrollkit.enrollment._forms import Form, Kind, ProviderCategory, ProviderType
from enrollkit.enrollment._nppes import (
    NppesMismatch,
    compare_with_nppes,
)
from enrollkit.enrollment._ports import PortedService, ServiceSettings
from enrollkit.enrollment._record import ENROLLMENT_RECORDS, EnrollmentRecord
from enrollkit.enrollment._record_sync import record_of_application, sync_record
from enrollkit.enrollment._reports import (
    ApprovedEnrollmentRecord,
    MedicareIdRow,
    PendingReassignmentRow,
    ReassignmentRow,
    RevalidationRow,
    approved_record,
    medicare_id_report,
    pending_reassignments,
    reassignment_report,
    record_medicare_ids,
    revalidation_list,
)
from enrollkit.errors import NotPermittedError, ValidationError
from enrollkit.notify import Notification
from enrollkit.principals import Principal, PrincipalKind
from enrollkit.runtime import Runtime, Transaction, use_case
from enrollkit.storage import require

__all__ = ["EnrollmentService"]

_DEADLINES: Final = DeadlinePolicy()
_RECEIVING: Final = ENROLLMENT_RECORDS.index("receiving")
_ENROLLMENT_ID: Final = ENROLLMENT_RECORDS.index("enrollment_id")
_PROFILES_BY_NPI: Final = PROFILES.index("npi")
_MAC: Final = frozenset({PrincipalKind.MAC})

#: Reasons and descriptions (ER-1).
Prose = Annotated[str, Limit(chars=5000)]


def _reassignment_records(
    tx: Transaction, profile_id: str
) -> tuple[tuple[EnrollmentRecord, ...], dict[str, str]]:
    """EN-10: the enrollment records whose reassignments concern *profile_id* (its own
    records, and the records reassigning to one of them), and the profile of each
    enrollment involved that enrollkit knows (by NPI)."""
    records = tx.repo(ENROLLMENT_RECORDS)
    own = [r for _, r in records_in_scope(tx, AgendaQuery(tx.now, profile_id=profile_id))]
    found = {r.id: r for r in own}
    for record in own:
        found.update((r.id, r) for r in records.find(_RECEIVING, record.enrollment_id))
    involved = {
        eid
        for record in found.values()
        for link in record.reassignments
        for eid in (link.individual_enrollment_id, link.receiving_enrollment_id)
    }
    profile_of = {}
    for eid in sorted(involved):
        for record in records.find(_ENROLLMENT_ID, eid):
            for profile in tx.repo(PROFILES).find(_PROFILES_BY_NPI, record.npi.value):
                profile_of[eid] = profile.id
    return tuple(found[k] for k in sorted(found)), profile_of


class EnrollmentService(PortedService):
    """Prepare applications and record the MAC's handling of them.

    Ports (:class:`~enrollkit.enrollment.EnrollmentPorts`): ``documents`` keeps document
    bytes (EN-5), ``nppes`` answers the EN-6 comparison, ``contacts`` turns account ids
    into e-mail addresses; in-memory ones for those left out. *requirements* holds the
    document checklist (EN-13) and the fee schedule (EN-15): CMS's as shipped.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        deadlines: DeadlinePolicy = _DEADLINES,
        **settings: Unpack[ServiceSettings],
    ) -> None:
        super().__init__(runtime, **settings)
        self.deadlines = deadlines

    # -- preparing (EN-2) ---------------------------------------------------------------

    @use_case
    def create(
        self,
        *,
        actor: Principal,
        profile_id: Text,
        form: Form,
        kind: Kind,
        content: ApplicationContent | None = None,
        provider_type: ProviderType | None = None,
    ) -> Application:
        """Start a draft for *profile_id*; the actor needs PECOS access to it (EN-1, EN-2).

        *provider_type* says who files it (the form's default when left out: a practitioner
        group for an 855B; a CMS-588 must say): the documents (EN-13), the fee (EN-15) and
        a 588's signer (SG-1) follow from it."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            app = Application.start(
                id=tx.new_id("app"),
                profile_id=profile_id,
                form=form,
                kind=kind,
                created_by=who,
                now=tx.now,
                content=content,
                provider_type=provider_type,
            )
            grant = require_application_access(tx, user_id=who, application=app)
            require_profile_npi(tx, app)
            stored = tx.add(
                APPLICATIONS,
                app,
                "application.created",
                actor=who,
                profile_id=profile_id,
                form=form.value,
                kind=kind.value,
                provider_type=app.provider_type.value,
                grant=grant.kind.value,
            )
            tx.commit()
        return stored

    @boundary
    def get(self, application_id: Text) -> Application:
        """The application with this id (NotFoundError otherwise).

        No access check: a read for the host and the MAC side; provider-facing reads are
        the reports, which ask access (EN-2).
        """
        return self.runtime.load(APPLICATIONS, application_id, what="application")

    def _load_for(
        self, tx: Transaction, application_id: str, actor: Principal
    ) -> tuple[Application, str]:
        """The application and the acting account id, once the actor is authenticated
        (AC-8) and has PECOS access to the application's profile (EN-2)."""
        who = tx.act(actor).id
        app = require(tx.repo(APPLICATIONS), application_id, what="application")
        require_application_access(tx, user_id=who, application=app)
        return app, who

    @use_case
    def edit(
        self, application_id: Text, *, actor: Principal, content: ApplicationContent
    ) -> Application:
        """Replace the working content of a draft or a development response (EN-2, EN-3)."""
        with self.runtime.transaction() as tx:
            app, who = self._load_for(tx, application_id, actor)
            before = app.status
            changed = app.edit(content, now=tx.now)
            require_profile_npi(tx, changed)
            stored = tx.save(
                APPLICATIONS,
                changed,
                "application.edited",
                actor=who,
                status_before=before.value,
                status=changed.status.value,
            )
            tx.commit()
        return stored

    @use_case
    def attach_document(
        self,
        application_id: Text,
        *,
        actor: Principal,
        filename: Text,
        data: bytes,
        description: Prose = "",
        kind: DocumentKind | None = None,
    ) -> DocumentRef:
        """Attach a PDF or TIFF (by content, EN-5); the bytes go to the document store.
        *kind* says what it is (an IRS letter, a state license, the fee receipt...): the
        checklist (EN-13) and the fee (EN-15) count documents by kind."""
        inspected = inspect_document(filename, data, policy=self.document_policy)
        with self.runtime.transaction() as tx:
            app, who = self._load_for(tx, application_id, actor)
            ref = inspected.ref(
                id=tx.new_id("doc"),
                uploaded_at=tx.now,
                uploaded_by=who,
                description=description,
                kind=kind,
            )
            changed = app.attach(ref, now=tx.now)
            self.documents.put(inspected.sha256, bytes(data))
            tx.save(
                APPLICATIONS,
                changed,
                "application.document_attached",
                actor=who,
                document_id=ref.id,
                filename=ref.filename,
                media_type=ref.media_type.value,
                size=ref.size,
                kind=kind.value if kind is not None else None,
            )
            tx.commit()
        return ref

    @use_case
    def detach_document(
        self, application_id: Text, *, actor: Principal, document_id: Text
    ) -> Application:
        """Remove a supporting document from a draft."""
        with self.runtime.transaction() as tx:
            app, who = self._load_for(tx, application_id, actor)
            stored = tx.save(
                APPLICATIONS,
                app.detach(document_id, now=tx.now),
                "application.document_detached",
                actor=who,
                document_id=document_id,
            )
            tx.commit()
        return stored

    # -- checklist and fee (EN-13, EN-15) ----------------------------------------------

    @boundary
    def requirements_of(self, application_id: Text, *, actor: Principal) -> RequirementsStatus:
        """What the application needs before it is sent for signature and what it still
        lacks: the checklist's documents (EN-13) and, where due, the application fee for
        this calendar year (EN-15); the actor needs PECOS access (EN-2)."""
        with self.runtime.transaction() as tx:
            app, _who = self._load_for(tx, application_id, actor)
            history = tx.repo(APPLICATIONS).find(APPLICATIONS.index("profile"), app.profile_id)
            year = tx.now.year
        rules = self.requirements
        required = rules.checklist_for(app.form, app.kind, app.provider_type)
        fee = rules.fee_for(
            app.form,
            app.kind,
            app.provider_type,
            year=year,
            new_location=adds_location(app, history),
        )
        return RequirementsStatus(
            required=required,
            missing=tuple(r.name for r in required if not r.met_by(app.documents)),
            fee=fee,
            fee_covered=any(d.kind in FEE_DOCUMENTS for d in app.documents),
        )

    # -- NPPES (EN-6) -------------------------------------------------------------------

    @boundary
    def check_nppes(self, application_id: Text, *, actor: Principal) -> tuple[NppesMismatch, ...]:
        """Every difference between the working copy and NPPES, with both values (EN-6):
        blocking ones first (``blocking=True``), then information."""
        with self.runtime.transaction() as tx:
            app, _who = self._load_for(tx, application_id, actor)
        record = self.nppes.lookup(app.content.npi) if app.content.npi else None
        return compare_with_nppes(
            app.content, record, form=app.form, provider_type=app.provider_type
        )

    @use_case
    def acknowledge_nppes(
        self, application_id: Text, *, actor: Principal
    ) -> tuple[NppesMismatch, ...]:
        """The preparer accepts the current blocking NPPES differences; recorded with who and
        when (EN-6). Returns what was acknowledged (information needs no acknowledgement)."""
        with self.runtime.transaction() as tx:
            app, who = self._load_for(tx, application_id, actor)
            if app.created_by != who:
                raise NotPermittedError(
                    "nppes.acknowledge_preparer",
                    "Only the application's preparer acknowledges NPPES differences (EN-6).",
                    application_id=app.id,
                )
            record = self.nppes.lookup(app.content.npi) if app.content.npi else None
            mismatches = tuple(
                m
                for m in compare_with_nppes(
                    app.content, record, form=app.form, provider_type=app.provider_type
                )
                if m.blocking
            )
            if not mismatches:
                raise ValidationError(
                    "nppes.nothing_to_acknowledge",
                    "Nothing blocks sending: the application agrees with NPPES on legal name, "
                    "NPI type and status and the primary practice location (EN-6).",
                    application_id=app.id,
                )
            tx.save(
                APPLICATIONS,
                app.acknowledge_nppes(mismatches, by=who, now=tx.now),
                "application.nppes_acknowledged",
                actor=who,
                mismatches=[m.as_dict() for m in mismatches],
            )
            tx.commit()
        return mismatches

    # -- changes to report (EN-7) -------------------------------------------------------

    @use_case
    def record_change(
        self,
        *,
        actor: Principal,
        profile_id: Text,
        form: Form,
        change: ChangeKind,
        occurred_on: date,
        description: Prose,
        system: System = System.PECOS,
        category: ProviderCategory | None = None,
        new_value: Prose | None = None,
    ) -> ReportableChange:
        """Record a change that must be reported to *system* within its window (EN-7); it
        shows on the agenda until reported.

        *category* sets the PECOS window (default: the form's, :attr:`Form.default_category`:
        say ``ProviderCategory.INSTITUTIONAL`` for an 855B supplier that is not a
        practitioner group). A change of legal name, practice location or structure is
        also recorded, linked as ``counterpart_id``, in the other system (EN-14); give
        *new_value* (the new name, the new address on one line) so the NPPES to-do is met
        as soon as the NPPES record shows it.
        """
        if system not in REPORTING_SYSTEMS:
            raise ValidationError(
                "change.system",
                f"Changes are reported to PECOS or NPPES, not {system.value}.",
                system=system.value,
            )
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            require_pecos_access(tx, user_id=who, profile_id=profile_id)
            first = ReportableChange(
                id=tx.new_id("change"),
                profile_id=profile_id,
                form=form,
                change=change,
                occurred_on=occurred_on,
                description=description,
                recorded_by=who,
                recorded_at=tx.now,
                system=system,
                category=category if category is not None else form.default_category,
                new_value=new_value,
            )
            recorded = [first]
            if change in BOTH_SYSTEMS:  # EN-14: the same change, reported independently
                other = System.NPPES if system is System.PECOS else System.PECOS
                twin = attrs.evolve(
                    first, id=tx.new_id("change"), system=other, counterpart_id=first.id
                )
                recorded = [attrs.evolve(first, counterpart_id=twin.id), twin]
            for item in recorded:
                tx.add(
                    REPORTABLE_CHANGES,
                    item,
                    "change.recorded",
                    actor=who,
                    profile_id=profile_id,
                    form=form.value,
                    change=change.value,
                    system=item.system.value,
                    category=item.category.value,
                    occurred_on=occurred_on.isoformat(),
                    due=item.due(self.deadlines).isoformat(),
                    counterpart_id=item.counterpart_id,
                )
            tx.commit()
        return recorded[0]

    @boundary
    def changes(self, profile_id: Text, *, actor: Principal) -> tuple[ReportableChange, ...]:
        """The changes of the profile not yet marked reported, in both systems, oldest
        first (EN-7, EN-14)."""
        with self.runtime.transaction() as tx:
            require_pecos_access(tx, user_id=tx.act(actor).id, profile_id=profile_id)
            found = tx.repo(REPORTABLE_CHANGES).find(
                REPORTABLE_CHANGES.index("open_profile"), profile_id
            )
        return tuple(sorted(found, key=lambda c: (c.occurred_on, c.recorded_at, c.id)))

    @use_case
    def mark_change_reported(self, change_id: Text, *, actor: Principal) -> ReportableChange:
        """Record that the change was reported (to NPPES, or outside enrollkit)."""
        with self.runtime.transaction() as tx:
            who = tx.act(actor).id
            change = require(tx.repo(REPORTABLE_CHANGES), change_id, what="reportable change")
            require_pecos_access(tx, user_id=who, profile_id=change.profile_id)
            if change.reported_at is not None:
                raise ValidationError(
                    "change.already_reported",
                    f"This change was already marked reported on {change.reported_at.date()}.",
                    change_id=change_id,
                )
            stored = tx.save(
                REPORTABLE_CHANGES,
                attrs.evolve(change, reported_at=tx.now),
                "change.reported",
                actor=who,
            )
            tx.commit()
        return stored

    # -- reports (EN-8) ----------------------------------------------------------------

    def _profile_applications(
        self, tx: Transaction, profile_id: str, actor: Principal
    ) -> tuple[Application, ...]:
        require_pecos_access(tx, user_id=tx.act(actor).id, profile_id=profile_id)
        return tuple(tx.repo(APPLICATIONS).find(APPLICATIONS.index("profile"), profile_id))

    @boundary
    def medicare_id_report(
        self, profile_id: Text, *, actor: Principal
    ) -> tuple[MedicareIdRow, ...]:
        """PTAN and Medicare ID of every approved enrollment of the profile (EN-8): its
        enrollment records (EN-10: imported, or written by approvals) and the approved
        applications no record stems from, each enrollment once."""
        with self.runtime.transaction() as tx:
            rows = medicare_id_report(self._profile_applications(tx, profile_id, actor))
            records = records_in_scope(tx, AgendaQuery(tx.now, profile_id=profile_id))
            return record_medicare_ids(
                (r for _, r in records), rows, profile_id=profile_id, now=tx.now
            )

    @boundary
    def revalidation_list(self, *, actor: Principal) -> tuple[RevalidationRow, ...]:
        """When each enrollment the actor may act for revalidates (EN-7, EN-10): the
        records of the profiles in the actor's scope (the agenda's access decision, EN-9)
        with their status on read (EN-11), and, where a profile has no record, the date
        its approved applications give. Soonest first, "TBD" last."""
        with self.runtime.transaction() as tx:
            query = AgendaQuery(tx.now, user_id=tx.act(actor).id)
            records = records_in_scope(tx, query)
            apps = {
                p: tx.repo(APPLICATIONS).find(APPLICATIONS.index("profile"), p)
                for p in profiles_in_scope(tx, query)
            }
            return revalidation_list(records, apps, now=tx.now, policy=self.deadlines)

    @boundary
    def approved_record(
        self, application_id: Text, *, actor: Principal
    ) -> ApprovedEnrollmentRecord:
        """The approved enrollment record of an application (EN-8)."""
        with self.runtime.transaction() as tx:
            app, _who = self._load_for(tx, application_id, actor)
            history = tx.repo(APPLICATIONS).find(APPLICATIONS.index("profile"), app.profile_id)
            record = record_of_application(tx, app) if app.form.revalidates else None
        return approved_record(app, history=history, policy=self.deadlines, record=record)

    @boundary
    def pending_reassignments(
        self, profile_id: Text, *, actor: Principal
    ) -> tuple[PendingReassignmentRow, ...]:
        """Reassignments not yet decided, to or from the profile (EN-8)."""
        with self.runtime.transaction() as tx:
            apps = self._profile_applications(tx, profile_id, actor)
            incoming = tx.repo(APPLICATIONS).find(
                APPLICATIONS.index("reassignment_target"), profile_id
            )
            return pending_reassignments(_unique(apps, incoming), now=tx.now)

    @boundary
    def reassignment_report(
        self, profile_id: Text, *, actor: Principal
    ) -> tuple[ReassignmentRow, ...]:
        """Approved reassignments to or from the profile: PTAN, effective date, revalidation
        due date (EN-8)."""
        with self.runtime.transaction() as tx:
            apps = self._profile_applications(tx, profile_id, actor)
            incoming = tx.repo(APPLICATIONS).find(
                APPLICATIONS.index("reassignment_target"), profile_id
            )
            reassigning = _unique(apps, incoming)
            individuals = _unique(
                *(
                    tx.repo(APPLICATIONS).find(APPLICATIONS.index("profile"), p)
                    for p in {a.profile_id for a in reassigning}
                )
            )
            record_dues = {}  # EN-10: CMS's date on the individual's record wins
            for individual in {a.profile_id for a in reassigning}:
                query = AgendaQuery(tx.now, profile_id=individual)
                dues = sorted(r.due for _, r in records_in_scope(tx, query) if r.due)
                if dues:
                    record_dues[individual] = dues[0]
            records, profile_of = _reassignment_records(tx, profile_id)
            return reassignment_report(
                reassigning,
                individual_enrollments=individuals,
                record_dues=record_dues,
                policy=self.deadlines,
                records=records,
                profile_of=profile_of,
                on=tx.now.date(),
            )

    # -- the MAC's side -----------------------------------------------------------------

    @use_case
    def start_review(self, application_id: Text, *, actor: Principal) -> Application:
        """The MAC takes the submitted application into review (EN-4); *actor* is a MAC
        reviewer's principal (``identity.assert_operator``)."""
        return self._mac(
            application_id,
            actor,
            "application.review_started",
            lambda a, tx: a.start_review(now=tx.now),
        )

    @use_case
    def request_development(
        self, application_id: Text, *, actor: Principal, reason: Prose
    ) -> Application:
        """The MAC asks for corrections; the response is due in 30 days (EN-4), preparer told."""

        def step(app: Application, tx: Transaction) -> Application:
            due = self.deadlines.development_due(tx.now)
            changed = app.request_development(reason=reason, due_at=due, now=tx.now)
            tx.notify(
                Notification(
                    self.contacts.email_of(tx, app.created_by) or app.created_by,
                    "application.development_requested",
                    {"application_id": app.id, "reason": reason, "due": due.date().isoformat()},
                )
            )
            return changed

        return self._mac(
            application_id, actor, "application.development_requested", step, reason=reason
        )

    @use_case
    def extend_development(
        self,
        application_id: Text,
        *,
        actor: Principal,
        due_at: datetime,
        reason: Prose = "",
    ) -> Application:
        """The MAC extends the open development request's due date (EN-7); recorded with
        who granted it, when, and the due date it replaced."""

        def step(app: Application, tx: Transaction) -> Application:
            return app.extend_development(
                due_at=due_at, by=tx.act(actor, kinds=_MAC).audit_id, reason=reason, now=tx.now
            )

        return self._mac(
            application_id,
            actor,
            "application.development_extended",
            step,
            due_at=ensure_utc(due_at).isoformat(),
            reason=reason,
        )

    @use_case
    def approve(
        self,
        application_id: Text,
        *,
        actor: Principal,
        ptan: Text | None,
        medicare_id: Text | None = None,
        effective_date: date | None = None,
        revalidation_due: date | None = None,
        enrollment_id: Text | None = None,
    ) -> Application:
        """The MAC approves, issuing PTAN and Medicare ID (EN-4, EN-8) and, for an initial
        enrollment or a revalidation, the revalidation due date CMS assigned (EN-7: a
        month end; without one, enrollkit estimates it).

        EN-10: the enrollment record follows (:func:`~enrollkit.enrollment.sync_record`):
        the record of *enrollment_id* (the PECOS enrollment ID), else the NPI's only
        record, is created or updated, each fact sourced "approved application"."""
        return self._mac(
            application_id,
            actor,
            "application.approved",
            lambda a, tx: a.approve(
                ptan=ptan,
                medicare_id=medicare_id,
                effective_date=effective_date,
                now=tx.now,
                revalidation_due=revalidation_due,
            ),
            enrollment_id=enrollment_id,
            ptan=ptan,
            medicare_id=medicare_id,
            effective_date=effective_date.isoformat() if effective_date else None,
            revalidation_due=revalidation_due.isoformat() if revalidation_due else None,
        )

    @use_case
    def deny(self, application_id: Text, *, actor: Principal, reason: Prose) -> Application:
        """The MAC denies the application (EN-4)."""
        return self._mac(
            application_id,
            actor,
            "application.denied",
            lambda a, tx: a.deny(reason=reason, now=tx.now),
            reason=reason,
        )

    def _mac(
        self,
        application_id: str,
        actor: Principal,
        event: str,
        step: Callable[[Application, Transaction], Application],
        enrollment_id: str | None = None,
        **data: object,
    ) -> Application:
        with self.runtime.transaction() as tx:
            reviewer = tx.act(actor, kinds=_MAC).audit_id
            app = require(tx.repo(APPLICATIONS), application_id, what="application")
            changed = step(app, tx)
            if enrollment_id is not None:
                data["enrollment_id"] = enrollment_id
            stored = tx.save(
                APPLICATIONS, changed, event, actor=reviewer, status=changed.status.value, **data
            )
            sync_record(tx, stored, enrollment_id=enrollment_id)  # EN-10, EN-11
            tx.commit()
        return stored


def _unique(*groups: Iterable[Application]) -> tuple[Application, ...]:
    found: dict[str, Application] = {}
    for group in groups:
        for app in group:
            found.setdefault(app.id, app)
    return tuple(found[key] for key in sorted(found))
