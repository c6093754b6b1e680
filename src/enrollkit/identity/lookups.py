"""Read-only lookups other packages ask of identity, inside *their* transaction.

The enrollment and signature use cases need two facts about an account: where
to reach it (its e-mail address) and when its password expires (for the
agenda, EN-9 / PW-12). Both are answered here by reading the account through
the caller's transaction, so no second unit of work is opened inside a use
case. They match the ports ``enrollkit.enrollment.Contacts`` and
``password_expiry_source`` structurally; identity does not import enrollment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from enrollkit.identity.accounts import ACCOUNTS
from enrollkit.identity.passwords import IA_PASSWORD_POLICY, PasswordPolicy
from enrollkit.runtime import Transaction

__all__ = ["AccountContacts", "password_expiry_lookup"]


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
