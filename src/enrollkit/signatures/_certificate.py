"""The signature certificate of an application, checked against the audit chain (Rule SG-8).

For each signature: who signed which slot, in which role, how, when, on
which revision and digest, and whether it counts for the current revision.
The certificate is verified: the audit chain must be intact (AU-1) and hold a
``signature.signed`` event agreeing with every signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from enrollkit.audit import AuditEntry, AuditLog
from enrollkit.clock import ensure_utc
from enrollkit.enrollment import Application
from enrollkit.serialization import to_data
from enrollkit.signatures._sheet import Signature, SignatureSheet, signed_event_data

__all__ = ["CertificateEntry", "SignatureCertificate", "build_certificate"]


@attrs.frozen
class CertificateEntry:
    """One signature on the certificate, with the audit entry that proves it."""

    slot: str
    signer_id: str | None
    role: str | None
    record_role: str | None
    method: str
    signed_at: datetime = attrs.field(converter=ensure_utc)
    revision: int
    digest: str
    statement_sha256: str | None
    counts: bool  #: valid for the current revision (SG-4, SG-5)
    audit_seq: int | None  #: the position of its ``signature.signed`` event, if found
    signer_name: str | None = None  #: as listed on the record (paper, SG-3)
    uploaded_by: str | None = None  #: who uploaded the paper statement


@attrs.frozen
class SignatureCertificate:
    """Who signed what, when and how, for one application (Rule SG-8)."""

    application_id: str
    profile_id: str
    form: str
    kind: str
    status: str
    revision: int | None
    digest: str | None
    entries: tuple[CertificateEntry, ...]
    chain_intact: bool
    problems: tuple[str, ...]
    generated_at: datetime = attrs.field(converter=ensure_utc)

    @property
    def verified(self) -> bool:
        """The chain is intact and every signature has its matching audit event."""
        return self.chain_intact and not self.problems

    def to_data(self) -> dict[str, Any]:
        """JSON-ready data (the one converter), plus ``verified``."""
        data: dict[str, Any] = to_data(self)
        data["verified"] = self.verified
        return data

    def to_text(self) -> str:
        """The certificate as plain text, one block per signature."""
        lines = [
            f"Signature certificate for application {self.application_id}",
            f"Form CMS-{self.form}, {self.kind.replace('_', ' ')}; status {self.status.replace('_', ' ')}",
            f"Current revision: {self.revision if self.revision is not None else '-'}"
            f" (SHA-256 {self.digest or '-'})",
            "",
        ]
        if not self.entries:
            lines.append("No signatures.")
        for entry in self.entries:
            lines += [
                f"- {entry.slot}: signed by {entry.signer_name or entry.signer_id}"
                + (f" as {entry.role}" if entry.role else "")
                + (f" (listed as {entry.record_role})" if entry.record_role else ""),
                f"  {entry.method.replace('_', ' ')} at {entry.signed_at.isoformat()}"
                + (f", uploaded by {entry.uploaded_by}" if entry.uploaded_by else ""),
                f"  revision {entry.revision}, SHA-256 {entry.digest}",
                f"  {'counts for the current revision' if entry.counts else 'superseded: does not count'}"
                + (f"; audit entry #{entry.audit_seq}" if entry.audit_seq is not None else ""),
            ]
            if entry.statement_sha256:
                lines.append(f"  certification statement SHA-256 {entry.statement_sha256}")
        lines += [
            "",
            "Verified against the audit chain."
            if self.verified
            else "NOT VERIFIED: " + "; ".join(self.problems or ("the audit chain is broken",)),
            f"Generated {self.generated_at.isoformat()}",
        ]
        return "\n".join(lines)


#: The facts of a signature its certificate entry must find unchanged in its audit event.
_CHECKED: Final = (
    "slot",
    "signer_id",
    "signer_name",
    "role",
    "method",
    "revision",
    "digest",
    "statement_sha256",
)


def _matches(signature: Signature, data: Mapping[str, Any]) -> bool:
    recorded = signed_event_data(signature)
    return all(data.get(key) == recorded[key] for key in _CHECKED)


def build_certificate(
    app: Application, sheet: SignatureSheet, *, audit: AuditLog, now: datetime
) -> SignatureCertificate:
    """Build the certificate of *app* from its *sheet*, checked against *audit* (SG-8)."""
    events: dict[str, AuditEntry] = {}
    for logged in audit.for_subject(app.id):
        if logged.event.name == "signature.signed":
            signature_id = logged.event.data.get("signature_id")
            if isinstance(signature_id, str):
                events[signature_id] = logged
    revision = app.current_revision
    problems: list[str] = []
    entries: list[CertificateEntry] = []
    for signature in sheet.signatures:
        entry = events.get(signature.id)
        if entry is None:
            problems.append(f"signature {signature.id} has no audit event")
        elif not _matches(signature, entry.event.data):
            problems.append(f"signature {signature.id} differs from its audit event #{entry.seq}")
        entries.append(
            CertificateEntry(
                slot=signature.slot,
                signer_id=signature.signer_id,
                role=signature.role.value if signature.role else None,
                record_role=signature.record_role.value if signature.record_role else None,
                method=signature.method.value,
                signed_at=signature.signed_at,
                revision=signature.revision,
                digest=signature.digest,
                statement_sha256=signature.statement_sha256,
                counts=revision is not None and signature.valid_for(revision),
                audit_seq=entry.seq if entry is not None else None,
                signer_name=signature.signer_name,
                uploaded_by=signature.uploaded_by,
            )
        )
    return SignatureCertificate(
        application_id=app.id,
        profile_id=app.profile_id,
        form=app.form.value,
        kind=app.kind.value,
        status=app.status_at(now).value,
        revision=revision.number if revision else None,
        digest=revision.digest if revision else None,
        entries=tuple(entries),
        chain_intact=audit.verify().ok,
        problems=tuple(problems),
        generated_at=now,
    )
