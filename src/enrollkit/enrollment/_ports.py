"""The ports enrollment and signatures share, with their in-memory defaults, in one place.

>>> ports = EnrollmentPorts.of()
>>> type(ports.documents).__name__, type(ports.nppes).__name__, type(ports.contacts).__name__
('InMemoryDocumentStore', 'InMemoryNppesDirectory', 'AccountIdContacts')
>>> store = InMemoryDocumentStore()
>>> EnrollmentPorts.of(documents=store).documents is store
True
"""

from __future__ import annotations

from typing import NamedTuple

from enrollkit.enrollment._access import AccountIdContacts, Contacts
from enrollkit.enrollment._documents import DocumentStore, InMemoryDocumentStore
from enrollkit.enrollment._nppes import InMemoryNppesDirectory, NppesDirectory

__all__ = ["EnrollmentPorts"]


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
