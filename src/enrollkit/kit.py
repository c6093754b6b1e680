"""The one door: :class:`Enrollkit` wires every service onto one runtime.

A host builds one ``Enrollkit`` per process (or per request scope) from its
storage, clock, notifier and directories, then calls the use cases through
``kit.identity``, ``kit.access``, ``kit.enrollment`` and ``kit.signatures``,
and asks ``kit.agenda(...)`` what is due. Every service shares the same
runtime, document store and NPPES directory, so a document attached through
enrollment is the one a signer's certificate sees.

>>> from datetime import datetime, timezone
>>> from enrollkit import Enrollkit, FixedClock, SequentialIds
>>> from enrollkit.adapters.memory import MemoryStorage
>>> from enrollkit.hashing import Argon2Hasher, FAST_INSECURE_PARAMETERS
>>> kit = Enrollkit(storage=MemoryStorage(), ids=SequentialIds(),
...                 clock=FixedClock(datetime(2026, 3, 2, tzinfo=timezone.utc)),
...                 hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS))
>>> kit.agenda(for_user="acct-000001")
()
>>> kit.verify_audit().ok
True
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from enrollkit.access import AccessService, AuthorizedOfficialVerifier
from enrollkit.audit import ChainVerification
from enrollkit.clock import Clock, SystemClock
from enrollkit.enrollment import (
    Agenda,
    AgendaItem,
    DocumentStore,
    EnrollmentService,
    InMemoryDocumentStore,
    InMemoryNppesDirectory,
    NppesDirectory,
    password_expiry_source,
)
from enrollkit.errors import ValidationError
from enrollkit.hashing import Argon2Hasher, SecretHasher
from enrollkit.identity import (
    IA_PASSWORD_POLICY,
    AccountContacts,
    IdentityService,
    PasswordPolicy,
    password_expiry_lookup,
)
from enrollkit.notify import InMemoryNotifier, Notifier
from enrollkit.runtime import IdGenerator, RandomIds, Runtime
from enrollkit.signatures import SignatureService, agenda_sources
from enrollkit.storage import Storage

__all__ = ["Enrollkit"]


class Enrollkit:
    """Every enrollkit use case behind one object, on one runtime.

    Only *storage* is required. The defaults are production-safe
    (``SystemClock``, argon2id at OWASP's minimum, random ids) except the
    notifier, the document store and the NPPES directory, whose in-memory
    defaults suit tests and demos: a host passes its mailer, its document
    store and its NPPES lookup.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        hasher: SecretHasher | None = None,
        ids: IdGenerator | None = None,
        verifier: AuthorizedOfficialVerifier | None = None,
        documents: DocumentStore | None = None,
        nppes: NppesDirectory | None = None,
        password_policy: PasswordPolicy = IA_PASSWORD_POLICY,
    ) -> None:
        self.runtime = Runtime(
            storage=storage,
            clock=clock if clock is not None else SystemClock(),
            notifier=notifier if notifier is not None else InMemoryNotifier(),
            hasher=hasher if hasher is not None else Argon2Hasher(),
            ids=ids if ids is not None else RandomIds(),
        )
        self.documents: DocumentStore = (
            documents if documents is not None else InMemoryDocumentStore()
        )
        self.nppes: NppesDirectory = nppes if nppes is not None else InMemoryNppesDirectory()
        contacts = AccountContacts()
        self.identity = IdentityService(self.runtime, password_policy=password_policy)
        self.access = AccessService(self.runtime, verifier=verifier)
        self.enrollment = EnrollmentService(
            self.runtime, documents=self.documents, nppes=self.nppes, contacts=contacts
        )
        self.signatures = SignatureService(
            self.runtime, nppes=self.nppes, documents=self.documents, contacts=contacts
        )
        self._agenda = Agenda(
            self.runtime,
            sources=(
                *agenda_sources(),
                password_expiry_source(password_expiry_lookup(password_policy)),
            ),
        )

    def __repr__(self) -> str:
        return f"Enrollkit(storage={self.runtime.storage!r}, clock={self.runtime.clock!r})"

    def agenda(
        self,
        *,
        for_user: str | None = None,
        for_profile: str | None = None,
        horizon_days: int = 120,
    ) -> tuple[AgendaItem, ...]:
        """Everything due for a user or a provider profile, with days left, sorted (EN-9)."""
        if (for_user is None) == (for_profile is None):
            raise ValidationError(
                "agenda.scope",
                "Ask the agenda for exactly one of for_user= or for_profile=.",
            )
        if for_user is not None:
            return self._agenda.for_user(for_user, horizon_days=horizon_days)
        assert for_profile is not None
        return self._agenda.for_profile(for_profile, horizon_days=horizon_days)

    def verify_audit(self) -> ChainVerification:
        """Verify the storage's whole audit chain (AU-1)."""
        return self.runtime.storage.audit.verify()

    def close(self) -> None:
        """Close the storage."""
        self.runtime.storage.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
