"""Read-only lookups other packages ask of identity, inside *their* transaction.

Every use case asks whether its principal's account may act now
(:class:`AccountStates`, the runtime's ``accounts`` port, AC-8). The
enrollment and signature use cases need two more facts about an account:
where to reach it (its e-mail address) and when its password expires (for
the agenda, EN-9 / PW-12). All are answered here by reading the account
through the caller's transaction, so no second unit of work is opened inside
a use case. They match the ports ``enrollkit.principals.AccountGate``,
``enrollkit.enrollment.Contacts`` and ``password_expiry_source``
structurally; identity does not import enrollment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from enrollkit.errors import NotPermittedError
from enrollkit.identity._accounts import ACCOUNTS, AccountStatus
from enrollkit.identity._passwords import IA_PASSWORD_POLICY, PasswordPolicy
from enrollkit.principals import Principal
from enrollkit.runtime import Reads, Transaction

__all__ = ["AccountContacts", "AccountStates", "password_expiry_lookup"]


class AccountStates:
    """Whether an account may act now (AC-8): the runtime's ``accounts`` port.

    A principal's account must exist and be active (not locked, not disabled
    by the help desk), its password current under *password_policy* (PW-12:
    an expired or help-desk-reset password allows nothing but changing it),
    and no password may have been set after the principal was authenticated
    (a reset or change ends every earlier login). Hosts whose own sign-on
    replaces I&A passwords pass a policy without expiry
    (``PasswordPolicy(max_age=None)``).
    """

    __slots__ = ("password_policy",)

    def __init__(self, password_policy: PasswordPolicy = IA_PASSWORD_POLICY) -> None:
        self.password_policy = password_policy

    def __repr__(self) -> str:
        return "AccountStates()"

    def require_usable(
        self, tx: Transaction, principal: Principal, *, password_change: bool = False
    ) -> None:
        """Refuse unless the principal's account may act now (AC-8)."""
        account = tx.repo(ACCOUNTS).get(principal.id)
        if account is None:
            raise NotPermittedError(
                "principal.unknown_account",
                "This principal's account does not exist; log in with an existing account (AC-8).",
            )
        if account.status is AccountStatus.DISABLED:
            raise NotPermittedError(
                "principal.account_disabled",
                "This account is disabled; the help desk can enable it (AC-8).",
                account_id=account.id,
            )
        if account.locked:
            raise NotPermittedError(
                "principal.account_locked",
                "This account is locked; unlock it with the security questions or the help "
                "desk, then log in again (AC-2, AC-8).",
                account_id=account.id,
            )
        if account.password_set_at > principal.authenticated_at:
            raise NotPermittedError(
                "principal.reauthenticate",
                "The password of this account was set after this login; log in again (AC-8).",
                account_id=account.id,
            )
        if password_change:
            return
        if account.must_change_password or self.password_policy.is_expired(
            account.password_set_at, tx.now
        ):
            raise NotPermittedError(
                "principal.password_expired",
                "The password of this account expired or was reset; change it before doing "
                "anything else (PW-12, AC-8).",
                account_id=account.id,
            )

    def is_known(self, tx: Reads, account_id: str) -> bool:
        """Whether *account_id* is an account that is not disabled."""
        account = tx.repo(ACCOUNTS).get(account_id)
        return account is not None and account.status is not AccountStatus.DISABLED


class AccountContacts:
    """E-mail addresses from the identity package's accounts (the ``Contacts`` port)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "AccountContacts()"

    def email_of(self, tx: Transaction, user_id: str) -> str | None:
        """The e-mail on file for account *user_id*, or ``None`` when there is no such account."""
        account = tx.repo(ACCOUNTS).get(user_id)
        return account.profile.email if account is not None else None


def password_expiry_lookup(
    policy: PasswordPolicy = IA_PASSWORD_POLICY,
) -> Callable[[Transaction, str], datetime | None]:
    """A lookup ``(tx, account_id) -> when its password expires`` under *policy* (PW-12);
    ``None`` for an unknown account or a policy without expiry."""

    def expiry_of(tx: Transaction, account_id: str) -> datetime | None:
        account = tx.repo(ACCOUNTS).get(account_id)
        if account is None:
            return None
        return policy.expires_at(account.password_set_at)

    return expiry_of
