"""EN-5: supporting documents are PDF or TIFF by content, within the size limit."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.enrollment import (
    AccountIdContacts,
    DocumentPolicy,
    DocumentRef,
    EnrollmentPorts,
    EnrollmentService,
    InMemoryDocumentStore,
    InMemoryNppesDirectory,
    MediaType,
    inspect_document,
    sniff_media_type,
)
from enrollkit.errors import NotFoundError, ValidationError
from enrollkit.runtime import Runtime
from enrollkit.signatures import SignatureService
from tests.conftest import T0

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"
TIFF_LE = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 16
TIFF_BE = b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 16


class TestDocumentTypes:
    def test_en_5_pdf_renamed_tiff_is_a_pdf(self) -> None:
        """A PDF named scan.tiff is recognised as a PDF, by its content."""
        doc = inspect_document("scan.tiff", PDF)
        assert doc.media_type is MediaType.PDF
        assert doc.filename == "scan.tiff"

    def test_en_5_text_file_named_pdf_is_refused(self) -> None:
        """A text file named form.pdf is refused: it is neither PDF nor TIFF."""
        with pytest.raises(ValidationError) as info:
            inspect_document("form.pdf", b"Dear MAC, please find attached...")
        assert info.value.code == "document.type"
        assert info.value.fields["filename"] == "form.pdf"

    @pytest.mark.parametrize("data", [TIFF_LE, TIFF_BE])
    def test_en_5_both_tiff_byte_orders_are_tiff(self, data: bytes) -> None:
        """Little- and big-endian TIFF headers are both TIFF."""
        assert sniff_media_type(data) is MediaType.TIFF

    def test_en_5_sha256_and_size_are_kept(self) -> None:
        """The library keeps the size and SHA-256 of the bytes."""
        doc = inspect_document("a.pdf", PDF)
        assert (doc.size, doc.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())

    def test_en_5_empty_file_is_refused(self) -> None:
        """An empty upload is refused with its own code."""
        with pytest.raises(ValidationError) as info:
            inspect_document("a.pdf", b"")
        assert info.value.code == "document.empty"


class TestSizeLimit:
    def test_en_5_default_limit_is_10_mib(self) -> None:
        """10 MiB passes; one byte more is refused."""
        limit = 10 * 1024 * 1024
        assert DocumentPolicy().max_bytes == limit
        assert inspect_document("big.pdf", PDF + b"0" * (limit - len(PDF))).size == limit
        with pytest.raises(ValidationError) as info:
            inspect_document("big.pdf", PDF + b"0" * (limit - len(PDF) + 1))
        assert info.value.code == "document.too_large"
        assert info.value.fields["max_bytes"] == limit

    def test_en_5_limit_is_configurable(self) -> None:
        """A host can lower the limit."""
        with pytest.raises(ValidationError):
            inspect_document("a.pdf", PDF, policy=DocumentPolicy(max_bytes=10))


class TestDocumentStore:
    def test_store_keeps_bytes_by_sha256(self) -> None:
        """Bytes go in and come out under their SHA-256."""
        store = InMemoryDocumentStore()
        digest = hashlib.sha256(PDF).hexdigest()
        store.put(digest, PDF)
        assert store.exists(digest) and store.get(digest) == PDF

    def test_store_refuses_bytes_under_the_wrong_hash(self) -> None:
        """A put under a hash the bytes do not have is refused."""
        with pytest.raises(ValidationError):
            InMemoryDocumentStore().put("0" * 64, PDF)

    def test_missing_bytes_are_not_found(self) -> None:
        """Unknown hashes raise NotFoundError."""
        with pytest.raises(NotFoundError):
            InMemoryDocumentStore().get("0" * 64)


class TestDocumentRecord:
    def test_en_5_the_record_keeps_what_the_bytes_showed_and_who_uploaded_them(self) -> None:
        """InspectedDocument.ref keeps name, type, size and SHA-256, with the upload's facts."""
        inspected = inspect_document("w9.pdf", PDF)
        ref = inspected.ref(id="doc-1", uploaded_at=T0, uploaded_by="acct-1", description="W-9")
        assert ref == DocumentRef(
            id="doc-1",
            filename="w9.pdf",
            media_type=MediaType.PDF,
            size=len(PDF),
            sha256=hashlib.sha256(PDF).hexdigest(),
            uploaded_at=T0,
            uploaded_by="acct-1",
            description="W-9",
        )


class TestEnrollmentPorts:
    def test_each_port_left_out_is_an_in_memory_one(self) -> None:
        """EnrollmentPorts.of keeps the ports given and fills in the in-memory defaults."""
        store = InMemoryDocumentStore()
        ports = EnrollmentPorts.of(documents=store)
        assert ports.documents is store
        assert isinstance(ports.nppes, InMemoryNppesDirectory)
        assert isinstance(ports.contacts, AccountIdContacts)

    def test_services_built_alone_get_their_own_in_memory_ports(self, runtime: Runtime) -> None:
        """Two services built without ports do not share a document store by accident."""
        enrollment, signatures = EnrollmentService(runtime), SignatureService(runtime)
        assert isinstance(enrollment.documents, InMemoryDocumentStore)
        assert enrollment.documents is not signatures.documents
        assert enrollment.nppes is not signatures.nppes


class TestSniffingProperties:
    @given(data=st.binary(min_size=1, max_size=64))
    def test_en_5_only_magic_bytes_decide(self, data: bytes) -> None:
        """Bytes are accepted exactly when they start with a PDF or TIFF signature."""
        magic = data.startswith((b"%PDF-", b"II*\x00", b"MM\x00*"))
        assert (sniff_media_type(data) is not None) == magic

    @given(
        magic=st.sampled_from([b"%PDF-", b"II*\x00", b"MM\x00*"]),
        rest=st.binary(max_size=64),
        name=st.sampled_from(["a.pdf", "a.tiff", "a.txt", "noextension"]),
    )
    def test_en_5_name_never_matters(self, magic: bytes, rest: bytes, name: str) -> None:
        """Whatever the file name, a PDF or TIFF signature is accepted."""
        assert inspect_document(name, magic + rest).media_type is sniff_media_type(magic)
