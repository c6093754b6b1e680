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
>>> kit = Enrollkit(storage=MemoryStorage(), secret_key=b"0123456789abcdef" * 2,
...                 ids=SequentialIds(), clock=FixedClock(datetime(2026, 3, 2, tzinfo=timezone.utc)),
...                 hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS))
>>> kit.agenda(for_user="acct-000001")
()
>>> kit.verify_audit().ok
True
"""

from __future__ import annotations

from typing import Annotated, Self

from enrollkit.access import AccessService, AuthorizedOfficialVerifier, ProviderProofer
from enrollkit.audit import ChainHead, ChainVerification
from enrollkit.boundary import Limit, boundary
from enrollkit.clock import Clock, SystemClock
from enrollkit.enrollment import (
    DEFAULT_HORIZON_DAYS,
    Agenda,
    AgendaItem,
    DocumentStore,
    EnrollmentPorts,
    EnrollmentService,
    NppesDirectory,
    RecordService,
    Requirements,
    ServiceSettings,
    password_expiry_source,
)
from enrollkit.errors import ValidationError
from enrollkit.hashing import Argon2Hasher, SecretHasher
from enrollkit.identity import (
    IA_ACCOUNT_POLICY,
    IA_PASSWORD_POLICY,
    AccountContacts,
    AccountPolicy,
    AccountStates,
    IdentityService,
    PasswordPolicy,
    password_expiry_lookup,
)
from enrollkit.notify import InMemoryNotifier, Notifier
from enrollkit.runtime import MEMO_SIZE, IdGenerator, RandomIds, Runtime
from enrollkit.signatures import SignatureService, agenda_sources
from enrollkit.storage import Storage

__all__ = ["Enrollkit"]


class Enrollkit:
    """Every enrollkit use case behind one object, on one runtime.

    *storage* and *secret_key* are required. The secret key (32+ random bytes,
    e.g. ``secrets.token_bytes(32)``, kept in the host's configuration and the
    same in every worker and across restarts) seals the principals use cases
    act for (AC-8) and keys the decoys that keep account existence secret
    (AC-3); changing it ends every login and every authenticator app. The
    defaults are production-safe (``SystemClock``, argon2id at OWASP's
    minimum, random ids) except the notifier, the document store, the NPPES
    directory and the verification ports, whose in-memory defaults suit tests
    and demos: a host passes its mailer, its document store, its NPPES lookup,
    its help desk's AO verifier and its identity proofing. *requirements* is the document
    checklist and fee schedule (EN-13, EN-15; CMS's as shipped, a host adds each year's fee).
    *memo_size* is how many access decisions are remembered until the next commit (0:
    none; see the access docs' Performance section).
    """

    def __init__(
        self,
        *,
        storage: Storage,
        secret_key: bytes,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        hasher: SecretHasher | None = None,
        ids: IdGenerator | None = None,
        verifier: AuthorizedOfficialVerifier | None = None,
        proofer: ProviderProofer | None = None,
        documents: DocumentStore | None = None,
        nppes: NppesDirectory | None = None,
        password_policy: PasswordPolicy = IA_PASSWORD_POLICY,
        account_policy: AccountPolicy = IA_ACCOUNT_POLICY,
        requirements: Requirements | None = None,
        memo_size: int = MEMO_SIZE,
    ) -> None:
        self.runtime = Runtime(
            storage=storage,
            secret_key=secret_key,
            accounts=AccountStates(password_policy),
            clock=clock if clock is not None else SystemClock(),
            notifier=notifier if notifier is not None else InMemoryNotifier(),
            hasher=hasher if hasher is not None else Argon2Hasher(),
            ids=ids if ids is not None else RandomIds(),
            memo_size=memo_size,
        )
        ports = EnrollmentPorts.of(documents=documents, nppes=nppes, contacts=AccountContacts())
        self.documents, self.nppes = ports.documents, ports.nppes
        self.identity = IdentityService(
            self.runtime, password_policy=password_policy, account_policy=account_policy
        )
        self.access = AccessService(
            self.runtime,
            verifier=verifier,
            proofer=proofer,
            nppes=self.nppes,
            contacts=ports.contacts,
        )
        shared = ServiceSettings(
            documents=ports.documents,
            nppes=ports.nppes,
            contacts=ports.contacts,
            requirements=requirements if requirements is not None else Requirements(),
        )
        self.enrollment = EnrollmentService(self.runtime, **shared)
        self.records = RecordService(self.runtime)
        self.signatures = SignatureService(self.runtime, **shared)
        self._agenda = Agenda(
            self.runtime,
            sources=(
                *agenda_sources(nppes=self.nppes),
                password_expiry_source(password_expiry_lookup(password_policy)),
            ),
        )

    def __repr__(self) -> str:
        return f"Enrollkit(storage={self.runtime.storage!r}, clock={self.runtime.clock!r})"

    @boundary
    def agenda(
        self,
        *,
        for_user: Annotated[str, Limit(chars=500)] | None = None,
        for_profile: Annotated[str, Limit(chars=500)] | None = None,
        horizon_days: Annotated[int, Limit(low=0, high=3660)] = DEFAULT_HORIZON_DAYS,
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

    @boundary
    def verify_audit(self, *, anchor: ChainHead | None = None) -> ChainVerification:
        """Verify the storage's whole audit chain (AU-1), and, given an exported head
        (*anchor*), that the log still holds it: a truncated or rebuilt log fails."""
        return self.runtime.storage.audit.verify(anchor=anchor)

    @boundary
    def close(self) -> None:
        """Close the storage."""
        self.runtime.storage.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
