"""What identity use cases answer: typed values, because these outcomes are expected.

A login is two steps (Rule AC-5, multi-factor authentication after the
password):

1. :meth:`~enrollkit.identity.IdentityService.login` with the user ID and
   password answers :class:`MfaRequired` (a one-time code went to the
   account's factor through the notifier) or :class:`Denied`;
2. :meth:`~enrollkit.identity.IdentityService.verify_code` with the code
   answers :class:`Authenticated` (with the days until the password expires,
   PW-12, and the :class:`~enrollkit.principals.Principal` every use case
   acts for, AC-8), :class:`MustChangePassword` (the password expired or was
   reset by the help desk: its principal is good for changing the password
   and nothing else) or :class:`Denied`.

:class:`Denied` never says why: an unknown user ID, a wrong password and a
locked account look the same (AC-3). The owner of a locked account learns
about the lock from the notification sent to the e-mail address on file.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Final, TypeAlias

import attrs

from enrollkit.identity._accounts import FactorKind
from enrollkit.principals import Principal

__all__ = [
    "Authenticated",
    "AuthenticatorEnrollment",
    "ChangeReason",
    "DenialStep",
    "Denied",
    "LoginOutcome",
    "MfaRequired",
    "MustChangePassword",
    "PasswordChanged",
    "PasswordStatus",
    "Recovered",
    "RecoveryDenied",
    "RecoveryOutcome",
]


@attrs.frozen
class Authenticated:
    """Logged in. ``principal`` is what every use case takes as its actor (AC-8);
    ``days_until_expiry`` is the whole days the password has left (PW-12)."""

    account_id: str
    user_id: str
    days_until_expiry: int | None
    password_expires_at: datetime | None
    principal: Principal


class ChangeReason(Enum):
    """Why a password must be changed before anything else."""

    EXPIRED = "expired"  #: PW-12: older than the policy's maximum age
    RESET = "reset"  #: a help-desk reset gave a temporary password


@attrs.frozen
class MustChangePassword:
    """The password is right but must be changed now; nothing else is granted (PW-12).

    ``principal`` is accepted by ``change_password`` only: every other use case
    refuses it until the password is changed (AC-8)."""

    account_id: str
    user_id: str
    reason: ChangeReason
    principal: Principal


@attrs.frozen
class MfaRequired:
    """The password is right; a one-time code was sent to ``destination_hint`` (AC-5)."""

    user_id: str
    factor_kind: FactorKind
    destination_hint: str
    expires_at: datetime


class DenialStep(Enum):
    """Which step of the login refused: the password step or the code step."""

    PASSWORD = "password"  # noqa: S105 - a step name, not a secret
    CODE = "code"


_DENIED_FIRST_STEP: Final = (
    "The user ID or password is not right, or the account is locked. Check them and try "
    "again; if you forgot them, use 'Forgot user ID' or 'Forgot password'."
)
_DENIED_SECOND_STEP: Final = (
    "The code is not right or has expired. Log in again to receive a new code."
)


@attrs.frozen
class Denied:
    """Refused. Identical for an unknown user ID, a wrong password and a locked account (AC-3)."""

    step: DenialStep = DenialStep.PASSWORD
    code: str = attrs.field()
    message: str = attrs.field()

    @code.default
    def _code(self) -> str:
        return "login.denied" if self.step is DenialStep.PASSWORD else "login.code_denied"

    @message.default
    def _message(self) -> str:
        return _DENIED_FIRST_STEP if self.step is DenialStep.PASSWORD else _DENIED_SECOND_STEP


LoginOutcome: TypeAlias = Authenticated | MustChangePassword | MfaRequired | Denied


@attrs.frozen
class Recovered:
    """Security answers accepted: the account is unlocked or its password reset (AC-4)."""

    user_id: str


@attrs.frozen
class RecoveryDenied:
    """Refused. Identical for an unknown user ID and wrong answers (AC-3)."""

    code: str = "recovery.denied"
    message: str = (
        "The answers do not match, or this account cannot be recovered this way. "
        "Check your answers, or call the help desk."
    )


RecoveryOutcome: TypeAlias = Recovered | RecoveryDenied


@attrs.frozen
class PasswordChanged:
    """A password was changed; it expires at ``expires_at`` (PW-12). Logins from before
    the change end (AC-8); ``principal`` is the caller's fresh one."""

    account_id: str
    expires_at: datetime | None
    principal: Principal


@attrs.frozen
class AuthenticatorEnrollment:
    """An authenticator app to set up (AC-9): show ``provisioning_uri`` as a QR code (or
    ``secret`` for typing), then confirm with the app's first code. The secret is shown
    once and is never stored; it is derived again from the host's secret key."""

    factor_id: str
    provisioning_uri: str = attrs.field(repr=False)
    secret: str = attrs.field(repr=False)
    expires_at: datetime


@attrs.frozen
class PasswordStatus:
    """Where a password stands at a moment (PW-11, PW-12), for agendas and banners."""

    account_id: str
    set_at: datetime
    expires_at: datetime | None
    days_until_expiry: int | None
    expired: bool
    must_change: bool
    change_allowed_at: datetime | None
