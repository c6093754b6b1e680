"""Identity use cases: register, log in, verify codes, change, recover and unlock.

Each public method is one use case in one transaction: it loads the account
through the ``user_id`` or ``email`` index, asks the pure rules
(:mod:`~enrollkit.identity.passwords`, :mod:`~enrollkit.identity.accounts`),
saves, records an event for every state change (AU-1) and queues the
notifications, which the notifier receives only after the commit.

Decisions worth knowing:

* Login is two steps (AC-5): password, then a one-time code sent to the
  account's first factor. Every account registers a factor and cannot remove
  its last one, so MFA is never skipped.
* A login whose password expired (PW-12) or was reset by the help desk ends,
  after the code, as :class:`~enrollkit.identity.MustChangePassword`.
  A change by the user is limited to one per 24 hours (PW-11), except when
  the password expired or was reset by the help desk.
* A recovery reset by security answers (AC-4) is chosen by the user, so it
  does not force another change; a help-desk reset sends a temporary
  password and forces a change at the next login.
* Unknown user IDs, wrong passwords and locked accounts get the same
  :class:`~enrollkit.identity.Denied` after the same hashing work (AC-3):
  an unknown user ID is verified against a decoy hash.
* A wrong current password in :meth:`IdentityService.change_password` counts
  as a failed login (AC-2); wrong security answers count separately, and
  after too many only the help desk can unlock.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, TypeVar

import attrs

from enrollkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.identity.accounts import (
    ACCOUNTS,
    DELIVERABLE_FACTORS,
    IA_ACCOUNT_POLICY,
    Account,
    AccountEvent,
    AccountPolicy,
    AccountStatus,
    FactorKind,
    LockReason,
    LoginChallenge,
    MfaFactor,
    Profile,
    SecurityQuestion,
    mask_destination,
    normalize_answer,
    normalize_user_id,
    validate_destination,
)
from enrollkit.identity.outcomes import (
    Authenticated,
    ChangeReason,
    DenialStep,
    Denied,
    LoginOutcome,
    MfaRequired,
    MustChangePassword,
    PasswordChanged,
    PasswordStatus,
    Recovered,
    RecoveryDenied,
    RecoveryOutcome,
)
from enrollkit.identity.passwords import IA_PASSWORD_POLICY, PasswordPolicy
from enrollkit.notify import Notification
from enrollkit.runtime import Runtime, Transaction
from enrollkit.storage import Repository, require

__all__ = ["IdentityService", "NewFactor"]

T = TypeVar("T")

#: How many times a use case runs when a concurrent save of the same account wins.
_ATTEMPTS: Final = 3

_USER_ID: Final = ACCOUNTS.index("user_id")
_EMAIL: Final = ACCOUNTS.index("email")

_UNLOCK_HELP: Final = {
    LockReason.FAILED_LOGINS: "Unlock it by answering your security questions, or call the "
    "help desk.",
    LockReason.FAILED_CODES: "Unlock it by answering your security questions, or call the "
    "help desk.",
    LockReason.FAILED_ANSWERS: "Call the help desk to unlock it.",
}


@attrs.frozen
class NewFactor:
    """A second factor to register (AC-5): its kind and where codes go."""

    kind: FactorKind
    destination: str


class IdentityService:
    """The identity use cases over one :class:`~enrollkit.runtime.Runtime`.

    Policies are parameters: pass a stricter
    :class:`~enrollkit.identity.PasswordPolicy` or
    :class:`~enrollkit.identity.AccountPolicy` to change the rules.

    *decoy_key* (a secret of 16+ random bytes, from the host's configuration)
    keeps the decoy security questions of unknown user IDs stable across
    restarts and processes (AC-3); without it they are stable per service
    instance only.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        password_policy: PasswordPolicy = IA_PASSWORD_POLICY,
        account_policy: AccountPolicy = IA_ACCOUNT_POLICY,
        decoy_key: bytes | None = None,
    ) -> None:
        self.runtime = runtime
        self.password_policy = password_policy
        self.account_policy = account_policy
        self._decoy_hash: str | None = None
        if decoy_key is not None and (not _is_bytes(decoy_key) or len(decoy_key) < 16):
            raise ValidationError(
                "identity.decoy_key", "decoy_key must be at least 16 random bytes."
            )
        self._decoy_key = decoy_key if decoy_key is not None else secrets.token_bytes(32)

    def __repr__(self) -> str:
        return f"IdentityService({self.runtime.hasher!r})"

    # -- registration (AC-1, PW-1..PW-9, AC-5, AC-6) -------------------------------------

    def register(
        self,
        *,
        user_id: str,
        password: str,
        profile: Profile,
        security_answers: Mapping[str, str],
        factor: NewFactor,
    ) -> Account:
        """Open an account (AC-1): a unique, immutable user ID; a compliant password
        (PW-1..PW-9); security answers to questions from the catalogue (AC-4), hashed;
        and a second factor (AC-5). Raises ValidationError, PasswordRejected or
        ConflictError (``user_id.taken``)."""
        policy = self.account_policy
        policy.validate_user_id(user_id)
        self.password_policy.require(
            password,
            user_id=user_id,
            first_name=profile.first_name,
            last_name=profile.last_name,
        )
        answers = self._validated_answers(security_answers)
        _check_factor(factor)
        hasher = self.runtime.hasher
        questions = tuple(
            SecurityQuestion(question, hasher.hash(normalize_answer(answer)))
            for question, answer in answers
        )
        password_hash = hasher.hash(password)
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            if repo.find(_USER_ID, normalize_user_id(user_id)):
                raise _user_id_taken(user_id)
            account = Account(
                id=tx.new_id("acct"),
                user_id=user_id,
                profile=profile,
                created_at=tx.now,
                password_hash=password_hash,
                password_set_at=tx.now,
                security_questions=questions,
                mfa_factors=(MfaFactor(tx.new_id("mfa"), factor.kind, factor.destination, tx.now),),
            )
            stored = repo.add(account)
            tx.record(
                "account.registered",
                subject=stored.id,
                actor=stored.id,
                user_id=user_id,
                factor_kind=factor.kind.value,
                questions=len(questions),
            )
            try:
                tx.commit()
            except ConflictError as exc:
                raise _user_id_taken(user_id) from exc
        return stored

    def _validated_answers(self, answers: Mapping[str, str]) -> list[tuple[str, str]]:
        policy = self.account_policy
        items = list(answers.items())
        if len(items) != policy.security_questions:
            raise ValidationError(
                "security_questions.count",
                f"Answer exactly {policy.security_questions} security questions; got {len(items)}.",
                expected=policy.security_questions,
                got=len(items),
            )
        for question, answer in items:
            if policy.question_catalogue and question not in policy.question_catalogue:
                raise ValidationError(
                    "security_questions.unknown",
                    f"Choose questions from the list; {question!r} is not on it.",
                    question=question,
                )
            if not normalize_answer(answer):
                raise ValidationError(
                    "security_questions.empty_answer",
                    f"Answer the question {question!r}; an answer cannot be blank.",
                    question=question,
                )
        return items

    # -- login (AC-2, AC-3, AC-5, AC-6, PW-12) --------------------------------------------

    def login(self, user_id: str, password: str) -> LoginOutcome:
        """Check the password (first step). Answers :class:`MfaRequired` after a right
        password on an unlocked account, else :class:`Denied` (the same for an unknown
        user ID, AC-3). The ``max_failed_logins``-th consecutive failure locks the
        account and notifies its owner (AC-2)."""
        _require_text(user_id=user_id, password=password)
        return self._retry(lambda: self._login(user_id, password))

    def _login(self, user_id: str, password: str) -> LoginOutcome:
        hasher = self.runtime.hasher
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = self._by_user_id(repo, user_id)
            if account is None:
                hasher.verify(self._decoy(), password)  # comparable work (AC-3)
                return Denied()
            right = hasher.verify(account.password_hash, password)
            if account.locked:
                return Denied()  # even the right password (AC-2)
            if not right:
                self._count_login_failure(tx, repo, account)
                tx.commit()
                return Denied()
            updated = account.password_accepted()
            if hasher.needs_rehash(account.password_hash):  # AC-6
                updated = updated.rehashed(hasher.hash(password))
                tx.record("account.password_rehashed", subject=account.id, actor=account.id)
            factor = _login_factor(updated)
            code = self._new_code()
            challenge = LoginChallenge(
                factor_id=factor.id,
                code_hash=hasher.hash(code),
                issued_at=tx.now,
                expires_at=tx.now + self.account_policy.code_lifetime,
            )
            repo.save(updated.challenged(challenge))
            tx.record(
                "account.code_sent",
                subject=account.id,
                actor=account.id,
                factor_id=factor.id,
                factor_kind=factor.kind.value,
            )
            minutes = int(self.account_policy.code_lifetime.total_seconds() // 60)
            tx.notify(
                Notification(
                    factor.destination,
                    "mfa.code",
                    {"channel": factor.kind.value, "expires_in_minutes": str(minutes)},
                    secret=code,
                )
            )
            tx.commit()
        return MfaRequired(
            user_id=account.user_id,
            factor_kind=factor.kind,
            destination_hint=mask_destination(factor.destination),
            expires_at=challenge.expires_at,
        )

    def verify_code(self, user_id: str, code: str) -> LoginOutcome:
        """Check the one-time code of the second step (AC-5). Answers
        :class:`Authenticated` (days until expiry, PW-12), :class:`MustChangePassword`
        (expired or reset password) or :class:`Denied`. A code is checked only against
        the account it was issued to (AC-7) and is used once; the
        ``max_failed_codes``-th consecutive wrong code locks the account."""
        _require_text(user_id=user_id, code=code)
        return self._retry(lambda: self._verify_code(user_id, code))

    def _verify_code(self, user_id: str, code: str) -> LoginOutcome:
        hasher = self.runtime.hasher
        denied = Denied(DenialStep.CODE)
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = self._by_user_id(repo, user_id)
            challenge = account.challenge if account is not None else None
            if account is None or challenge is None or account.locked:
                hasher.verify(self._decoy(), code)  # comparable work (AC-3)
                return denied
            right = hasher.verify(challenge.code_hash, code)
            if challenge.expired(tx.now):
                return denied
            if not right:
                updated = account.code_failed(tx.now, policy=self.account_policy)
                repo.save(updated)
                tx.record(
                    "account.code_failed",
                    subject=account.id,
                    actor=None,
                    failures=updated.failed_codes,
                )
                if updated.locked:
                    self._record_lock(tx, updated)
                tx.commit()
                return denied
            updated = account.code_accepted()
            repo.save(updated)
            outcome = self._signed_in(updated, tx.now)
            tx.record(
                "account.logged_in",
                subject=account.id,
                actor=account.id,
                outcome="authenticated"
                if isinstance(outcome, Authenticated)
                else "must_change_password",
            )
            tx.commit()
        return outcome

    def _signed_in(self, account: Account, now: datetime) -> Authenticated | MustChangePassword:
        policy = self.password_policy
        if policy.is_expired(account.password_set_at, now):
            return MustChangePassword(account.id, account.user_id, ChangeReason.EXPIRED)
        if account.must_change_password:
            return MustChangePassword(account.id, account.user_id, ChangeReason.RESET)
        return Authenticated(
            account_id=account.id,
            user_id=account.user_id,
            days_until_expiry=policy.days_until_expiry(account.password_set_at, now),
            password_expires_at=policy.expires_at(account.password_set_at),
        )

    # -- password changes (PW-1..PW-12) ----------------------------------------------------

    def change_password(
        self, account_id: str, *, current_password: str, new_password: str
    ) -> PasswordChanged:
        """Change the password of a logged-in user (or one told :class:`MustChangePassword`).

        The current password is required, and a wrong one counts as a failed login
        (AC-2). At most one change per 24 hours (PW-11) unless the password expired or
        was reset; the new password obeys PW-1..PW-10 and restarts the 60 days (PW-12).
        """
        _require_text(
            account_id=account_id, current_password=current_password, new_password=new_password
        )
        return self._retry(
            lambda: self._change_password(account_id, current_password, new_password)
        )

    def _change_password(
        self, account_id: str, current_password: str, new_password: str
    ) -> PasswordChanged:
        hasher = self.runtime.hasher
        policy = self.password_policy
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = require(repo, account_id, what="account")
            if account.locked:
                raise NotPermittedError(
                    "account.locked",
                    "This account is locked; unlock it with your security answers or call "
                    "the help desk before changing the password.",
                    account_id=account_id,
                )
            if not hasher.verify(account.password_hash, current_password):
                self._count_login_failure(tx, repo, account)
                tx.commit()
                raise NotPermittedError(
                    "password.current_incorrect",
                    "The current password is not right; type it again. Repeated failures "
                    "lock the account.",
                    account_id=account_id,
                )
            forced = account.must_change_password
            if not policy.change_allowed(account.password_set_at, tx.now, forced=forced):
                allowed_at = policy.next_change_allowed_at(account.password_set_at)
                raise NotPermittedError(
                    "password.change_too_soon",
                    "A password can be changed once every "
                    f"{_hours(policy)} hours; try again after "
                    f"{allowed_at.isoformat() if allowed_at else 'a while'}.",
                    account_id=account_id,
                    allowed_at=allowed_at.isoformat() if allowed_at else None,
                )
            policy.require(
                new_password,
                user_id=account.user_id,
                first_name=account.profile.first_name,
                last_name=account.profile.last_name,
                history=account.recent_password_hashes(),
                hasher=hasher,
            )
            expired = policy.is_expired(account.password_set_at, tx.now)
            updated = account.password_accepted().password_set(
                hasher.hash(new_password), tx.now, history_depth=policy.history_depth
            )
            repo.save(updated)
            tx.record(
                "account.password_changed",
                subject=account.id,
                actor=account.id,
                was_expired=expired,
                was_reset=forced,
            )
            tx.notify(
                Notification(
                    account.profile.email, "account.password_changed", {"user_id": account.user_id}
                )
            )
            tx.commit()
        return PasswordChanged(account.id, policy.expires_at(updated.password_set_at))

    def password_status(self, account_id: str) -> PasswordStatus:
        """Where the account's password stands now: expiry (PW-12) and next change (PW-11)."""
        policy = self.password_policy
        with self.runtime.transaction() as tx:
            account = require(tx.repo(ACCOUNTS), account_id, what="account")
            now = tx.now
        set_at = account.password_set_at
        expired = policy.is_expired(set_at, now)
        forced = account.must_change_password or expired
        return PasswordStatus(
            account_id=account.id,
            set_at=set_at,
            expires_at=policy.expires_at(set_at),
            days_until_expiry=policy.days_until_expiry(set_at, now),
            expired=expired,
            must_change=forced,
            change_allowed_at=None if forced else policy.next_change_allowed_at(set_at),
        )

    # -- recovery (AC-3, AC-4) -------------------------------------------------------------

    def forgot_user_id(self, email: str) -> None:
        """Send the user ID(s) registered with *email* to that address (AC-4).

        Returns nothing, whether or not the address is known (AC-3).
        """
        with self.runtime.transaction() as tx:
            accounts = tx.repo(ACCOUNTS).find(_EMAIL, email.strip().casefold())
            for account in accounts:
                tx.record("account.user_id_reminded", subject=account.id, actor=None)
                tx.notify(
                    Notification(
                        account.profile.email,
                        "account.user_id_reminder",
                        {"user_id": account.user_id},
                    )
                )
            tx.commit()

    def security_questions(self, user_id: str) -> tuple[str, ...]:
        """The questions to answer for recovery. For an unknown user ID, a stable decoy
        set from the catalogue, so the answer does not reveal whether it exists (AC-3)."""
        with self.runtime.transaction() as tx:
            account = self._by_user_id(tx.repo(ACCOUNTS), user_id)
        if account is not None:
            return tuple(q.question for q in account.security_questions)
        return self._decoy_questions(user_id)

    def reset_password(
        self, user_id: str, *, answers: Mapping[str, str], new_password: str
    ) -> RecoveryOutcome:
        """Forgot password (AC-4): right answers to every security question set a new
        password obeying PW-1..PW-10 (a PasswordRejected otherwise) and unlock a locked
        account. Exempt from the 24-hour limit (PW-11); no forced change follows, as the
        user chose the password. Wrong answers count toward the help-desk-only lock."""
        _require_text(user_id=user_id, new_password=new_password)
        _require_answers(answers)
        return self._retry(lambda: self._recover(user_id, answers, new_password))

    def unlock(self, user_id: str, *, answers: Mapping[str, str]) -> RecoveryOutcome:
        """Self-service unlock (AC-2): right answers to every security question unlock an
        account locked by failed logins or codes. Wrong answers count toward the
        help-desk-only lock."""
        _require_text(user_id=user_id)
        _require_answers(answers)
        return self._retry(lambda: self._recover(user_id, answers, None))

    def _recover(
        self, user_id: str, answers: Mapping[str, str], new_password: str | None
    ) -> RecoveryOutcome:
        hasher = self.runtime.hasher
        event = (
            AccountEvent.SELF_SERVICE_UNLOCK
            if new_password is None
            else (AccountEvent.RECOVERY_RESET)
        )
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = self._by_user_id(repo, user_id)
            if account is None:
                for _ in range(self.account_policy.security_questions):
                    hasher.verify(self._decoy(), "")  # comparable work (AC-3)
                return RecoveryDenied()
            right = self._answers_match(account, answers)
            if account.status is AccountStatus.HELP_DESK_REQUIRED:
                return RecoveryDenied()
            if not right:
                updated = account.answers_failed(tx.now, policy=self.account_policy)
                repo.save(updated)
                tx.record(
                    "account.answers_failed",
                    subject=account.id,
                    actor=None,
                    failures=updated.failed_answers,
                )
                if updated.status is AccountStatus.HELP_DESK_REQUIRED:
                    self._record_lock(tx, updated)
                tx.commit()
                return RecoveryDenied()
            if new_password is None:
                if account.can(event):
                    self._save_unlock(tx, repo, account.self_service_unlocked(), None, event)
                elif account.failed_answers:
                    repo.save(account.answers_accepted())
                    tx.record("account.answers_accepted", subject=account.id, actor=account.id)
                tx.commit()
                return Recovered(account.user_id)
            policy = self.password_policy
            policy.require(
                new_password,
                user_id=account.user_id,
                first_name=account.profile.first_name,
                last_name=account.profile.last_name,
                history=account.recent_password_hashes(),
                hasher=hasher,
            )
            updated = account.password_set(
                hasher.hash(new_password),
                tx.now,
                history_depth=policy.history_depth,
                event=event,
            )
            repo.save(updated)
            tx.record(
                "account.password_reset",
                subject=account.id,
                actor=account.id,
                method="security_answers",
                was_locked=account.locked,
            )
            tx.notify(
                Notification(
                    account.profile.email, "account.password_reset", {"user_id": account.user_id}
                )
            )
            tx.commit()
        return Recovered(account.user_id)

    def _answers_match(self, account: Account, answers: Mapping[str, str]) -> bool:
        hasher = self.runtime.hasher
        results = [
            hasher.verify(q.answer_hash, normalize_answer(answers.get(q.question, "")))
            for q in account.security_questions
        ]  # every answer is checked: the same work whichever is wrong
        return all(results)

    # -- help desk (AC-2) ------------------------------------------------------------------

    def account_for_user_id(self, user_id: str) -> Account:
        """Look an account up by user ID, for the help desk (raises NotFoundError)."""
        with self.runtime.transaction() as tx:
            account = self._by_user_id(tx.repo(ACCOUNTS), user_id)
        if account is None:
            raise _no_account(user_id)
        return account

    def get(self, account_id: str) -> Account:
        """Return the account with this id (raises NotFoundError)."""
        with self.runtime.transaction() as tx:
            return require(tx.repo(ACCOUNTS), account_id, what="account")

    def help_desk_unlock(self, account_id: str, *, actor: str) -> Account:
        """A help-desk *actor* unlocks the account (AC-2); the actor is in the event."""
        _check_actor(actor)
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = require(repo, account_id, what="account")
            stored = self._save_unlock(
                tx, repo, account.help_desk_unlocked(), actor, AccountEvent.HELP_DESK_UNLOCK
            )
            tx.commit()
        return stored

    def help_desk_reset(self, account_id: str, *, actor: str) -> Account:
        """A help-desk *actor* resets the password (AC-2): a random compliant temporary
        password goes to the e-mail on file, the account is unlocked, and the user must
        change the password at the next login (exempt from PW-11)."""
        _check_actor(actor)
        hasher = self.runtime.hasher
        policy = self.password_policy
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = require(repo, account_id, what="account")
            if not account.can(AccountEvent.HELP_DESK_RESET):  # pragma: no cover - table total
                raise InvalidTransitionError(
                    "account.help_desk_reset_not_allowed", "This account cannot be reset now."
                )
            temporary = policy.generate(
                user_id=account.user_id,
                first_name=account.profile.first_name,
                last_name=account.profile.last_name,
            )
            updated = account.password_set(
                hasher.hash(temporary),
                tx.now,
                history_depth=policy.history_depth,
                must_change=True,
                event=AccountEvent.HELP_DESK_RESET,
            )
            stored = repo.save(updated)
            tx.record(
                "account.password_reset",
                subject=account.id,
                actor=actor,
                method="help_desk",
                was_locked=account.locked,
            )
            tx.notify(
                Notification(
                    account.profile.email,
                    "account.temporary_password",
                    {"user_id": account.user_id},
                    secret=temporary,
                )
            )
            tx.commit()
        return stored

    # -- factors (AC-5) --------------------------------------------------------------------

    def register_factor(self, account_id: str, factor: NewFactor) -> MfaFactor:
        """Add a second factor to a logged-in user's account (AC-5); the owner is told."""
        _check_factor(factor)
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = require(repo, account_id, what="account")
            added = MfaFactor(tx.new_id("mfa"), factor.kind, factor.destination, tx.now)
            repo.save(account.with_factor(added))
            tx.record(
                "account.factor_registered",
                subject=account.id,
                actor=account.id,
                factor_id=added.id,
                factor_kind=added.kind.value,
            )
            tx.notify(
                Notification(
                    account.profile.email,
                    "mfa.factor_registered",
                    {
                        "channel": added.kind.value,
                        "destination": mask_destination(added.destination),
                    },
                )
            )
            tx.commit()
        return added

    def remove_factor(self, account_id: str, factor_id: str) -> None:
        """Remove a second factor (AC-5); the last one cannot be removed."""
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = require(repo, account_id, what="account")
            repo.save(account.without_factor(factor_id))
            tx.record(
                "account.factor_removed", subject=account.id, actor=account.id, factor_id=factor_id
            )
            tx.notify(
                Notification(account.profile.email, "mfa.factor_removed", {"factor_id": factor_id})
            )
            tx.commit()

    # -- internals -------------------------------------------------------------------------

    def _retry(self, use_case: Callable[[], T]) -> T:
        """Run *use_case*, again if a concurrent change to the same account won (ST-2).

        Counting failures must not lose a count to a race, and a conflict must
        not surface for a known account when an unknown one never conflicts (AC-3).
        """
        for _ in range(_ATTEMPTS - 1):
            try:
                return use_case()
            except ConflictError as exc:
                if exc.code != "storage.stale":
                    raise
        return use_case()

    def _by_user_id(self, repo: Repository[Account], user_id: str) -> Account | None:
        if not _is_text(user_id):
            return None
        found = repo.find(_USER_ID, normalize_user_id(user_id.strip()))
        return found[0] if found else None

    def _decoy(self) -> str:
        if self._decoy_hash is None:
            self._decoy_hash = self.runtime.hasher.hash(secrets.token_urlsafe(16))
        return self._decoy_hash

    def _decoy_questions(self, user_id: str) -> tuple[str, ...]:
        key = normalize_user_id(user_id.strip()).encode("utf-8")
        seed = hmac.new(self._decoy_key, key, hashlib.sha256).digest()
        catalogue = self.account_policy.question_catalogue
        picker = random.Random(seed)  # noqa: S311 - a stable choice, not a secret
        return tuple(picker.sample(catalogue, self.account_policy.security_questions))

    def _new_code(self) -> str:
        digits = self.account_policy.code_digits
        return str(secrets.randbelow(10**digits)).zfill(digits)

    def _count_login_failure(
        self, tx: Transaction, repo: Repository[Account], account: Account
    ) -> None:
        updated = account.login_failed(tx.now, policy=self.account_policy)
        repo.save(updated)
        tx.record(
            "account.login_failed",
            subject=account.id,
            actor=None,
            failures=updated.failed_logins,
        )
        if updated.locked:
            self._record_lock(tx, updated)

    def _record_lock(self, tx: Transaction, account: Account) -> None:
        reason = account.lock_reason or LockReason.FAILED_LOGINS
        tx.record(
            "account.locked",
            subject=account.id,
            actor=None,
            reason=reason.value,
            status=account.status.value,
        )
        tx.notify(
            Notification(
                account.profile.email,
                "account.locked",
                {
                    "user_id": account.user_id,
                    "reason": reason.value,
                    "how_to_unlock": _UNLOCK_HELP[reason],
                },
            )
        )

    def _save_unlock(
        self,
        tx: Transaction,
        repo: Repository[Account],
        unlocked: Account,
        actor: str | None,
        event: AccountEvent,
    ) -> Account:
        stored = repo.save(unlocked)
        tx.record(
            "account.unlocked",
            subject=unlocked.id,
            actor=actor if actor is not None else unlocked.id,
            method=event.value,
        )
        tx.notify(
            Notification(
                unlocked.profile.email,
                "account.unlocked",
                {"user_id": unlocked.user_id, "method": event.value},
            )
        )
        return stored


def _hours(policy: PasswordPolicy) -> int:
    interval = policy.min_change_interval
    return 0 if interval is None else int(interval.total_seconds() // 3600)


def _login_factor(account: Account) -> MfaFactor:
    for factor in account.mfa_factors:
        if factor.kind in DELIVERABLE_FACTORS:
            return factor
    raise InvalidTransitionError(
        "mfa.no_factor",
        "This account has no factor a code can be sent to; the help desk must register one.",
        account_id=account.id,
    )


def _check_factor(factor: NewFactor) -> None:
    if factor.kind not in DELIVERABLE_FACTORS:
        raise ValidationError(
            "mfa.factor_unsupported",
            f"enrollkit delivers codes by e-mail, SMS or voice; {factor.kind.value} factors "
            "need a verifier enrollkit does not ship yet. Register one of those.",
            kind=factor.kind.value,
        )
    validate_destination(factor.kind, factor.destination)


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_bytes(value: object) -> bool:
    return isinstance(value, bytes)


def _require_text(**values: object) -> None:
    for name, value in values.items():
        if not _is_text(value):
            raise ValidationError(
                "identity.not_text",
                f"{name.replace('_', ' ').capitalize()} must be text; got {type(value).__name__}.",
                field=name,
            )


def _require_answers(answers: object) -> None:
    if not isinstance(answers, Mapping) or not all(
        _is_text(k) and _is_text(v) for k, v in answers.items()
    ):
        raise ValidationError(
            "security_questions.not_text",
            "Give the security answers as a mapping of question text to answer text.",
        )


def _check_actor(actor: str) -> None:
    if not _is_text(actor) or not actor.strip():
        raise ValidationError(
            "help_desk.actor", "Name the help-desk actor (their user or staff id)."
        )


def _user_id_taken(user_id: str) -> ConflictError:
    return ConflictError(
        "user_id.taken",
        f"The user ID {user_id!r} is taken (user IDs ignore letter case); choose another.",
        user_id=user_id,
    )


def _no_account(user_id: str) -> NotFoundError:
    return NotFoundError(
        "account.not_found", f"No account has the user ID {user_id!r}.", user_id=user_id
    )
