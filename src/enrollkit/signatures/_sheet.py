"""Signature requests and signatures of one application: the signature sheet (SG-2..SG-7).

One :class:`SignatureSheet` per application (same id) holds every request
and signature of every revision. Opening a round for revision n+1
supersedes every open request and every signature of older revisions
(Rule SG-5); a signature counts only on its own revision and digest (SG-4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Final

import attrs

from enrollkit.access import Role
from enrollkit.clock import ensure_utc, ensure_utc_or_none
from enrollkit.enrollment import OfficialRole, Revision
from enrollkit.errors import InvalidTransitionError, NotFoundError
from enrollkit.machine import StateMachine
from enrollkit.signatures._slots import SignerSlot
from enrollkit.storage import Collection, Index

__all__ = [
    "SIGNATURE_REQUEST_MACHINE",
    "SIGNATURE_SHEETS",
    "Attestation",
    "RequestEvent",
    "RequestStatus",
    "Signature",
    "SignatureMethod",
    "SignatureRequest",
    "SignatureSheet",
]


class SignatureMethod(Enum):
    """How a slot was signed (Rule SG-3 amended)."""

    #: the signer, logged in as themselves, confirmed their e-mail and both attestations
    ELECTRONIC = "electronic"
    #: a wet-ink certification statement, scanned and uploaded (PDF or TIFF) by someone
    #: with PECOS access, for a signer listed on the record; slower than electronic
    PAPER = "paper"


class Attestation(Enum):
    """The two attestations an electronic signer accepts (Rule SG-3)."""

    ACCURACY = "accuracy"  #: the information is true, correct and complete
    ELECTRONIC_SIGNATURE = "electronic_signature"  #: the e-signature binds like a handwritten one


class RequestStatus(Enum):
    """Where a signature request stands."""

    OPEN = "open"
    SIGNED = "signed"
    DECLINED = "declined"
    SUPERSEDED = "superseded"  #: a newer revision or a decline closed it (SG-5, SG-7)


class RequestEvent(Enum):
    """What can happen to a signature request."""

    SIGN = "sign"  #: an eligible signer signs it (SG-4)
    DECLINE = "decline"  #: an eligible signer declines it (SG-7)
    SUPERSEDE = "supersede"  #: a new revision or a decline elsewhere closes it (SG-5, SG-7)


#: The signature request lifecycle, ``{(status, event): new status}``: a request
#: opened for a slot (SG-2) is signed (SG-4), declined (SG-7) or superseded (SG-5),
#: and never changes again.
SIGNATURE_REQUEST_MACHINE: Final = StateMachine.from_table(
    RequestStatus,
    RequestEvent,
    """
    signature request (SG-2), starts open
    open  sign       -> signed      : signed
    open  decline    -> declined    : declined
    open  supersede  -> superseded  : superseded
    """,
    code="signature.request_closed",
)


@attrs.frozen
class SignatureRequest:
    """One slot to sign on one revision (Rule SG-2)."""

    id: str
    slot: SignerSlot
    revision: int
    digest: str
    opened_at: datetime = attrs.field(converter=ensure_utc)
    candidates: tuple[str, ...] = ()  #: account ids that may sign it, as known at opening
    #: the names listed on the record who may sign it on paper (SG-3), as known at opening
    paper_signers: tuple[str, ...] = ()
    status: RequestStatus = RequestStatus.OPEN
    closed_at: datetime | None = attrs.field(default=None, converter=ensure_utc_or_none)
    decline_reason: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether the request still awaits a signature."""
        return self.status is RequestStatus.OPEN

    @property
    def paper_only(self) -> bool:
        """Whether no one can sign it electronically: only a (slower) paper signature can
        fill it (SG-3; the agenda warns)."""
        return not self.candidates

    def move(
        self, event: RequestEvent, *, now: datetime, reason: str | None = None
    ) -> SignatureRequest:
        """The request after *event*, by :data:`SIGNATURE_REQUEST_MACHINE`."""
        new = SIGNATURE_REQUEST_MACHINE.next(self.status, event, request_id=self.id)
        return attrs.evolve(
            self,
            status=new,
            closed_at=now,
            decline_reason=reason if event is RequestEvent.DECLINE else self.decline_reason,
        )


@attrs.frozen
class Signature:
    """A signature (Rule SG-4): signer, slot, role held, method, time, revision, digest.

    An electronic signature names the signer's account and the I&A role they held. A
    paper signature (SG-3) names the signer as listed on the record (``signer_name``,
    with the account when the listing links one; ``role`` is None: no I&A role was
    used) and who uploaded the statement.
    """

    id: str
    request_id: str
    slot: str
    signer_id: str | None
    role: Role | None
    record_role: OfficialRole | None
    method: SignatureMethod
    signed_at: datetime = attrs.field(converter=ensure_utc)
    revision: int
    digest: str
    statement_sha256: str | None = None  #: the uploaded certification statement (SG-3)
    uploaded_by: str | None = None
    superseded_at: datetime | None = attrs.field(default=None, converter=ensure_utc_or_none)
    signer_name: str | None = None  #: the signer as listed on the record (paper, SG-3)

    @property
    def signer(self) -> str:
        """Who signed, for people: the name on the record, else the account id."""
        return self.signer_name or self.signer_id or "?"

    def valid_for(self, revision: Revision) -> bool:
        """Whether this signature counts for *revision* (SG-4): same number and digest."""
        return (
            self.superseded_at is None
            and self.revision == revision.number
            and self.digest == revision.digest
        )


def signed_event_data(signature: Signature) -> dict[str, str | int | None]:
    """What the ``signature.signed`` audit event records of *signature*; the certificate
    checks a signature against it (SG-8)."""
    return {
        "signature_id": signature.id,
        "request_id": signature.request_id,
        "slot": signature.slot,
        "signer_id": signature.signer_id,
        "signer_name": signature.signer_name,
        "role": signature.role.value if signature.role else None,
        "record_role": signature.record_role.value if signature.record_role else None,
        "method": signature.method.value,
        "revision": signature.revision,
        "digest": signature.digest,
        "statement_sha256": signature.statement_sha256,
        "uploaded_by": signature.uploaded_by,
    }


@attrs.frozen(kw_only=True)
class SignatureSheet:
    """Every signature request and signature of one application."""

    id: str  #: the application's id
    requests: tuple[SignatureRequest, ...] = ()
    signatures: tuple[Signature, ...] = ()
    version: int = 0

    def requests_for(self, revision: Revision) -> tuple[SignatureRequest, ...]:
        """The requests opened for *revision*."""
        return tuple(r for r in self.requests if r.revision == revision.number)

    def open_requests(self) -> tuple[SignatureRequest, ...]:
        """The requests still awaiting a signature."""
        return tuple(r for r in self.requests if r.is_open)

    def valid_signatures(self, revision: Revision) -> tuple[Signature, ...]:
        """The signatures that count for *revision* (SG-4, SG-5)."""
        return tuple(s for s in self.signatures if s.valid_for(revision))

    def missing_slots(self, revision: Revision) -> tuple[str, ...]:
        """Slots of *revision* without a valid signature (SG-6)."""
        signed = {s.slot for s in self.valid_signatures(revision)}
        return tuple(r.slot.name for r in self.requests_for(revision) if r.slot.name not in signed)

    def is_complete(self, revision: Revision) -> bool:
        """Whether every slot of *revision* holds a valid signature (SG-6)."""
        return bool(self.requests_for(revision)) and not self.missing_slots(revision)

    def open_request(self, revision: Revision, slot: str) -> SignatureRequest:
        """The open request of *slot* on *revision*, or an error saying why there is none."""
        for request in self.requests_for(revision):
            if request.slot.name == slot:
                if request.is_open:
                    return request
                raise InvalidTransitionError(
                    "signature.request_closed",
                    f"The {slot} slot of revision {revision.number} is {request.status.value}; "
                    "there is nothing to sign.",
                    slot=slot,
                    revision=revision.number,
                    status=request.status.value,
                )
        raise NotFoundError(
            "signature.no_such_slot",
            f"Revision {revision.number} has no {slot!r} slot to sign; its slots are "
            f"{[r.slot.name for r in self.requests_for(revision)]}.",
            slot=slot,
            revision=revision.number,
        )

    # -- transitions (pure) -------------------------------------------------------------

    def open_round(
        self,
        revision: Revision,
        slots: Iterable[SignerSlot],
        *,
        candidates: Mapping[str, tuple[str, ...]],
        ids: Iterable[str],
        now: datetime,
        paper_signers: Mapping[str, tuple[str, ...]] | None = None,
    ) -> SignatureSheet:
        """Open one request per slot on *revision* (SG-2), superseding everything older (SG-5)."""
        closed = self.supersede(now=now)
        fresh = tuple(
            SignatureRequest(
                id=request_id,
                slot=slot,
                revision=revision.number,
                digest=revision.digest,
                opened_at=now,
                candidates=candidates.get(slot.name, ()),
                paper_signers=(paper_signers or {}).get(slot.name, ()),
            )
            for slot, request_id in zip(slots, ids, strict=False)
        )
        return attrs.evolve(closed, requests=(*closed.requests, *fresh))

    def supersede(self, *, now: datetime) -> SignatureSheet:
        """Close every open request and void every live signature (SG-5, SG-7)."""
        requests = tuple(
            r.move(RequestEvent.SUPERSEDE, now=now) if r.is_open else r for r in self.requests
        )
        signatures = tuple(
            attrs.evolve(s, superseded_at=now) if s.superseded_at is None else s
            for s in self.signatures
        )
        return attrs.evolve(self, requests=requests, signatures=signatures)

    def add_signature(self, signature: Signature) -> SignatureSheet:
        """Record *signature* and close its request as signed."""
        requests = tuple(
            r.move(RequestEvent.SIGN, now=signature.signed_at)
            if r.id == signature.request_id
            else r
            for r in self.requests
        )
        return attrs.evolve(self, requests=requests, signatures=(*self.signatures, signature))

    def decline(self, request_id: str, *, reason: str, now: datetime) -> SignatureSheet:
        """Close *request_id* as declined and supersede the rest of the round (SG-7)."""
        requests = tuple(
            r.move(RequestEvent.DECLINE, now=now, reason=reason) if r.id == request_id else r
            for r in self.requests
        )
        return attrs.evolve(self, requests=requests).supersede(now=now)


def _awaiting_keys(sheet: SignatureSheet) -> list[str]:
    return sorted({c for r in sheet.requests if r.is_open for c in r.candidates})


#: Signature sheets, one per application (same id); "awaiting_signer" finds a user's open requests.
SIGNATURE_SHEETS: Final = Collection(
    "signature_sheets",
    SignatureSheet,
    indexes=(Index[SignatureSheet]("awaiting_signer", _awaiting_keys),),
)
