"""The application aggregate: content, documents, revisions and status (Rules EN-1..EN-4).

Every change is a pure function returning a new :class:`Application`; the
status moves only through the transition table of
:mod:`enrollkit.enrollment._lifecycle`. Revisions are frozen copies of the
content with the SHA-256 of its canonical serialization (Rule EN-3).

A transition copies the application with the fields it changes set directly
(:func:`enrollkit.values.replace`): every value it sets was built or checked by the transition
itself, and the fields it keeps were converted when the application was built,
so ``attrs.evolve`` running every converter again would change nothing but the
time taken. A content object's digest is computed once (:func:`content_digest`).
"""

from __future__ import annotations

import functools
import hashlib
import weakref
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Final

import attrs

from enrollkit.clock import ensure_utc, ensure_utc_or_none
from enrollkit.enrollment._checklist import (
    Requirements,
    adds_practice_location,
    missing_requirements,
)
from enrollkit.enrollment._content import (
    ApplicationContent,
    DocumentRef,
    MediaType,
    ReassignmentParty,
)
from enrollkit.enrollment._forms import (
    PROVIDER_TYPES_BY_FORM,
    Form,
    Kind,
    ProviderType,
    check_form_kind,
    check_provider_type,
)
from enrollkit.enrollment._lifecycle import (
    APPLICATION_MACHINE,
    FINAL_STATUSES,
    ApplicationEvent,
    ApplicationStatus,
)
from enrollkit.enrollment._nppes import NppesMismatch, NppesRecord, compare_with_nppes
from enrollkit.errors import ExpiredError, InvalidTransitionError, NotFoundError, ValidationError
from enrollkit.serialization import canonical_json
from enrollkit.storage import Collection, Index, time_key
from enrollkit.values import copy_with, replace

__all__ = [
    "APPLICATIONS",
    "REVALIDATION_ANCHORS",
    "TERMINATING_KINDS",
    "Application",
    "DevelopmentExtension",
    "DevelopmentRequest",
    "MacDecision",
    "NppesAcknowledgement",
    "Revision",
    "adds_location",
    "content_digest",
    "reassigns",
]

S, E = ApplicationStatus, ApplicationEvent


@attrs.frozen
class _DigestedDocument:
    filename: str
    media_type: MediaType
    size: int
    sha256: str


@attrs.frozen
class _DigestedContent:
    content: ApplicationContent
    documents: tuple[_DigestedDocument, ...]


#: Digests by content object (EN-3): id -> (a weak reference to the content, the documents
#: the digest covers, the digest). Content is immutable, so an object has one digest per
#: document list; an entry goes with its content object.
_DIGESTS: Final[
    dict[int, tuple[weakref.ref[ApplicationContent], tuple[DocumentRef, ...], str]]
] = {}


def _forget_digest(ref: weakref.ref[ApplicationContent], key: int) -> None:
    entry = _DIGESTS.get(key)
    if entry is not None and entry[0] is ref:
        del _DIGESTS[key]


def content_digest(content: ApplicationContent, documents: Iterable[DocumentRef] = ()) -> str:
    """SHA-256 (hex) of the canonical serialization of *content* and *documents* (Rule EN-3).

    Documents count by file name, type, size and SHA-256 (not by id or upload
    time), in a canonical order: attaching the same bytes again changes nothing.
    Computed once per content object and document tuple, while the content lives.
    """
    if type(documents) is not tuple:
        return _digest(content, documents)
    key = id(content)
    entry = _DIGESTS.get(key)
    if (
        entry is not None
        and entry[0]() is content
        and (entry[1] is documents or entry[1] == documents)
    ):
        return entry[2]
    digest = _digest(content, documents)
    ref = weakref.ref(content, functools.partial(_forget_digest, key=key))
    _DIGESTS[key] = (ref, documents, digest)
    return digest


def _digest(content: ApplicationContent, documents: Iterable[DocumentRef]) -> str:
    digested = tuple(
        sorted(
            (_DigestedDocument(d.filename, d.media_type, d.size, d.sha256) for d in documents),
            key=lambda d: (d.sha256, d.filename, d.media_type.value, d.size),
        )
    )
    return hashlib.sha256(canonical_json(_DigestedContent(content, digested))).hexdigest()


def reassigns(form: Form, kind: Kind, content: ApplicationContent) -> bool:
    """Whether the application reassigns benefits (855R, a reassignment, or an 855I naming one)."""
    return (
        form is _855R
        or kind is _REASSIGNMENT
        or (form is _855I and content.reassignment is not None)
    )


# Members read on every transition, bound once (a member read through its class runs
# Python code on 3.11, about as long as the rest of a small method).
_855R: Final = Form.CMS_855R
_855I: Final = Form.CMS_855I
_REASSIGNMENT: Final = Kind.REASSIGNMENT
_REASSIGNMENT_TERMINATION: Final = Kind.REASSIGNMENT_TERMINATION
_BY_ORGANIZATION: Final = ReassignmentParty.ORGANIZATION
_PENDING_SIGNATURES: Final = S.PENDING_SIGNATURES
_REJECTED: Final = S.REJECTED
#: EN-7, EN-11: the statuses that end a filing: it reports nothing and answers no due date.
_FILING_ENDED: Final = frozenset({S.WITHDRAWN, S.DENIED, S.REJECTED})
_E_APPROVE: Final = E.APPROVE
_E_DECLINE: Final = E.DECLINE
_E_DENY: Final = E.DENY
_E_EDIT: Final = E.EDIT
_E_LAST_SIGNATURE: Final = E.LAST_SIGNATURE
_E_REQUEST_DEVELOPMENT: Final = E.REQUEST_DEVELOPMENT
_E_REVISE: Final = E.REVISE
_E_SEND_FOR_SIGNATURE: Final = E.SEND_FOR_SIGNATURE
_E_SIGN: Final = E.SIGN
_E_START_REVIEW: Final = E.START_REVIEW
_E_WITHDRAW: Final = E.WITHDRAW


@attrs.frozen(slots=False)  # built on a transition: see Application
class Revision:
    """A frozen revision: its number, digest, and the exact content signed (Rule EN-3)."""

    number: int
    digest: str
    frozen_at: datetime = attrs.field(converter=ensure_utc)
    frozen_by: str
    content: ApplicationContent
    documents: tuple[DocumentRef, ...] = ()


@attrs.frozen
class DevelopmentExtension:
    """The MAC moved a development response's due date (Rule EN-7): who, when, from, to."""

    by: str
    at: datetime = attrs.field(converter=ensure_utc)
    previous_due_at: datetime = attrs.field(converter=ensure_utc)
    due_at: datetime = attrs.field(converter=ensure_utc)
    reason: str = ""


@attrs.frozen(slots=False)  # built on a transition: see Application
class DevelopmentRequest:
    """The MAC asked for corrections; the response is due by ``due_at`` (Rule EN-4), which
    the MAC may extend (EN-7; ``extensions`` keeps every one, oldest first)."""

    requested_at: datetime = attrs.field(converter=ensure_utc)
    due_at: datetime = attrs.field(converter=ensure_utc)
    reason: str
    responded_at: datetime | None = attrs.field(default=None, converter=ensure_utc_or_none)
    extensions: tuple[DevelopmentExtension, ...] = ()

    @property
    def original_due_at(self) -> datetime:
        """The due date the request was made with, before any extension."""
        return self.extensions[0].previous_due_at if self.extensions else self.due_at

    @property
    def open(self) -> bool:
        """Whether the response has not been submitted yet."""
        return self.responded_at is None


@attrs.frozen
class NppesAcknowledgement:
    """The preparer accepted these NPPES mismatches knowingly (Rule EN-6)."""

    by: str
    at: datetime = attrs.field(converter=ensure_utc)
    mismatches: tuple[NppesMismatch, ...]

    def covers(self, mismatches: Iterable[NppesMismatch]) -> bool:
        """Whether every one of *mismatches* was acknowledged."""
        return set(mismatches) <= set(self.mismatches)


def _month_end_or_none(_instance: object, _attribute: object, value: date | None) -> None:
    if value is not None and (value + timedelta(days=1)).day != 1:
        raise ValidationError(
            "application.revalidation_due_month_end",
            f"CMS sets revalidation due dates at month ends (EN-7); {value.isoformat()} is not "
            "the last day of its month.",
            revalidation_due=value.isoformat(),
        )


@attrs.frozen
class MacDecision:
    """The MAC's decision, with the identifiers the reports need (Rule EN-8) and, on an
    initial enrollment or a revalidation, the revalidation due date CMS assigned (EN-7)."""

    approved: bool
    decided_at: datetime = attrs.field(converter=ensure_utc)
    ptan: str | None = None
    medicare_id: str | None = None
    effective_date: date | None = None
    reason: str | None = None
    revalidation_due: date | None = attrs.field(default=None, validator=_month_end_or_none)


#: EN-7 amended: the approvals that anchor the revalidation due date (a change never does).
REVALIDATION_ANCHORS: Final = frozenset({Kind.INITIAL, Kind.REVALIDATION})
#: Approvals after which an enrollment has no revalidation due (EN-7: terminated).
TERMINATING_KINDS: Final = frozenset({Kind.VOLUNTARY_TERMINATION})

#: The machine's table as a plain dictionary (a read-only view costs a call per lookup).
_TRANSITIONS: Final = dict(APPLICATION_MACHINE.transitions)
_EDITABLE: Final = frozenset({S.DRAFT, S.DEVELOPMENT_REQUESTED})
_DEADLINE_RUNS: Final = frozenset({S.DEVELOPMENT_REQUESTED, S.DRAFT, S.PENDING_SIGNATURES})


def _default_provider_type(app: Application) -> ProviderType:
    return check_provider_type(app.form, None)


def _provider_type_of_form(
    app: Application, _attribute: attrs.Attribute[ProviderType], value: ProviderType
) -> None:
    if value not in PROVIDER_TYPES_BY_FORM[app.form]:
        check_provider_type(app.form, value)  # raises application.provider_type (EN-1)


@attrs.frozen(kw_only=True, slots=False)
class Application:
    """A Medicare enrollment application for one provider profile (Rules EN-1..EN-4).

    ``provider_type`` says who files it (EN-1: the form's default unless told; a CMS-588
    names it): the document checklist (EN-13), the fee (EN-15) and a 588's signer (SG-1)
    depend on it. ``content`` and ``documents`` are the working copy; ``revisions`` the
    frozen ones, newest last. ``status`` is the stored status; read the
    effective one with :meth:`status_at` (a missed development deadline reads
    as rejected whether or not anything ran, Rule EN-4).

    Its fields live in an instance dictionary, not slots: a transition's copy
    (:func:`enrollkit.values.replace`) is one dictionary copy, where slots cost one
    call each.
    """

    id: str
    profile_id: str
    form: Form
    kind: Kind
    provider_type: ProviderType = attrs.field(
        default=attrs.Factory(_default_provider_type, takes_self=True),
        validator=_provider_type_of_form,
    )
    created_by: str
    created_at: datetime = attrs.field(converter=ensure_utc)
    status_changed_at: datetime = attrs.field(converter=ensure_utc)
    content: ApplicationContent = attrs.field(factory=ApplicationContent)
    documents: tuple[DocumentRef, ...] = ()
    status: ApplicationStatus = S.DRAFT
    revisions: tuple[Revision, ...] = ()
    submitted_at: datetime | None = attrs.field(default=None, converter=ensure_utc_or_none)
    development: DevelopmentRequest | None = None
    nppes_acknowledgement: NppesAcknowledgement | None = None
    decision: MacDecision | None = None
    version: int = 0

    # -- creation -----------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        *,
        id: str,
        profile_id: str,
        form: Form,
        kind: Kind,
        created_by: str,
        now: datetime,
        content: ApplicationContent | None = None,
        provider_type: ProviderType | None = None,
    ) -> Application:
        """A new draft (Rule EN-1): the form must be filed for *kind* (reassignment kinds on
        855R or 855I, :data:`FORM_KINDS`) and by *provider_type* (the form's default when
        ``None``; a CMS-588 names it)."""
        check_form_kind(form, kind)
        return cls(
            id=id,
            profile_id=profile_id,
            form=form,
            kind=kind,
            provider_type=check_provider_type(form, provider_type),
            created_by=created_by,
            created_at=now,
            status_changed_at=now,
            content=content if content is not None else ApplicationContent(),
        )

    # -- reading ------------------------------------------------------------------------

    @property
    def digest(self) -> str:
        """The digest of the working content and documents (Rule EN-3)."""
        return content_digest(self.content, self.documents)

    @property
    def current_revision(self) -> Revision | None:
        """The newest frozen revision, or ``None`` before the first send."""
        return self.revisions[-1] if self.revisions else None

    @property
    def filed_content(self) -> ApplicationContent:
        """The content as last frozen for signature (what was signed and filed), else the
        working copy (EN-3)."""
        revisions = self.revisions
        return revisions[-1].content if revisions else self.content

    @property
    def terminating_party(self) -> ReassignmentParty | None:
        """On a reassignment termination, the party ending it (EN-12): only it signs."""
        if self.kind is not _REASSIGNMENT_TERMINATION or self.content.reassignment is None:
            return None
        return self.content.reassignment.terminated_by

    @property
    def reassigns(self) -> bool:
        """Whether this application reassigns benefits (SG-1 adds the receiving organization)."""
        return reassigns(self.form, self.kind, self.content)

    def development_due(self) -> datetime | None:
        """When the open development response is due, or ``None`` (Rule EN-4)."""
        if self.development is None or not self.development.open:
            return None
        return self.development.due_at

    def status_at(self, now: datetime) -> ApplicationStatus:
        """The effective status at *now*: rejected once an open response deadline passed (EN-4)."""
        due = self.development_due()
        if due is not None and self.status in _DEADLINE_RUNS and ensure_utc(now) >= due:
            return _REJECTED
        return self.status

    def stands_filed(self, now: datetime | None = None) -> bool:
        """Whether the application was submitted and its filing still stands at *now*
        (EN-7, EN-11): not withdrawn, denied, or rejected for a missed development
        deadline. A filing that ended so reports no change and answers no due date.
        Without *now*, the stored status is read (no deadline is computed)."""
        if self.submitted_at is None:
            return False
        status = self.status if now is None else self.status_at(now)
        return status not in _FILING_ENDED

    def is_final(self, now: datetime) -> bool:
        """Whether nothing can happen to the application any more."""
        return self.status_at(now) in FINAL_STATUSES

    def nppes_blockers(self, record: NppesRecord | None) -> tuple[NppesMismatch, ...]:
        """The blocking NPPES differences of the working copy not yet acknowledged (EN-6);
        information (other locations, the mailing address) never blocks."""
        mismatches = tuple(
            m
            for m in compare_with_nppes(
                self.content, record, form=self.form, provider_type=self.provider_type
            )
            if m.blocking
        )
        ack = self.nppes_acknowledgement
        if ack is None:
            return mismatches
        return tuple(m for m in mismatches if m not in set(ack.mismatches))

    def require_supporting_documents(
        self, requirements: Requirements, *, year: int, new_location: bool = False
    ) -> None:
        """Refuse sending while the checklist's documents (Rule EN-13) or, where the fee is
        due, its receipt or a hardship exception request (Rule EN-15) are missing from the
        working copy, naming each. Checked when a revision is frozen for signature: the
        last signature submits it (SG-6), so no revision lacking them is ever submitted."""
        missing, fee = missing_requirements(
            requirements,
            self.form,
            self.kind,
            self.provider_type,
            self.documents,
            year=year,
            new_location=new_location,
        )
        if not missing and fee is None:
            return
        names = list(missing)
        if fee is not None:
            names.append(
                f"application fee receipt ({fee.describe()}) or hardship exception request"
            )
        raise ValidationError(
            "application.missing_documents",
            f"Missing supporting documents ({'; '.join(names)}) for this {self.form.title} "
            f"{self.kind.value.replace('_', ' ')} by a {self.provider_type.label}: attach "
            "each, saying what it is, before sending for signature (EN-13"
            + (", EN-15" if fee is not None else "")
            + ").",
            application_id=self.id,
            missing=names,
            fee_amount=str(fee.amount) if fee is not None else None,
            fee_year=fee.year if fee is not None else None,
        )

    def require_nppes_consistent(self, record: NppesRecord | None) -> None:
        """Refuse sending while NPPES mismatches are neither resolved nor acknowledged (EN-6)."""
        blockers = self.nppes_blockers(record)
        if blockers:
            raise ValidationError(
                "application.nppes_mismatch",
                "The application differs from NPPES: "
                + "; ".join(m.describe() for m in blockers)
                + ". Correct the application or NPPES, or acknowledge the differences (EN-6).",
                application_id=self.id,
                mismatches=[m.as_dict() for m in blockers],
            )

    # -- transitions (pure) -------------------------------------------------------------

    def _move(self, event: ApplicationEvent, now: datetime, **changes: object) -> Application:
        now = ensure_utc(now)
        status = self.status
        # No development request, no deadline (EN-4): the stored status is the effective one.
        effective = status if self.development is None else self.status_at(now)
        if effective is _REJECTED and status is not _REJECTED:
            due = self.development_due()
            raise ExpiredError(
                "application.response_deadline_passed",
                f"The development response was due {due.isoformat() if due else '?'}; "
                "the application is rejected (EN-4). Start a new application.",
                application_id=self.id,
                due_at=due.isoformat() if due else None,
            )
        # The machine's table (EN-4); a missing row is the machine's refusal.
        new_status = _TRANSITIONS.get((effective, event))
        if new_status is None:
            new_status = APPLICATION_MACHINE.next(effective, event, application_id=self.id)
        if new_status is status:
            return replace(self, **changes)
        changes["status"] = new_status
        changes["status_changed_at"] = now
        return copy_with(self, changes)

    def _check_editable(self) -> None:
        if self.status is _PENDING_SIGNATURES:
            raise InvalidTransitionError(
                "application.out_for_signature",
                "The application is out for signature; revise it instead: that freezes "
                "revision n+1 and asks every signer again (EN-3, SG-5).",
                application_id=self.id,
            )

    def edit(self, content: ApplicationContent, *, now: datetime) -> Application:
        """Replace the working content of a draft, or start a development response (EN-3)."""
        self._check_editable()
        if not isinstance(content, ApplicationContent):
            raise ValidationError(
                "application.content", "edit() takes an ApplicationContent value."
            )
        return self._move(_E_EDIT, now, content=content)

    def attach(self, document: DocumentRef, *, now: datetime) -> Application:
        """Add a supporting document to the working copy (EN-5)."""
        self._check_editable()
        return self._move(_E_EDIT, now, documents=(*self.documents, document))

    def detach(self, document_id: str, *, now: datetime) -> Application:
        """Remove a supporting document from the working copy."""
        self._check_editable()
        kept = tuple(d for d in self.documents if d.id != document_id)
        if len(kept) == len(self.documents):
            raise NotFoundError(
                "document.not_attached",
                f"No document {document_id!r} is attached to this application.",
                application_id=self.id,
                document_id=document_id,
            )
        return self._move(_E_EDIT, now, documents=kept)

    def acknowledge_nppes(
        self, mismatches: Iterable[NppesMismatch], *, by: str, now: datetime
    ) -> Application:
        """Record that *by* accepts these NPPES mismatches (Rule EN-6)."""
        acknowledgement = NppesAcknowledgement(by=by, at=now, mismatches=tuple(mismatches))
        return replace(self, nppes_acknowledgement=acknowledgement)

    def _freeze(self, *, by: str, now: datetime) -> Revision:
        # Positional: the step's hottest constructor (a keyword call costs a third more).
        number = len(self.revisions) + 1
        return Revision(number, self.digest, now, by, self.content, self.documents)

    def send_for_signature(self, *, by: str, now: datetime) -> Application:
        """Freeze revision n of the working copy (Rule EN-3); signatures are asked next."""
        self._check_complete()
        # Freezing first changes no outcome: a bad *now* is refused the same way by both.
        revisions = (*self.revisions, self._freeze(by=by, now=now))
        return self._move(_E_SEND_FOR_SIGNATURE, now, revisions=revisions)

    def revise(
        self,
        *,
        content: ApplicationContent | None = None,
        documents: tuple[DocumentRef, ...] | None = None,
        by: str,
        now: datetime,
    ) -> Application:
        """Change an application out for signature: revision n+1 is frozen (EN-3, SG-5)."""
        changed = replace(
            self,
            content=self.content if content is None else content,
            documents=self.documents if documents is None else documents,
        )
        if changed.digest == self.digest:
            raise ValidationError(
                "application.no_change",
                "The revision changes nothing; a new revision needs a change (EN-3).",
                application_id=self.id,
            )
        changed._check_complete()
        revisions = (*self.revisions, changed._freeze(by=by, now=now))
        return changed._move(_E_REVISE, now, revisions=revisions)

    def record_signature(self, *, complete: bool, now: datetime) -> Application:
        """A signature arrived; when *complete*, the application is submitted (Rule SG-6)."""
        if not complete:
            return self._move(_E_SIGN, now)
        now = ensure_utc(now)
        development = self.development
        if development is not None and development.open:
            development = attrs.evolve(development, responded_at=now)
        return self._move(_E_LAST_SIGNATURE, now, submitted_at=now, development=development)

    def decline(self, *, now: datetime) -> Application:
        """A signer declined: back to draft (Rule SG-7)."""
        return self._move(_E_DECLINE, now)

    def start_review(self, *, now: datetime) -> Application:
        """The MAC takes the submitted application into review."""
        return self._move(_E_START_REVIEW, now)

    def request_development(self, *, reason: str, due_at: datetime, now: datetime) -> Application:
        """The MAC asks for corrections, due by *due_at* (Rule EN-4)."""
        request = DevelopmentRequest(now, due_at, reason)  # requested at, due at, reason
        return self._move(_E_REQUEST_DEVELOPMENT, now, development=request)

    def extend_development(
        self, *, due_at: datetime, by: str, reason: str, now: datetime
    ) -> Application:
        """The MAC extends the open development response's due date (EN-7), before it
        passes (after that the application is rejected, EN-4); the new date is later."""
        now, due_at = ensure_utc(now), ensure_utc(due_at)
        request = self.development
        if request is None or not request.open or self.status not in _DEADLINE_RUNS:
            raise InvalidTransitionError(
                "application.no_open_development",
                f"Application {self.id} has no development response outstanding to extend.",
                application_id=self.id,
            )
        if self.status_at(now) is _REJECTED:
            raise ExpiredError(
                "application.response_deadline_passed",
                f"The development response was due {request.due_at.isoformat()}; the "
                "application is rejected (EN-4) and its deadline can no longer be extended.",
                application_id=self.id,
                due_at=request.due_at.isoformat(),
            )
        if due_at <= request.due_at:
            raise ValidationError(
                "application.extension_not_later",
                f"An extension moves the due date later than {request.due_at.isoformat()}; "
                f"{due_at.isoformat()} is not.",
                application_id=self.id,
                due_at=due_at.isoformat(),
            )
        extension = DevelopmentExtension(
            by=by, at=now, previous_due_at=request.due_at, due_at=due_at, reason=reason
        )
        extended = attrs.evolve(request, due_at=due_at, extensions=(*request.extensions, extension))
        return replace(self, development=extended)

    def approve(
        self,
        *,
        ptan: str | None,
        medicare_id: str | None,
        effective_date: date | None,
        now: datetime,
        revalidation_due: date | None = None,
    ) -> Application:
        """The MAC approves, issuing the identifiers the reports show (EN-8) and, for an
        initial enrollment or a revalidation, the revalidation due date CMS assigned (EN-7;
        a change of information never carries one)."""
        if revalidation_due is not None and self.kind not in REVALIDATION_ANCHORS:
            raise ValidationError(
                "application.revalidation_due_kind",
                f"A {self.kind.value.replace('_', ' ')} does not set the revalidation due date; "
                "only an initial enrollment or a revalidation does (EN-7).",
                application_id=self.id,
            )
        decision = MacDecision(
            approved=True,
            decided_at=now,
            ptan=ptan,
            medicare_id=medicare_id,
            effective_date=effective_date,
            revalidation_due=revalidation_due,
        )
        return self._move(_E_APPROVE, now, decision=decision)

    def deny(self, *, reason: str, now: datetime) -> Application:
        """The MAC denies the application."""
        return self._move(
            _E_DENY, now, decision=MacDecision(approved=False, decided_at=now, reason=reason)
        )

    def withdraw(self, *, now: datetime) -> Application:
        """Withdraw a non-final application (Rule EN-4)."""
        return self._move(_E_WITHDRAW, now)

    # -- completeness -------------------------------------------------------------------

    def missing_for_signature(self) -> tuple[str, ...]:
        """What must be filled in before the application can be sent for signature."""
        content = self.content
        missing: list[str] = []
        if content.npi is None:
            missing.append("npi")
        organization = self.provider_type.is_organization
        if not organization and content.practitioner is None:
            missing.append("practitioner")
        if organization and not content.legal_business_name:
            missing.append("legal_business_name")
        reassigning = reassigns(self.form, self.kind, content)
        if reassigning and content.reassignment is None:
            missing.append("reassignment")
        terminating = self.terminating_party
        if self.kind is _REASSIGNMENT_TERMINATION and terminating is None:
            missing.append("reassignment.terminated_by")
        if self.kind is _REASSIGNMENT_TERMINATION:
            needs_officials = terminating is _BY_ORGANIZATION
        else:
            needs_officials = organization or reassigning
        if needs_officials and not content.officials:
            missing.append("officials")
        return tuple(missing)

    def _check_complete(self) -> None:
        missing = self.missing_for_signature()
        if missing:
            raise ValidationError(
                "application.incomplete",
                f"Fill in {', '.join(missing)} before sending the application for signature.",
                application_id=self.id,
                missing=list(missing),
            )


def adds_location(app: Application, history: Iterable[Application]) -> bool:
    """Whether *app*, a change of information, names a practice location the latest approved
    enrollment on its form (in *history*, the profile's applications) lacks: such a change
    pays the application fee (EN-15). [default] Without an approved enrollment known to
    enrollkit, no."""
    if app.kind is not Kind.CHANGE_OF_INFORMATION:
        return False
    approved = [
        a
        for a in history
        if a.id != app.id and a.form is app.form and a.decision is not None and a.decision.approved
    ]
    if not approved:
        return False
    latest = max(approved, key=lambda a: a.decision.decided_at if a.decision else a.created_at)
    return adds_practice_location(app.content.practice_locations, latest.content.practice_locations)


def _revalidation_keys(app: Application) -> list[str]:
    return [time_key(app.decision.decided_at)] if app.decision and app.decision.approved else []


def _development_keys(app: Application) -> list[str]:
    due = app.development_due()
    return [time_key(due)] if due is not None else []


def _target_keys(app: Application) -> list[str]:
    target = app.content.reassignment
    return [target.target_profile_id] if target is not None else []


#: The applications collection and its indexes (stable storage names).
APPLICATIONS: Final = Collection(
    "applications",
    Application,
    indexes=(
        Index[Application]("profile", lambda a: [a.profile_id]),
        Index[Application]("preparer", lambda a: [a.created_by]),
        Index[Application]("reassignment_target", _target_keys),
        Index[Application]("development_due", _development_keys, ordered=True),
        Index[Application]("approved_at", _revalidation_keys, ordered=True),
    ),
)
