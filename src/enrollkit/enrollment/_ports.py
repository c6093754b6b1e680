"""The ports enrollment and signatures share, with their in-memory defaults, in one place.

>>> ports = EnrollmentPorts.of()
>>> type(ports.documents).__name__, type(ports.nppes).__name__, type(ports.contacts).__name__
('InMemoryDocumentStore', 'InMemoryNppesDirectory', 'AccountIdContacts')
>>> store = InMemoryDocumentStore()
>>> EnrollmentPorts.of(documents=store).documents is store
True
"""

from __future__ import annotations

from typing import Final, NamedTuple, TypedDict, Unpack

from enrollkit.enrollment._access import AccountIdContacts, Contacts
from enrollkit.enrollment._checklist import Requirements
from enrollkit.enrollment._documents import DocumentPolicy, DocumentStore, InMemoryDocumentStore
from enrollkit.enrollment._nppes import InMemoryNppesDirectory, NppesDirectory
from enrollkit.runtime import Runtime

__all__ = ["EnrollmentPorts", "PortedService", "ServiceSettings"]

_DOCUMENT_POLICY: Final = DocumentPolicy()
_REQUIREMENTS: Final = Requirements()


class EnrollmentPorts(NamedTuple):
    """Where enrollment and signatures reach the host: ``documents`` keeps document
    bytes (EN-5), ``nppes`` answers the EN-6 comparison, ``contacts`` turns account ids
    into e-mail addresses. :class:`~enrollkit.enrollment.EnrollmentService`,
    :class:`~enrollkit.signatures.SignatureService` and the facade build theirs with
    :meth:`of`; services sharing one (the facade's) see the same documents."""

    documents: DocumentStore
    nppes: NppesDirectory
    contacts: Contacts

    @classmethod
    def of(
        cls,
        *,
        documents: DocumentStore | None = None,
        nppes: NppesDirectory | None = None,
        contacts: Contacts | None = None,
    ) -> EnrollmentPorts:
        """The ports given, and an in-memory one for each left out (``None``): an empty
        document store and NPPES directory, and :class:`AccountIdContacts` (for tests
        and demos; a host passes its own)."""
        return cls(
            documents if documents is not None else InMemoryDocumentStore(),
            nppes if nppes is not None else InMemoryNppesDirectory(),
            contacts if contacts is not None else AccountIdContacts(),
        )


class ServiceSettings(TypedDict, total=False):
    """The keywords :class:`~enrollkit.enrollment.EnrollmentService` and
    :class:`~enrollkit.signatures.SignatureService` both take: the ports (an in-memory
    one for each left out), the document policy (EN-5) and the requirements, i.e. the
    document checklist (EN-13) and fee schedule (EN-15), CMS's as shipped."""

    documents: DocumentStore | None
    nppes: NppesDirectory | None
    contacts: Contacts | None
    document_policy: DocumentPolicy
    requirements: Requirements


class PortedService:
    """The base of the services that work on applications: the runtime, the ports of
    :class:`EnrollmentPorts`, the document policy and the requirements, set up once
    from :class:`ServiceSettings`."""

    def __init__(self, runtime: Runtime, **settings: Unpack[ServiceSettings]) -> None:
        self.runtime = runtime
        self.documents, self.nppes, self.contacts = EnrollmentPorts.of(
            documents=settings.get("documents"),
            nppes=settings.get("nppes"),
            contacts=settings.get("contacts"),
        )
        self.document_policy = settings.get("document_policy", _DOCUMENT_POLICY)
        self.requirements = settings.get("requirements", _REQUIREMENTS)
