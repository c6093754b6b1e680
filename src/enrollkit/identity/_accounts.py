"""The Account aggregate: its values, its lock state machine and its pure transitions.

Nothing here does I/O or hashing; the use cases in :mod:`enrollkit.identity._service`
load an :class:`Account`, ask these functions for the next value, save it and
record the events. Hashes arrive here already made.

The lock state machine is data (:data:`ACCOUNT_MACHINE`): the code, the docs
diagram (its :meth:`~enrollkit.machine.StateMachine.mermaid`) and the tests
read the same table.

>>> print(ACCOUNT_MACHINE.mermaid())  # doctest: +NORMALIZE_WHITESPACE
stateDiagram-v2
    [*] --> active
    active --> locked: lock
    active --> help_desk_required: lock_recovery
    locked --> help_desk_required: lock_recovery
    locked --> active: self_service_unlock
    locked --> active: help_desk_unlock
    help_desk_required --> active: help_desk_unlock
    active --> active: recovery_reset
    locked --> active: recovery_reset
    active --> active: help_desk_reset
    locked --> active: help_desk_reset
    help_desk_required --> active: help_desk_reset
    active --> disabled: disable
    locked --> disabled: disable
    help_desk_required --> disabled: disable
    disabled --> active: enable

User IDs (Rule AC-1) follow :attr:`AccountPolicy.user_id_pattern`, by default
6 to 12 ASCII letters and digits starting with a letter; they are unique
case-insensitively (the ``user_id`` index stores the lower-cased ID) and no
transition changes them.

>>> normalize_user_id("JSmith01")
'jsmith01'
>>> IA_ACCOUNT_POLICY.validate_user_id("js")
Traceback (most recent call last):
...
enrollkit.errors.ValidationError: A user ID has 6 to 12 letters and digits and starts with a letter; 'js' does not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

import attrs

from enrollkit.errors import InvalidTransitionError, NotPermittedError, ValidationError, excerpt
from enrollkit.machine import StateMachine
from enrollkit.storage import Collection, Index

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_MACHINE",
    "IA_ACCOUNT_POLICY",
    "LOGIN_FACTORS",
    "Account",
    "AccountEvent",
    "AccountPolicy",
    "AccountStatus",
    "FactorKind",
    "LockReason",
    "LoginChallenge",
    "MfaFactor",
    "PendingAuthenticator",
    "PendingEmail",
    "Profile",
    "SecurityQuestion",
    "mask_destination",
    "normalize_answer",
    "normalize_user_id",
]


class AccountStatus(Enum):
    """Whether the account can log in (Rule AC-2)."""

    ACTIVE = "active"
    #: Too many failed logins or codes: unlock by security answers or the help desk.
    LOCKED = "locked"
    #: Too many wrong security answers: only the help desk can unlock.
    HELP_DESK_REQUIRED = "help_desk_required"
    #: Switched off by the help desk: no login, no principal acts (AC-8) until enabled.
    DISABLED = "disabled"

    @property
    def label(self) -> str:
        """The status in users' words: ``"locked until the help desk unlocks it"``."""
        if self is AccountStatus.HELP_DESK_REQUIRED:
            return "locked until the help desk unlocks it"
        return str(self.value)


class AccountEvent(Enum):
    """What moves an account between statuses (the events of :data:`ACCOUNT_MACHINE`)."""

    LOCK = "lock"
    LOCK_RECOVERY = "lock_recovery"
    SELF_SERVICE_UNLOCK = "self_service_unlock"
    HELP_DESK_UNLOCK = "help_desk_unlock"
    RECOVERY_RESET = "recovery_reset"
    HELP_DESK_RESET = "help_desk_reset"
    DISABLE = "disable"
    ENABLE = "enable"


_A, _L, _H = AccountStatus.ACTIVE, AccountStatus.LOCKED, AccountStatus.HELP_DESK_REQUIRED
_D = AccountStatus.DISABLED
_E = AccountEvent

#: The lock state machine (Rules AC-2, AC-4, AC-5, AC-8): ``(status, event) -> new
#: status``. A pair that is not in the table is refused with an InvalidTransitionError
#: whose code names the event (``account.help_desk_unlock_not_allowed``).
ACCOUNT_MACHINE: Final = StateMachine.from_table(
    AccountStatus,
    AccountEvent,
    """
    account (AC-2), starts active
    active              lock                 -> locked              : locked
    active              lock_recovery        -> help_desk_required  : locked for the help desk
    locked              lock_recovery        -> help_desk_required  : locked for the help desk
    locked              self_service_unlock  -> active              : unlocked with security answers
    locked              help_desk_unlock     -> active              : unlocked by the help desk
    help_desk_required  help_desk_unlock     -> active              : unlocked by the help desk
    active              recovery_reset       -> active              : reset with security answers
    locked              recovery_reset       -> active              : reset with security answers
    active              help_desk_reset      -> active              : reset by the help desk
    locked              help_desk_reset      -> active              : reset by the help desk
    help_desk_required  help_desk_reset      -> active              : reset by the help desk
    active              disable              -> disabled            : disabled
    locked              disable              -> disabled            : disabled
    help_desk_required  disable              -> disabled            : disabled
    disabled            enable               -> active              : enabled
    """,
    code="account.{event}_not_allowed",
)


class LockReason(Enum):
    """Why an account was locked."""

    FAILED_LOGINS = "failed_logins"
    FAILED_CODES = "failed_codes"
    FAILED_ANSWERS = "failed_answers"


class FactorKind(Enum):
    """Second factors (Rule AC-5). Codes for e-mail, SMS and voice go through the notifier."""

    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    AUTHENTICATOR_APP = "authenticator_app"


#: Factor kinds whose codes enrollkit delivers through the notifier port.
DELIVERABLE_FACTORS: Final = frozenset({FactorKind.EMAIL, FactorKind.SMS, FactorKind.VOICE})
#: Factor kinds a login can use: the delivered ones and an authenticator app (TOTP, AC-9).
LOGIN_FACTORS: Final = DELIVERABLE_FACTORS | {FactorKind.AUTHENTICATOR_APP}

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE: Final = re.compile(r"\+?[0-9][0-9 ()\-.]{6,20}")


@attrs.frozen(kw_only=True)
class AccountPolicy:
    """The account rules that are numbers (AC-1, AC-2, AC-5); the default is I&A's."""

    #: AC-1 [default]: the user ID format (a full match).
    user_id_pattern: str = r"[A-Za-z][A-Za-z0-9]{5,11}"
    #: AC-1: how the format is described to a person.
    user_id_description: str = "6 to 12 letters and digits and starts with a letter"
    #: AC-2 [confirmed]: consecutive failed logins that lock the account.
    max_failed_logins: int = 3
    #: AC-5 [default]: consecutive wrong one-time codes that lock the account.
    max_failed_codes: int = 3
    #: AC-4 [default]: consecutive wrong security-answer attempts before only the help
    #: desk can unlock.
    max_failed_answers: int = 3
    #: AC-5 [confirmed]: digits in a one-time code.
    code_digits: int = 6
    #: AC-5 [default]: how long a one-time code is valid.
    code_lifetime: timedelta = timedelta(minutes=10)
    #: AC-4 [default]: how many security questions an account registers.
    security_questions: int = 3
    #: AC-9 [default]: one-time codes sent (logins, e-mail confirmations) per window.
    code_send_limit: int = 5
    #: AC-9 [default]: the window of the code-send limit.
    code_send_window: timedelta = timedelta(minutes=15)
    #: AC-9 [default]: how long an e-mail change code, or an authenticator enrolment, waits.
    confirmation_lifetime: timedelta = timedelta(hours=24)
    #: AC-8 [default]: how recent a login must be for account changes (step-up).
    step_up_window: timedelta = timedelta(minutes=15)
    #: AC-9 [default]: the issuer name an authenticator app shows.
    authenticator_issuer: str = "enrollkit"
    #: AC-4 [default]: the questions to choose from (as I&A offers a fixed list).
    question_catalogue: tuple[str, ...] = (
        "What is the name of your first pet?",
        "In what city were you born?",
        "What is your mother's maiden name?",
        "What was the make of your first car?",
        "What was the name of your elementary school?",
        "What is the title of your favorite book?",
        "What was your childhood nickname?",
        "In what city did your parents meet?",
    )

    def __attrs_post_init__(self) -> None:
        problems = [
            f"{name} must be at least 1"
            for name in (
                "max_failed_logins",
                "max_failed_codes",
                "max_failed_answers",
                "code_digits",
                "security_questions",
                "code_send_limit",
            )
            if getattr(self, name) < 1
        ]
        for name in ("code_send_window", "confirmation_lifetime", "step_up_window"):
            if getattr(self, name) <= timedelta():
                problems.append(f"{name} must be positive")
        if len(set(self.question_catalogue)) < self.security_questions:
            problems.append(
                "question_catalogue needs at least security_questions distinct questions"
            )
        if self.code_lifetime <= timedelta():
            problems.append("code_lifetime must be positive")
        try:
            re.compile(self.user_id_pattern)
        except re.error:
            problems.append("user_id_pattern is not a regular expression")
        if problems:
            raise ValidationError(
                "account_policy.invalid",
                "This account policy is inconsistent: " + "; ".join(problems) + ".",
                problems=problems,
            )

    def validate_user_id(self, user_id: str) -> str:
        """Return *user_id* unchanged if it has the documented format (AC-1), else refuse."""
        if not _is_text(user_id) or re.fullmatch(self.user_id_pattern, user_id) is None:
            raise ValidationError(
                "user_id.invalid",
                f"A user ID has {self.user_id_description}; {excerpt(user_id)} does not.",
                user_id=excerpt(user_id),
            )
        return user_id


#: The I&A account rules: 3 failed logins lock, 6-digit codes valid 10 minutes.
IA_ACCOUNT_POLICY: Final = AccountPolicy()


def normalize_user_id(user_id: str) -> str:
    """The key that makes user IDs unique case-insensitively (AC-1)."""
    return user_id.casefold()


def normalize_answer(answer: str) -> str:
    """A security answer as hashed and compared: case folded, spaces collapsed (AC-6).

    >>> normalize_answer("  New   York ") == normalize_answer("new york")
    True
    """
    return " ".join(answer.split()).casefold()


def mask_destination(destination: str) -> str:
    """Hide most of an e-mail address or phone number, for showing where a code went.

    >>> mask_destination("ana.smith@example.org"), mask_destination("+1 410 555 0142")
    ('a***@example.org', '***-0142')
    """
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = "".join(c for c in destination if c.isdigit())
    return f"***-{digits[-4:]}"


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def validate_destination(kind: FactorKind, destination: str) -> str:
    """Return *destination* if codes of *kind* can go there (an e-mail address for
    e-mail factors, a phone number otherwise), else refuse with a ValidationError."""
    if kind is FactorKind.EMAIL:
        _email(None, None, destination)
    else:
        _phones(None, None, (destination,))
    return destination


#: The longest e-mail address accepted (RFC 5321 allows 254 characters in a path).
_MAX_EMAIL: Final = 254


def _email(_instance: object, _attribute: object, value: str) -> None:
    if not _is_text(value) or len(value) > _MAX_EMAIL or _EMAIL.fullmatch(value) is None:
        raise ValidationError(
            "profile.email",
            f"{excerpt(value)} is not an e-mail address; write it like name@example.org.",
            value=excerpt(value),
        )


def _phones(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    for phone in value:
        if not _is_text(phone) or len(phone) > 32 or _PHONE.fullmatch(phone) is None:
            raise ValidationError(
                "profile.phone",
                f"{excerpt(phone)} is not a phone number; use digits, optionally with a leading +.",
                value=excerpt(phone),
            )


def _texts(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _name(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _is_text(value) or not value.strip():
        raise ValidationError(
            f"profile.{attribute.name}",
            f"The {attribute.name.replace('_', ' ')} cannot be empty.",
        )


@attrs.frozen
class Profile:
    """Who the account belongs to: names, e-mail address and phone numbers."""

    first_name: str = attrs.field(validator=_name)
    last_name: str = attrs.field(validator=_name)
    email: str = attrs.field(validator=_email)
    phones: tuple[str, ...] = attrs.field(default=(), converter=_texts, validator=_phones)


@attrs.frozen
class SecurityQuestion:
    """A question and the hash of its normalised answer (AC-4, AC-6)."""

    question: str
    answer_hash: str = attrs.field(repr=False)


@attrs.frozen
class MfaFactor:
    """A registered second factor (AC-5): where one-time codes are delivered.

    An authenticator app (AC-9) has no destination to send to: its
    ``destination`` is a label, and ``seed`` is a random value from which,
    with the host's secret key, the TOTP secret is derived when needed, so
    the stored account never holds the secret itself. ``last_step`` is the
    last TOTP time step accepted (a code works once).
    """

    id: str
    kind: FactorKind
    destination: str
    registered_at: datetime
    seed: str | None = attrs.field(default=None, repr=False)
    last_step: int | None = None


@attrs.frozen
class PendingEmail:
    """An e-mail change waiting for the code sent to the new address (AC-9)."""

    email: str
    code_hash: str = attrs.field(repr=False)
    expires_at: datetime
    failed: int = 0


@attrs.frozen
class PendingAuthenticator:
    """An authenticator app shown to the user, waiting for its first code (AC-9)."""

    factor_id: str
    seed: str = attrs.field(repr=False)
    label: str
    expires_at: datetime


@attrs.frozen
class LoginChallenge:
    """An issued one-time code waiting for verification (AC-5); only its hash is kept."""

    factor_id: str
    code_hash: str = attrs.field(repr=False)
    issued_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        """Whether the code can no longer be used at *now*."""
        return now >= self.expires_at


@attrs.frozen
class Account:
    """An I&A account. Secrets are present only as argon2id hashes, hidden from ``repr``.

    ``password_history`` holds the hashes of earlier passwords, newest first
    (the current one is ``password_hash``), no more than the policy's
    history depth minus one (PW-10).
    """

    id: str
    user_id: str
    profile: Profile
    created_at: datetime
    password_hash: str = attrs.field(repr=False)
    password_set_at: datetime
    security_questions: tuple[SecurityQuestion, ...]
    mfa_factors: tuple[MfaFactor, ...]
    password_history: tuple[str, ...] = attrs.field(default=(), repr=False)
    must_change_password: bool = False
    status: AccountStatus = AccountStatus.ACTIVE
    lock_reason: LockReason | None = None
    locked_at: datetime | None = None
    failed_logins: int = 0
    failed_codes: int = 0
    failed_answers: int = 0
    challenge: LoginChallenge | None = None
    pending_email: PendingEmail | None = None
    pending_authenticator: PendingAuthenticator | None = None
    #: When one-time codes were sent lately (the AC-9 rate limit), oldest first.
    code_sends: tuple[datetime, ...] = ()
    version: int = 0

    # -- the lock state machine ----------------------------------------------------------

    @property
    def locked(self) -> bool:
        """Whether the account refuses every login (AC-2; a disabled one too)."""
        return self.status is not AccountStatus.ACTIVE

    @property
    def disabled(self) -> bool:
        """Whether the help desk switched the account off (AC-8)."""
        return self.status is AccountStatus.DISABLED

    def can(self, event: AccountEvent) -> bool:
        """Whether *event* is allowed in the current status."""
        return ACCOUNT_MACHINE.allows(self.status, event)

    def _move(self, event: AccountEvent) -> AccountStatus:
        if event in _REFUSALS and not ACCOUNT_MACHINE.allows(self.status, event):
            raise ACCOUNT_MACHINE.refusal(self.status, event, message=_REFUSALS[event])
        return ACCOUNT_MACHINE.next(self.status, event)

    def _lock(self, event: AccountEvent, reason: LockReason, now: datetime) -> Account:
        return attrs.evolve(
            self,
            status=self._move(event),
            lock_reason=reason,
            locked_at=now,
            challenge=None,
        )

    def _lock_at_limit(
        self, failures: int, limit: int, reason: LockReason, now: datetime
    ) -> Account:
        """Lock once *failures* in a row reach *limit* (AC-2, AC-4, AC-5); wrong answers
        leave only the help desk."""
        if failures < limit:
            return self
        event = (
            AccountEvent.LOCK_RECOVERY if reason is LockReason.FAILED_ANSWERS else AccountEvent.LOCK
        )
        return self._lock(event, reason, now)

    def _unlocked(self, event: AccountEvent) -> Account:
        return attrs.evolve(
            self,
            status=self._move(event),
            lock_reason=None,
            locked_at=None,
            failed_logins=0,
            failed_codes=0,
            failed_answers=0,
        )

    # -- password step (AC-2) ------------------------------------------------------------

    def login_failed(self, now: datetime, *, policy: AccountPolicy) -> Account:
        """Count a wrong password; the ``max_failed_logins``-th in a row locks (AC-2)."""
        counted = attrs.evolve(self, failed_logins=self.failed_logins + 1, challenge=None)
        return counted._lock_at_limit(
            counted.failed_logins, policy.max_failed_logins, LockReason.FAILED_LOGINS, now
        )

    def password_accepted(self) -> Account:
        """A right password resets the failure count (AC-2)."""
        return attrs.evolve(self, failed_logins=0)

    def rehashed(self, new_hash: str) -> Account:
        """The same password under a stronger hash (AC-6)."""
        return attrs.evolve(self, password_hash=new_hash)

    # -- one-time codes (AC-5) -----------------------------------------------------------

    def challenged(self, challenge: LoginChallenge) -> Account:
        """Hold a newly issued code (replacing any earlier one)."""
        return attrs.evolve(self, challenge=challenge)

    def code_failed(self, now: datetime, *, policy: AccountPolicy) -> Account:
        """Count a wrong code; the ``max_failed_codes``-th in a row locks like AC-2 (AC-5)."""
        counted = attrs.evolve(self, failed_codes=self.failed_codes + 1)
        return counted._lock_at_limit(
            counted.failed_codes, policy.max_failed_codes, LockReason.FAILED_CODES, now
        )

    def code_accepted(self) -> Account:
        """A right code is used up and resets the code failure count."""
        return attrs.evolve(self, challenge=None, failed_codes=0)

    def with_factor(self, factor: MfaFactor) -> Account:
        """Register another second factor (AC-5)."""
        return attrs.evolve(self, mfa_factors=(*self.mfa_factors, factor))

    def without_factor(self, factor_id: str) -> Account:
        """Remove a second factor; the last one stays, as MFA is required (AC-5)."""
        remaining = tuple(f for f in self.mfa_factors if f.id != factor_id)
        if len(remaining) == len(self.mfa_factors):
            raise ValidationError(
                "mfa.factor_unknown",
                f"This account has no factor {factor_id!r}; list the account's factors.",
                factor_id=factor_id,
            )
        if not remaining:
            raise InvalidTransitionError(
                "mfa.last_factor",
                "Multi-factor authentication is required: register another factor before "
                "removing the last one.",
                factor_id=factor_id,
            )
        challenge = self.challenge
        if challenge is not None and challenge.factor_id == factor_id:
            challenge = None
        return attrs.evolve(self, mfa_factors=remaining, challenge=challenge)

    # -- security answers (AC-4) ---------------------------------------------------------

    def answers_failed(self, now: datetime, *, policy: AccountPolicy) -> Account:
        """Count wrong security answers; too many leave only the help desk (AC-4)."""
        counted = attrs.evolve(self, failed_answers=self.failed_answers + 1)
        return counted._lock_at_limit(
            counted.failed_answers, policy.max_failed_answers, LockReason.FAILED_ANSWERS, now
        )

    def answers_accepted(self) -> Account:
        """Right answers reset their failure count."""
        return attrs.evolve(self, failed_answers=0)

    def self_service_unlocked(self) -> Account:
        """Unlocked by the owner's security answers (AC-2)."""
        return self._unlocked(AccountEvent.SELF_SERVICE_UNLOCK)

    def help_desk_unlocked(self) -> Account:
        """Unlocked by a help-desk actor (AC-2)."""
        return self._unlocked(AccountEvent.HELP_DESK_UNLOCK)

    def disabled_now(self, now: datetime) -> Account:
        """Switched off by the help desk (AC-8): no login, no principal acts."""
        return attrs.evolve(
            self, status=self._move(AccountEvent.DISABLE), locked_at=now, challenge=None
        )

    def enabled(self) -> Account:
        """Switched on again by the help desk; failure counts start over."""
        return self._unlocked(AccountEvent.ENABLE)

    # -- account upkeep (AC-9) -----------------------------------------------------------

    def codes_sent_within(self, now: datetime, window: timedelta) -> tuple[datetime, ...]:
        """The code sends that still count toward the rate limit at *now* (AC-9)."""
        return tuple(at for at in self.code_sends if at > now - window)

    def code_sent(self, now: datetime, *, policy: AccountPolicy) -> Account:
        """Count one more one-time code sent at *now*, or refuse when the limit is
        reached (AC-9: 5 per 15 minutes by default)."""
        recent = self.codes_sent_within(now, policy.code_send_window)
        if len(recent) >= policy.code_send_limit:
            retry_at = recent[0] + policy.code_send_window
            minutes = max(1, math.ceil((retry_at - now).total_seconds() / 60))
            raise NotPermittedError(
                "mfa.too_many_codes",
                f"Too many one-time codes were sent to this account lately (at most "
                f"{policy.code_send_limit} per {int(policy.code_send_window.total_seconds() // 60)} "
                f"minutes, AC-9); try again in {minutes} minutes.",
                retry_at=retry_at.isoformat(),
            )
        return attrs.evolve(self, code_sends=(*recent, now))

    def with_profile(self, profile: Profile) -> Account:
        """The same account with another profile (a confirmed e-mail change, AC-9). An
        e-mail factor at the old address moves to the new one, so login codes follow the
        address the user proved (or the help desk verified)."""
        old, new = self.profile.email, profile.email
        factors = tuple(
            attrs.evolve(f, destination=new)
            if f.kind is FactorKind.EMAIL and f.destination.casefold() == old.casefold()
            else f
            for f in self.mfa_factors
        )
        return attrs.evolve(self, profile=profile, pending_email=None, mfa_factors=factors)

    def with_questions(self, questions: tuple[SecurityQuestion, ...]) -> Account:
        """New security questions and answers (AC-9); the answer failures start over."""
        return attrs.evolve(self, security_questions=questions, failed_answers=0)

    def with_factor_replaced(self, factor: MfaFactor) -> Account:
        """*factor* in place of the factor with its id (an authenticator's last step)."""
        return attrs.evolve(
            self,
            mfa_factors=tuple(factor if f.id == factor.id else f for f in self.mfa_factors),
        )

    def factor(self, factor_id: str) -> MfaFactor | None:
        """The registered factor with this id, if any."""
        return next((f for f in self.mfa_factors if f.id == factor_id), None)

    # -- passwords (PW-10, PW-11, PW-12) -------------------------------------------------

    def password_set(
        self,
        new_hash: str,
        now: datetime,
        *,
        history_depth: int,
        must_change: bool = False,
        event: AccountEvent | None = None,
    ) -> Account:
        """Replace the password: the old hash moves into the history (PW-10), the
        expiry clock restarts (PW-12). A reset *event* also unlocks (AC-4)."""
        keep = max(history_depth - 1, 0)
        history = (self.password_hash, *self.password_history)[:keep]
        changed = attrs.evolve(
            self,
            password_hash=new_hash,
            password_set_at=now,
            password_history=history,
            must_change_password=must_change,
            challenge=None,
        )
        if event is None:
            return changed
        return changed._unlocked(event)

    def recent_password_hashes(self) -> tuple[str, ...]:
        """The current and earlier password hashes, newest first (for PW-10)."""
        return (self.password_hash, *self.password_history)


_REFUSALS: Final = {
    AccountEvent.SELF_SERVICE_UNLOCK: "This account is not locked, or only the help desk can "
    "unlock it now; log in, or call the help desk.",
    AccountEvent.HELP_DESK_UNLOCK: "This account is not locked; nothing to unlock.",
    AccountEvent.ENABLE: "This account is not disabled; nothing to enable.",
    AccountEvent.DISABLE: "This account is already disabled.",
}


def _user_id_keys(account: Account) -> list[str]:
    return [normalize_user_id(account.user_id)]


def _email_keys(account: Account) -> list[str]:
    return [account.profile.email.casefold()]


#: The accounts collection: ``user_id`` is unique on the lower-cased user ID (AC-1);
#: ``email`` finds accounts for "forgot user ID" (AC-4).
ACCOUNTS: Final = Collection(
    "identity_accounts",
    Account,
    indexes=(
        Index[Account]("user_id", _user_id_keys, unique=True),
        Index[Account]("email", _email_keys),
    ),
)
