"""Supporting documents: PDF or TIFF by content, a size limit, bytes behind a port (Rule EN-5).

>>> sniff_media_type(b"%PDF-1.7 ...")
<MediaType.PDF: 'application/pdf'>
>>> sniff_media_type(b"II*\\x00....") is MediaType.TIFF
True
>>> sniff_media_type(b"hello") is None
True
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

import attrs

from enrollkit.enrollment._content import DocumentKind, DocumentRef, MediaType
from enrollkit.errors import NotFoundError, ValidationError

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "DocumentPolicy",
    "DocumentStore",
    "InMemoryDocumentStore",
    "InspectedDocument",
    "inspect_document",
    "sniff_media_type",
]

#: Rule EN-5's default size limit: 10 MiB.
DEFAULT_MAX_DOCUMENT_BYTES: Final = 10 * 1024 * 1024

_MAGIC: Final = (
    (b"%PDF-", MediaType.PDF),
    (b"II*\x00", MediaType.TIFF),  # little-endian TIFF
    (b"MM\x00*", MediaType.TIFF),  # big-endian TIFF
)


def sniff_media_type(data: bytes) -> MediaType | None:
    """The media type *data* really has, by its magic bytes, or ``None`` (Rule EN-5)."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    return None


@attrs.frozen
class DocumentPolicy:
    """What a supporting document may be (Rule EN-5): the size limit is a documented default."""

    max_bytes: int = attrs.field(
        default=DEFAULT_MAX_DOCUMENT_BYTES, validator=attrs.validators.gt(0)
    )


@attrs.frozen
class InspectedDocument:
    """What the library learned from a document's bytes: its type, size and SHA-256."""

    filename: str
    media_type: MediaType
    size: int
    sha256: str

    def ref(
        self,
        *,
        id: str,
        uploaded_at: datetime,
        uploaded_by: str,
        description: str = "",
        kind: DocumentKind | None = None,
    ) -> DocumentRef:
        """The record an application keeps of this document (Rule EN-5): its new *id*,
        who uploaded it and when, and what they declare it to be (*kind*, EN-13), beside
        what its bytes showed.

        >>> from datetime import datetime, timezone
        >>> doc = inspect_document("w9.pdf", b"%PDF-1.7 ...")
        >>> ref = doc.ref(id="doc-1", uploaded_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        ...               uploaded_by="acct-1")
        >>> ref.filename, ref.media_type.value, ref.size, ref.sha256 == doc.sha256
        ('w9.pdf', 'application/pdf', 12, True)
        """
        return DocumentRef(
            id=id,
            uploaded_at=uploaded_at,
            uploaded_by=uploaded_by,
            description=description,
            kind=kind,
            **attrs.asdict(self, recurse=False),  # every fact the bytes showed
        )


def inspect_document(
    filename: str, data: bytes, *, policy: DocumentPolicy = DocumentPolicy()
) -> InspectedDocument:
    """Accept *data* as a supporting document or refuse it (Rule EN-5).

    The type comes from the content, never from *filename*: a PDF named
    ``scan.tiff`` is a PDF; a text file named ``form.pdf`` is refused.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValidationError(
            "document.not_bytes",
            f"A document is given as bytes; got {type(data).__name__}.",
            filename=str(filename),
        )
    data = bytes(data)
    name = str(filename).strip()
    if not name:
        raise ValidationError("document.filename", "A document needs a file name.")
    if not data:
        raise ValidationError(
            "document.empty", f"{name} is empty; upload the scanned PDF or TIFF.", filename=name
        )
    if len(data) > policy.max_bytes:
        raise ValidationError(
            "document.too_large",
            f"{name} has {len(data)} bytes; the limit is {policy.max_bytes} bytes "
            f"({policy.max_bytes / 1048576:.0f} MiB). Scan at a lower resolution or split it.",
            filename=name,
            size=len(data),
            max_bytes=policy.max_bytes,
        )
    media_type = sniff_media_type(data)
    if media_type is None:
        raise ValidationError(
            "document.type",
            f"{name} is neither a PDF nor a TIFF (judged by its content, not its name); "
            "only PDF and TIFF documents are accepted.",
            filename=name,
        )
    return InspectedDocument(
        filename=name,
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


@runtime_checkable
class DocumentStore(Protocol):
    """Keeps the bytes of documents, addressed by their SHA-256 (the host's blob store)."""

    def put(self, sha256: str, data: bytes) -> None:
        """Store *data* under its SHA-256 (idempotent)."""
        ...

    def get(self, sha256: str) -> bytes:
        """Return the bytes stored under *sha256*, or raise NotFoundError."""
        ...

    def exists(self, sha256: str) -> bool:
        """Return whether bytes are stored under *sha256*."""
        ...


class InMemoryDocumentStore:
    """A :class:`DocumentStore` in this process's memory: for tests and demos."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InMemoryDocumentStore(documents={len(self._blobs)})"

    def put(self, sha256: str, data: bytes) -> None:
        """Store *data* under *sha256*, checking the hash."""
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValidationError(
                "document.hash_mismatch",
                "The bytes given do not have the SHA-256 they are stored under.",
                sha256=sha256,
            )
        with self._lock:
            self._blobs[sha256] = bytes(data)

    def get(self, sha256: str) -> bytes:
        """Return the bytes under *sha256* or raise NotFoundError."""
        with self._lock:
            data = self._blobs.get(sha256)
        if data is None:
            raise NotFoundError(
                "document.not_found", f"No document bytes stored under {sha256}.", sha256=sha256
            )
        return data

    def exists(self, sha256: str) -> bool:
        """Return whether bytes are stored under *sha256*."""
        with self._lock:
            return sha256 in self._blobs
