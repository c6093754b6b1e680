"""Accounts and principals for tests (AC-8), without a login per test.

Every use case acts for a :class:`~enrollkit.principals.Principal`. A test
that is about connections or signatures, not about logging in, needs
principals cheaply: :class:`Actors` stores an account under the id the test
chooses (``"ana"``, ``"u-ao"``) and returns the principal that the host
assertion of :class:`~enrollkit.identity.IdentityService` issues for it, the
same audited path a host with its own sign-on uses.

>>> from datetime import datetime, timezone
>>> from enrollkit.adapters.memory import MemoryStorage
>>> from enrollkit.clock import FixedClock
>>> from enrollkit.identity import AccountStates
>>> from enrollkit.runtime import Runtime
>>> runtime = Runtime(storage=MemoryStorage(), secret_key=b"t" * 32, accounts=AccountStates(),
...                   clock=FixedClock(datetime(2026, 1, 5, tzinfo=timezone.utc)))
>>> actors = Actors(runtime)
>>> ana = actors("ana")
>>> ana.id, ana.method.value
('ana', 'host_assertion')
>>> actors.help_desk().audit_id
'help_desk:help-desk'
"""

from __future__ import annotations

import hashlib
from typing import Final

from enrollkit.identity import (
    ACCOUNTS,
    Account,
    FactorKind,
    IdentityService,
    MfaFactor,
    Profile,
)
from enrollkit.principals import Principal, PrincipalKind
from enrollkit.runtime import Runtime

__all__ = ["Actors"]

#: Not a hash of any password: accounts made here cannot log in, only be asserted.
_NO_PASSWORD: Final = "$argon2id$v=19$m=8,t=1,p=1$dGVzdHNhbHQ$bm90LWEtcGFzc3dvcmQ"  # noqa: S105


class Actors:
    """Test accounts on *runtime* under chosen ids, and principals for them."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.identity = IdentityService(runtime)
        self._issued: dict[tuple[PrincipalKind, str], Principal] = {}

    def __repr__(self) -> str:
        return f"Actors({self.runtime.storage!r})"

    def account(self, account_id: str, *, email: str | None = None) -> Account:
        """The account *account_id*, stored first if it does not exist (it cannot log in:
        it has no password; principals come from :meth:`__call__`)."""
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            found = repo.get(account_id)
            if found is not None:
                return found
            digest = hashlib.sha256(account_id.encode("utf-8")).hexdigest()
            address = email or f"{digest[:12]}@example.org"
            account = repo.add(
                Account(
                    id=account_id,
                    user_id=f"t{digest[:11]}",
                    profile=Profile("Test", "Actor", address),
                    created_at=tx.now,
                    password_hash=_NO_PASSWORD,
                    password_set_at=tx.now,
                    security_questions=(),
                    mfa_factors=(
                        MfaFactor(f"mfa-{account_id}", FactorKind.EMAIL, address, tx.now),
                    ),
                )
            )
            tx.record("account.registered", subject=account_id, actor=account_id, test=True)
            tx.commit()
        return account

    def __call__(self, account_id: str, *, email: str | None = None) -> Principal:
        """A principal of *account_id* (created if missing), asserted as of the runtime's
        clock: one assertion per account and moment (a moved clock asserts anew)."""
        key = (PrincipalKind.ACCOUNT, account_id)
        cached = self._issued.get(key)
        if cached is not None and cached.authenticated_at == self.runtime.clock.now():
            return cached
        self.account(account_id, email=email)
        issued = self.identity.assert_principal(account_id, asserted_by="enrollkit.testing")
        self._issued[key] = issued
        return issued

    def _operator(self, kind: PrincipalKind, operator_id: str) -> Principal:
        key = (kind, operator_id)
        cached = self._issued.get(key)
        if cached is not None and cached.authenticated_at == self.runtime.clock.now():
            return cached
        issued = self.identity.assert_operator(
            operator_id, kind=kind, asserted_by="enrollkit.testing"
        )
        self._issued[key] = issued
        return issued

    def help_desk(self, operator_id: str = "help-desk") -> Principal:
        """A help-desk operator's principal (AC-2, RO-3, RO-9)."""
        return self._operator(PrincipalKind.HELP_DESK, operator_id)

    def mac(self, operator_id: str = "mac") -> Principal:
        """A MAC reviewer's principal (EN-4)."""
        return self._operator(PrincipalKind.MAC, operator_id)
