"""Identity use cases: register, log in, verify codes, change, recover, upkeep, help desk.

Each public method is one use case in one transaction: it loads the account
through the ``user_id`` or ``email`` index, asks the pure rules
(:mod:`~enrollkit.identity._passwords`, :mod:`~enrollkit.identity._accounts`),
saves, records an event for every state change (AU-1) and queues the
notifications, which the notifier receives only after the commit. Every
argument is checked at the boundary (ER-1).

Decisions worth knowing:

* Login is two steps (AC-5): password, then a one-time code sent to the
  account's factor (or read from its authenticator app, AC-9). A completed
  login answers a sealed :class:`~enrollkit.principals.Principal`, the only
  thing other use cases act for (AC-8). Hosts with their own sign-on assert
  one instead (:meth:`IdentityService.assert_principal`), audited as such;
  help-desk operators and MAC reviewers, who are not I&A users, are asserted
  with :meth:`IdentityService.assert_operator`.
* A login whose password expired (PW-12) or was reset by the help desk ends,
  after the code, as :class:`~enrollkit.identity.MustChangePassword`; its
  principal is good for :meth:`IdentityService.change_password` only.
  A change by the user is limited to one per 24 hours (PW-11), except when
  the password expired or was reset by the help desk. Setting a password
  ends every earlier login (their principals are refused).
* Unknown user IDs, wrong passwords and locked accounts get the same
  :class:`~enrollkit.identity.Denied` after the same work (AC-3): an unknown
  user ID is verified against a decoy hash, and every failed attempt, known
  or not, commits one audit event (an unknown ID's subject is a keyed digest,
  never the typed text). Recovery and "forgot user ID" do the same. A known
  account never answers with a storage conflict: a racing attempt runs again
  on fresh data, and in the end answers like an unknown one.
* Decoy security questions of unknown user IDs are keyed by the host's
  secret key, so every worker and every restart shows the same ones (AC-3).
* Account upkeep (AC-9): e-mail changes are confirmed by a code sent to the
  new address; security questions and factors (including an authenticator
  app, RFC 6238) change only after a recent login (15 minutes by default);
  at most 5 one-time codes go out per 15 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Final, TypeVar

import attrs
import pyotp

from enrollkit.boundary import Limit, boundary
from enrollkit.errors import (
    ConflictError,
    ExpiredError,
    InvalidTransitionError,
    NotFoundError,
    NotPermittedError,
    ValidationError,
    excerpt,
)
from enrollkit.identity._accounts import (
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
    PendingAuthenticator,
    PendingEmail,
    Profile,
    SecurityQuestion,
    mask_destination,
    normalize_answer,
    normalize_user_id,
    validate_destination,
)
from enrollkit.identity._outcomes import (
    Authenticated,
    AuthenticatorEnrollment,
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
from enrollkit.identity._passwords import IA_PASSWORD_POLICY, PasswordPolicy
from enrollkit.notify import Notification
from enrollkit.principals import AuthMethod, Principal, PrincipalKind
from enrollkit.runtime import Runtime, Transaction
from enrollkit.storage import Repository, require

__all__ = ["IdentityService", "NewFactor"]

T = TypeVar("T")
U = TypeVar("U")

_USER_ID: Final = ACCOUNTS.index("user_id")
_EMAIL: Final = ACCOUNTS.index("email")
_HELP_DESK: Final = frozenset({PrincipalKind.HELP_DESK})
_TOTP_INTERVAL: Final = 30
#: Wrong codes for one pending e-mail change before it must be asked again (AC-9).
_EMAIL_CODE_TRIES: Final = 3

#: Secrets and short texts: passwords, codes, answers are at most this long (ER-1).
Secret = Annotated[str, Limit(chars=256)]
ShortText = Annotated[str, Limit(chars=320)]

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
    :class:`~enrollkit.identity.AccountPolicy` to change the rules. The decoy
    questions of unknown user IDs (AC-3) and authenticator secrets (AC-9) are
    keyed by the runtime's secret key.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        password_policy: PasswordPolicy = IA_PASSWORD_POLICY,
        account_policy: AccountPolicy = IA_ACCOUNT_POLICY,
    ) -> None:
        self.runtime = runtime
        self.password_policy = password_policy
        self.account_policy = account_policy
        self._decoy_hash: str | None = None

    def __repr__(self) -> str:
        return f"IdentityService({self.runtime.hasher!r})"

    # -- registration (AC-1, PW-1..PW-9, AC-5, AC-6) -------------------------------------

    @boundary
    def register(
        self,
        *,
        user_id: ShortText,
        password: Secret,
        profile: Profile,
        security_answers: Mapping[ShortText, ShortText],
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
        questions = self._hashed_questions(security_answers)
        _check_factor(factor)
        password_hash = self.runtime.hasher.hash(password)
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
            stored = tx.add(
                ACCOUNTS,
                account,
                "account.registered",
                actor=account.id,
                user_id=user_id,
                factor_kind=factor.kind.value,
                questions=len(questions),
            )
            try:
                tx.commit()
            except ConflictError as exc:
                raise _user_id_taken(user_id) from exc
        return stored

    def _hashed_questions(self, answers: Mapping[str, str]) -> tuple[SecurityQuestion, ...]:
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
                    f"Choose questions from the list; {excerpt(question)} is not on it.",
                    question=excerpt(question),
                )
            if not normalize_answer(answer):
                raise ValidationError(
                    "security_questions.empty_answer",
                    f"Answer the question {question!r}; an answer cannot be blank.",
                    question=question,
                )
        hasher = self.runtime.hasher
        return tuple(
            SecurityQuestion(question, hasher.hash(normalize_answer(answer)))
            for question, answer in items
        )

    # -- principals (AC-8) ---------------------------------------------------------------

    @boundary
    def assert_principal(
        self,
        account_id: ShortText,
        *,
        asserted_by: ShortText,
        authenticated_at: datetime | None = None,
    ) -> Principal:
        """For hosts with their own sign-on: the principal of *account_id*, which the
        host's *asserted_by* (its identity provider, e.g. ``"okta:clinic-prod"``)
        authenticated at *authenticated_at* (default: now). Audited as a host
        assertion (``principal.asserted``); refused for an unknown, locked or disabled
        account or an expired password, like any principal (AC-8)."""
        with self.runtime.transaction() as tx:
            at = authenticated_at or tx.now
            if at > tx.now:
                raise ValidationError(
                    "principal.future_authentication",
                    "authenticated_at is in the future; give when the host's sign-on "
                    "authenticated the person.",
                )
            if tx.repo(ACCOUNTS).get(account_id) is None:
                raise NotFoundError(
                    "account.not_found",
                    f"No account has the id {excerpt(account_id)}; assert principals of "
                    "registered accounts only (AC-8).",
                    account_id=excerpt(account_id),
                )
            principal = self.runtime.secret_key.issue(
                PrincipalKind.ACCOUNT, account_id, at, AuthMethod.HOST_ASSERTION
            )
            tx.act(principal)
            tx.record(
                "principal.asserted",
                subject=account_id,
                actor=account_id,
                asserted_by=asserted_by,
                authenticated_at=at.isoformat(),
            )
            tx.commit()
        return principal

    @boundary
    def assert_operator(
        self, operator_id: ShortText, *, kind: PrincipalKind, asserted_by: ShortText
    ) -> Principal:
        """The principal of a person who is not an I&A user, authenticated by the host:
        a help-desk operator (unlocks, resets, identity proofing) or a MAC reviewer
        (the application's review, EN-4). Audited as ``operator.asserted`` (AC-8)."""
        if kind is PrincipalKind.ACCOUNT:
            raise ValidationError(
                "principal.operator_kind",
                "Accounts log in or are asserted with assert_principal; operators are help "
                "desk or MAC.",
            )
        if not operator_id.strip():
            raise ValidationError("principal.operator_id", "Name the operator (their id).")
        with self.runtime.transaction() as tx:
            principal = self.runtime.secret_key.issue(
                kind, operator_id, tx.now, AuthMethod.HOST_ASSERTION
            )
            tx.record(
                "operator.asserted",
                subject=principal.audit_id,
                actor=principal.audit_id,
                kind=kind.value,
                asserted_by=asserted_by,
            )
            tx.commit()
        return principal

    # -- login (AC-2, AC-3, AC-5, AC-6, PW-12) --------------------------------------------

    @boundary
    def login(
        self, user_id: ShortText, password: Secret, *, factor_kind: FactorKind | None = None
    ) -> LoginOutcome:
        """Check the password (first step). Answers :class:`MfaRequired` after a right
        password on an unlocked account, else :class:`Denied` (the same for an unknown
        user ID, AC-3). The ``max_failed_logins``-th consecutive failure locks the
        account and notifies its owner (AC-2). The code goes to the account's
        authenticator app when it has one, else to its first factor; *factor_kind*
        chooses another registered kind."""
        return self._absorbing(lambda: self._login(user_id, password, factor_kind), Denied())

    def _login(self, user_id: str, password: str, factor_kind: FactorKind | None) -> LoginOutcome:
        hasher = self.runtime.hasher
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = self._by_user_id(repo, user_id)
            if account is None:
                hasher.verify(self._decoy(), password)  # comparable work (AC-3)
                self._record_unknown(tx, "login.failed", user_id)
                tx.commit()
                return Denied()
            right = hasher.verify(account.password_hash, password)
            if account.locked:
                _record_refused(tx, account, "account.login_refused")
                tx.commit()
                return Denied()  # even the right password (AC-2)
            if not right:
                self._count_login_failure(tx, account)
                tx.commit()
                return Denied()
            updated = account.password_accepted()
            if hasher.needs_rehash(account.password_hash):  # AC-6
                updated = updated.rehashed(hasher.hash(password))
                tx.record("account.password_rehashed", subject=account.id, actor=account.id)
            factor = _login_factor(updated, factor_kind)
            lifetime = self.account_policy.code_lifetime
            if factor.kind is FactorKind.AUTHENTICATOR_APP:
                code_hash = ""  # the app shows the code; nothing is sent (AC-9)
            else:
                updated = updated.code_sent(tx.now, policy=self.account_policy)
                code = self._new_code()
                code_hash = hasher.hash(code)
                minutes = int(lifetime.total_seconds() // 60)
                tx.notify(
                    Notification(
                        factor.destination,
                        "mfa.code",
                        {"channel": factor.kind.value, "expires_in_minutes": str(minutes)},
                        secret=code,
                    )
                )
            challenge = LoginChallenge(
                factor_id=factor.id,
                code_hash=code_hash,
                issued_at=tx.now,
                expires_at=tx.now + lifetime,
            )
            _save_own(
                tx,
                updated.challenged(challenge),
                "account.code_sent",
                factor_id=factor.id,
                factor_kind=factor.kind.value,
            )
            tx.commit()
        hint = (
            factor.destination
            if factor.kind is FactorKind.AUTHENTICATOR_APP
            else mask_destination(factor.destination)
        )
        return MfaRequired(
            user_id=account.user_id,
            factor_kind=factor.kind,
            destination_hint=hint,
            expires_at=challenge.expires_at,
        )

    @boundary
    def verify_code(self, user_id: ShortText, code: Secret) -> LoginOutcome:
        """Check the one-time code of the second step (AC-5). Answers
        :class:`Authenticated` with the principal (AC-8) and the days until expiry
        (PW-12), :class:`MustChangePassword` (expired or reset password) or
        :class:`Denied`. A code is checked only against the account it was issued to
        (AC-7) and is used once; the ``max_failed_codes``-th consecutive wrong code
        locks the account."""
        return self._absorbing(lambda: self._verify_code(user_id, code), Denied(DenialStep.CODE))

    def _verify_code(self, user_id: str, code: str) -> LoginOutcome:
        hasher = self.runtime.hasher
        denied = Denied(DenialStep.CODE)
        with self.runtime.transaction() as tx:
            repo = tx.repo(ACCOUNTS)
            account = self._by_user_id(repo, user_id)
            challenge = account.challenge if account is not None else None
            factor = (
                account.factor(challenge.factor_id)
                if account is not None and challenge is not None
                else None
            )
            if account is None or challenge is None or factor is None or account.locked:
                hasher.verify(self._decoy(), code)  # comparable work (AC-3)
                self._record_unknown(tx, "login.code_refused", user_id)
                tx.commit()
                return denied
            step: int | None = None
            if factor.kind is FactorKind.AUTHENTICATOR_APP:
                hasher.verify(self._decoy(), code)  # comparable work (AC-3)
                step = self._totp_step(account.id, factor, code, tx.now)
                right = step is not None
            else:
                right = hasher.verify(challenge.code_hash, code)
            if challenge.expired(tx.now):
                tx.record("account.code_expired", subject=account.id, actor=None)
                tx.commit()
                return denied
            if not right:
                updated = account.code_failed(tx.now, policy=self.account_policy)
                self._save_failure(
                    tx, account, updated, "account.code_failed", updated.failed_codes
                )
                tx.commit()
                return denied
            updated = account.code_accepted()
            if step is not None:
                updated = updated.with_factor_replaced(attrs.evolve(factor, last_step=step))
            principal = self.runtime.secret_key.issue(
                PrincipalKind.ACCOUNT, account.id, tx.now, AuthMethod.LOGIN
            )
            outcome = self._signed_in(updated, tx.now, principal)
            _save_own(
                tx,
                updated,
                "account.logged_in",
                outcome="authenticated"
                if isinstance(outcome, Authenticated)
                else "must_change_password",
            )
            tx.commit()
        return outcome

    def _signed_in(
        self, account: Account, now: datetime, principal: Principal
    ) -> Authenticated | MustChangePassword:
        policy = self.password_policy
        if policy.is_expired(account.password_set_at, now):
            return MustChangePassword(account.id, account.user_id, ChangeReason.EXPIRED, principal)
        if account.must_change_password:
            return MustChangePassword(account.id, account.user_id, ChangeReason.RESET, principal)
        return Authenticated(
            account_id=account.id,
            user_id=account.user_id,
            days_until_expiry=policy.days_until_expiry(account.password_set_at, now),
            password_expires_at=policy.expires_at(account.password_set_at),
            principal=principal,
        )

    # -- password changes (PW-1..PW-12) ----------------------------------------------------

    @boundary
    def change_password(
        self, *, actor: Principal, current_password: Secret, new_password: Secret
    ) -> PasswordChanged:
        """Change the password of the logged-in *actor* (also one told
        :class:`MustChangePassword`).

        The current password is required, and a wrong one counts as a failed login
        (AC-2). At most one change per 24 hours (PW-11) unless the password expired or
        was reset; the new password obeys PW-1..PW-10 and restarts the 60 days (PW-12).
        Other logins of the account end (AC-8); the answer holds a fresh principal.
        """
        return self.runtime.retrying(
            lambda: self._change_password(actor, current_password, new_password)
        )

    def _change_password(
        self, actor: Principal, current_password: str, new_password: str
    ) -> PasswordChanged:
        hasher = self.runtime.hasher
        policy = self.password_policy
        with self.runtime.transaction() as tx:
            principal = tx.act(actor, password_change=True)
            repo = tx.repo(ACCOUNTS)
            account = require(repo, principal.id, what="account")
            if not hasher.verify(account.password_hash, current_password):
                self._count_login_failure(tx, account)
                tx.commit()
                raise NotPermittedError(
                    "password.current_incorrect",
                    "The current password is not right; type it again. Repeated failures "
                    "lock the account.",
                    account_id=account.id,
                )
            forced = account.must_change_password
            if not policy.change_allowed(account.password_set_at, tx.now, forced=forced):
                allowed_at = policy.next_change_allowed_at(account.password_set_at)
                raise NotPermittedError(
                    "password.change_too_soon",
                    "A password can be changed once every "
                    f"{_hours(policy)} hours; try again after "
                    f"{allowed_at.isoformat() if allowed_at else 'a while'}.",
                    account_id=account.id,
                    allowed_at=allowed_at.isoformat() if allowed_at else None,
                )
            self._require_new_password(account, new_password)
            expired = policy.is_expired(account.password_set_at, tx.now)
            updated = account.password_accepted().password_set(
                hasher.hash(new_password), tx.now, history_depth=policy.history_depth
            )
            _save_own(
                tx, updated, "account.password_changed", was_expired=expired, was_reset=forced
            )
            tx.notify(
                Notification(
                    account.profile.email, "account.password_changed", {"user_id": account.user_id}
                )
            )
            fresh = self.runtime.secret_key.issue(
                PrincipalKind.ACCOUNT, account.id, tx.now, principal.method
            )
            tx.commit()
        return PasswordChanged(account.id, policy.expires_at(updated.password_set_at), fresh)

    @boundary
    def password_status(self, account_id: ShortText) -> PasswordStatus:
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

    @boundary
    def forgot_user_id(self, email: ShortText) -> None:
        """Send the user ID(s) registered with *email* to that address (AC-4).

        Returns nothing, whether or not the address is known, after the same work:
        one committed audit event either way (AC-3).
        """
        with self.runtime.transaction() as tx:
            accounts = tx.repo(ACCOUNTS).find(_EMAIL, email.strip().casefold())
            self._record_unknown(tx, "identity.user_id_reminder_requested", email.casefold())
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

    @boundary
    def security_questions(self, user_id: ShortText) -> tuple[str, ...]:
        """The questions to answer for recovery. For an unknown user ID, a stable decoy
        set from the catalogue, so the answer does not reveal whether it exists (AC-3)."""
        with self.runtime.transaction() as tx:
            account = self._by_user_id(tx.repo(ACCOUNTS), user_id)
        decoy = self._decoy_questions(user_id)  # drawn either way: comparable work (AC-3)
        if account is not None:
            return tuple(q.question for q in account.security_questions)
        return decoy

    @boundary
    def reset_password(
        self,
        user_id: ShortText,
        *,
        answers: Mapping[ShortText, ShortText],
        new_password: Secret,
    ) -> RecoveryOutcome:
        """Forgot password (AC-4): right answers to every security question set a new
        password obeying PW-1..PW-10 (a PasswordRejected otherwise) and unlock a locked
        account. Exempt from the 24-hour limit (PW-11); no forced change follows, as the
        user chose the password. Wrong answers count toward the help-desk-only lock."""
        return self._absorbing(
            lambda: self._recover(user_id, answers, new_password), RecoveryDenied()
        )

    @boundary
    def unlock(
        self, user_id: ShortText, *, answers: Mapping[ShortText, ShortText]
    ) -> RecoveryOutcome:
        """Self-service unlock (AC-2): right answers to every security question unlock an
        account locked by failed logins or codes. Wrong answers count toward the
        help-desk-only lock."""
        return self._absorbing(lambda: self._recover(user_id, answers, None), RecoveryDenied())

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
                self._record_unknown(tx, "recovery.failed", user_id)
                tx.commit()
                return RecoveryDenied()
            right = self._answers_match(account, answers)
            if account.status in (AccountStatus.HELP_DESK_REQUIRED, AccountStatus.DISABLED):
                _record_refused(tx, account, "account.recovery_refused")
                tx.commit()
                return RecoveryDenied()
            if not right:
                updated = account.answers_failed(tx.now, policy=self.account_policy)
                self._save_failure(
                    tx, account, updated, "account.answers_failed", updated.failed_answers
                )
                tx.commit()
                return RecoveryDenied()
            if new_password is None:
                if account.can(event):
                    self._save_unlock(tx, account.self_service_unlocked(), None, event)
                elif account.failed_answers:
                    _save_own(tx, account.answers_accepted(), "account.answers_accepted")
                tx.commit()
                return Recovered(account.user_id)
            self._require_new_password(account, new_password)
            policy = self.password_policy
            updated = account.password_set(
                hasher.hash(new_password),
                tx.now,
                history_depth=policy.history_depth,
                event=event,
            )
            _save_own(
                tx,
                updated,
                "account.password_reset",
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

    def _require_new_password(self, account: Account, password: str) -> None:
        """Refuse *password* as the account's next one unless it obeys PW-1..PW-10: the
        user ID, the names and the password history are the account's."""
        self.password_policy.require(
            password,
            user_id=account.user_id,
            first_name=account.profile.first_name,
            last_name=account.profile.last_name,
            history=account.recent_password_hashes(),
            hasher=self.runtime.hasher,
        )

    def _answers_match(self, account: Account, answers: Mapping[str, str]) -> bool:
        hasher = self.runtime.hasher
        results = [
            hasher.verify(q.answer_hash, normalize_answer(answers.get(q.question, "")))
            for q in account.security_questions
        ]  # every answer is checked: the same work whichever is wrong
        return all(results)

    # -- account upkeep (AC-9) -------------------------------------------------------------

    @boundary
    def request_email_change(self, *, actor: Principal, new_email: ShortText) -> datetime:
        """Start changing the actor's e-mail address (AC-9): a code goes to *new_email*
        (and a notice to the old address); :meth:`confirm_email_change` with that code
        completes it. Needs a recent login (step-up, AC-8). Returns when the code
        expires."""
        validate_destination(FactorKind.EMAIL, new_email)
        policy = self.account_policy

        def step(tx: Transaction, repo: Repository[Account], account: Account) -> datetime:
            counted = account.code_sent(tx.now, policy=policy)
            code = self._new_code()
            pending = PendingEmail(
                new_email,
                self.runtime.hasher.hash(code),
                tx.now + policy.confirmation_lifetime,
            )
            _save_own(
                tx,
                attrs.evolve(counted, pending_email=pending),
                "account.email_change_requested",
                new_email=mask_destination(new_email),
            )
            tx.notify(
                Notification(
                    new_email,
                    "account.email_change_code",
                    {"user_id": account.user_id},
                    secret=code,
                )
            )
            tx.notify(
                Notification(
                    account.profile.email,
                    "account.email_change_requested",
                    {"user_id": account.user_id, "new_email": mask_destination(new_email)},
                )
            )
            return pending.expires_at

        return self._upkeep(actor, step)

    @boundary
    def confirm_email_change(self, *, actor: Principal, code: Secret) -> Profile:
        """Complete an e-mail change with the code sent to the new address (AC-9); the
        old and new addresses are told, and an e-mail factor at the old address moves to
        the new one. Three wrong codes cancel the change. Needs a recent login."""

        def step(tx: Transaction, repo: Repository[Account], account: Account) -> Profile:
            pending = account.pending_email
            if pending is None:
                raise InvalidTransitionError(
                    "email_change.none_pending",
                    "No e-mail change is waiting; ask for one first (AC-9).",
                )
            if tx.now >= pending.expires_at:
                repo.save(attrs.evolve(account, pending_email=None))
                tx.commit()
                raise ExpiredError(
                    "email_change.expired",
                    "The e-mail change code expired; ask for a new one (AC-9).",
                )
            if not self.runtime.hasher.verify(pending.code_hash, code):
                failed = pending.failed + 1
                keep = failed < _EMAIL_CODE_TRIES
                _save_own(
                    tx,
                    attrs.evolve(
                        account,
                        pending_email=attrs.evolve(pending, failed=failed) if keep else None,
                    ),
                    "account.email_change_code_failed",
                    failures=failed,
                )
                tx.commit()
                raise NotPermittedError(
                    "email_change.wrong_code",
                    "The code is not right"
                    + ("; try again." if keep else "; the change is cancelled, ask again.")
                    + " (AC-9)",
                    tries_left=max(_EMAIL_CODE_TRIES - failed, 0),
                )
            profile = attrs.evolve(account.profile, email=pending.email)
            repo.save(account.with_profile(profile))
            self._email_changed(tx, account, pending.email, actor=account.id)
            return profile

        return self._upkeep(actor, step)

    def _email_changed(
        self, tx: Transaction, account: Account, new_email: str, *, actor: str, **data: str
    ) -> None:
        tx.record(
            "account.email_changed",
            subject=account.id,
            actor=actor,
            new_email=mask_destination(new_email),
            **data,
        )
        for recipient in (account.profile.email, new_email):
            tx.notify(
                Notification(
                    recipient,
                    "account.email_changed",
                    {"user_id": account.user_id, "new_email": mask_destination(new_email)},
                )
            )

    @boundary
    def change_security_questions(
        self, *, actor: Principal, answers: Mapping[ShortText, ShortText]
    ) -> tuple[str, ...]:
        """Replace the actor's security questions and answers (AC-9, AC-4); needs a recent
        login (step-up). Returns the new questions."""
        questions = self._hashed_questions(answers)

        def step(tx: Transaction, repo: Repository[Account], account: Account) -> None:
            _save_own(
                tx,
                account.with_questions(questions),
                "account.security_questions_changed",
                questions=len(questions),
            )
            tx.notify(
                Notification(
                    account.profile.email,
                    "account.security_questions_changed",
                    {"user_id": account.user_id},
                )
            )

        self._upkeep(actor, step)
        return tuple(q.question for q in questions)

    @boundary
    def register_factor(self, *, actor: Principal, factor: NewFactor) -> MfaFactor:
        """Add an e-mail, SMS or voice factor to the actor's account (AC-5, AC-9); needs a
        recent login. The owner is told. (Authenticator apps: begin_authenticator.)"""
        _check_factor(factor)

        def step(tx: Transaction, repo: Repository[Account], account: Account) -> MfaFactor:
            added = MfaFactor(tx.new_id("mfa"), factor.kind, factor.destination, tx.now)
            self._save_factor(tx, account.with_factor(added), added)
            return added

        return self._upkeep(actor, step)

    def _save_factor(self, tx: Transaction, account: Account, added: MfaFactor) -> None:
        """Save *account* with the factor *added*, record that and tell its owner (AC-9)."""
        _save_own(
            tx,
            account,
            "account.factor_registered",
            factor_id=added.id,
            factor_kind=added.kind.value,
        )
        shown = (
            added.destination
            if added.kind is FactorKind.AUTHENTICATOR_APP
            else mask_destination(added.destination)
        )
        tx.notify(
            Notification(
                account.profile.email,
                "mfa.factor_registered",
                {"channel": added.kind.value, "destination": shown},
            )
        )

    @boundary
    def remove_factor(self, *, actor: Principal, factor_id: ShortText) -> None:
        """Remove a second factor (AC-5, AC-9); the last one cannot be removed. Needs a
        recent login."""

        def step(tx: Transaction, repo: Repository[Account], account: Account) -> None:
            _save_own(
                tx, account.without_factor(factor_id), "account.factor_removed", factor_id=factor_id
            )
            tx.notify(
                Notification(account.profile.email, "mfa.factor_removed", {"factor_id": factor_id})
            )

        self._upkeep(actor, step)

    @boundary
    def begin_authenticator(
        self, *, actor: Principal, label: ShortText = "Authenticator app"
    ) -> AuthenticatorEnrollment:
        """Start adding an authenticator app (TOTP, RFC 6238, AC-9): the answer holds the
        ``otpauth://`` URI to show as a QR code; :meth:`confirm_authenticator` with the
        app's first code registers it. Needs a recent login."""
        if not label.strip():
            raise ValidationError("mfa.authenticator_label", "Name the authenticator app.")
        policy = self.account_policy

        def step(
            tx: Transaction, repo: Repository[Account], account: Account
        ) -> tuple[Account, PendingAuthenticator]:
            pending = PendingAuthenticator(
                tx.new_id("mfa"),
                secrets.token_hex(16),
                label.strip(),
                tx.now + policy.confirmation_lifetime,
            )
            _save_own(
                tx,
                attrs.evolve(account, pending_authenticator=pending),
                "account.authenticator_started",
                factor_id=pending.factor_id,
            )
            return account, pending

        account, pending = self._upkeep(actor, step)
        totp = self._totp(account.id, pending.factor_id, pending.seed)
        return AuthenticatorEnrollment(
            factor_id=pending.factor_id,
            provisioning_uri=totp.provisioning_uri(
                name=account.user_id, issuer_name=policy.authenticator_issuer
            ),
            secret=totp.secret,
            expires_at=pending.expires_at,
        )

    @boundary
    def confirm_authenticator(self, *, actor: Principal, code: Secret) -> MfaFactor:
        """Register the authenticator app started with :meth:`begin_authenticator`, once
        it shows a right code (AC-9); the owner is told."""

        def step(tx: Transaction, repo: Repository[Account], account: Account) -> MfaFactor:
            pending = account.pending_authenticator
            if pending is None or tx.now >= pending.expires_at:
                raise InvalidTransitionError(
                    "mfa.no_authenticator_pending",
                    "No authenticator app is waiting to be confirmed; start again (AC-9).",
                )
            candidate = MfaFactor(
                pending.factor_id,
                FactorKind.AUTHENTICATOR_APP,
                pending.label,
                tx.now,
                seed=pending.seed,
            )
            totp_step = self._totp_step(account.id, candidate, code, tx.now)
            if totp_step is None:
                raise ValidationError(
                    "mfa.authenticator_code",
                    "That is not the code the app shows now; check the app's clock and "
                    "type the current code (AC-9).",
                )
            added = attrs.evolve(candidate, last_step=totp_step)
            self._save_factor(
                tx, attrs.evolve(account.with_factor(added), pending_authenticator=None), added
            )
            return added

        return self._upkeep(actor, step)

    def _upkeep(
        self, actor: Principal, step: Callable[[Transaction, Repository[Account], Account], T]
    ) -> T:
        """Run *step* on the actor's own account in one unit of work (run again on a
        concurrent change), once the actor logged in recently (step-up, AC-8, AC-9); the
        unit of work commits after the step."""

        def use_case() -> T:
            with self.runtime.transaction() as tx:
                principal = tx.act(actor, fresh_within=self.account_policy.step_up_window)
                repo = tx.repo(ACCOUNTS)
                account = require(repo, principal.id, what="account")
                result = step(tx, repo, account)
                tx.commit()
            return result

        return self.runtime.retrying(use_case)

    def _totp(self, account_id: str, factor_id: str, seed: str) -> pyotp.TOTP:
        """The authenticator's TOTP, derived from the host key and the stored seed."""
        message = f"{account_id}\x1f{factor_id}\x1f{seed}".encode()
        raw = hmac.new(
            self.runtime.secret_key.derive("identity.totp"), message, hashlib.sha256
        ).digest()[:20]
        secret = base64.b32encode(raw).decode("ascii")
        return pyotp.TOTP(secret, digits=self.account_policy.code_digits, interval=_TOTP_INTERVAL)

    def _totp_step(
        self, account_id: str, factor: MfaFactor, code: str, now: datetime
    ) -> int | None:
        """The time step whose code *code* is (one step of clock drift either way), if it
        is later than the last one used; None otherwise (RFC 6238, AC-9)."""
        if factor.seed is None:
            return None
        totp = self._totp(account_id, factor.id, factor.seed)
        current = int(now.timestamp()) // _TOTP_INTERVAL
        found: int | None = None
        for step in (current - 1, current, current + 1):
            expected = totp.generate_otp(step)
            if hmac.compare_digest(expected.encode(), code.strip().encode("utf-8")):
                found = step
        if found is None or (factor.last_step is not None and found <= factor.last_step):
            return None
        return found

    # -- help desk (AC-2, AC-8, AC-9) -------------------------------------------------------

    @boundary
    def account_for_user_id(self, user_id: ShortText, *, actor: Principal) -> Account:
        """Look an account up by user ID, for a help-desk operator (NotFoundError)."""
        with self.runtime.transaction() as tx:
            tx.act(actor, kinds=_HELP_DESK)
            account = self._by_user_id(tx.repo(ACCOUNTS), user_id)
        if account is None:
            raise _no_account(user_id)
        return account

    @boundary
    def get(self, account_id: ShortText) -> Account:
        """Return the account with this id (raises NotFoundError). A host read: hashes
        are hidden from its repr."""
        return self.runtime.load(ACCOUNTS, account_id, what="account")

    @boundary
    def help_desk_unlock(self, account_id: ShortText, *, actor: Principal) -> Account:
        """A help-desk operator unlocks the account (AC-2); the operator is in the event."""
        return self._help_desk(
            account_id, actor, lambda account, tx: account.help_desk_unlocked(), unlock=True
        )

    @boundary
    def help_desk_disable(
        self, account_id: ShortText, *, actor: Principal, reason: ShortText
    ) -> Account:
        """A help-desk operator disables the account (AC-8): it cannot log in, and every
        principal of it is refused, until enabled."""
        if not reason.strip():
            raise ValidationError("help_desk.reason", "Say why the account is disabled.")
        return self._help_desk(
            account_id,
            actor,
            lambda account, tx: account.disabled_now(tx.now),
            event="account.disabled",
            reason=reason,
        )

    @boundary
    def help_desk_enable(self, account_id: ShortText, *, actor: Principal) -> Account:
        """A help-desk operator enables a disabled account again (AC-8)."""
        return self._help_desk(
            account_id, actor, lambda account, tx: account.enabled(), event="account.enabled"
        )

    @boundary
    def help_desk_change_email(
        self,
        account_id: ShortText,
        *,
        actor: Principal,
        new_email: ShortText,
        verification: ShortText,
    ) -> Account:
        """A help-desk operator changes the e-mail of a user who lost the address on file,
        after verifying who they are (AC-9); *verification* records how (a ticket or
        reference). Both addresses are told."""
        validate_destination(FactorKind.EMAIL, new_email)
        if not verification.strip():
            raise ValidationError(
                "help_desk.verification", "Record how the user's identity was verified."
            )

        def change(account: Account, tx: Transaction) -> Account:
            return account.with_profile(attrs.evolve(account.profile, email=new_email))

        def after(tx: Transaction, before: Account, operator: str) -> None:
            self._email_changed(tx, before, new_email, actor=operator, verification=verification)

        return self._help_desk(account_id, actor, change, after=after)

    def _help_desk(
        self,
        account_id: str,
        actor: Principal,
        change: Callable[[Account, Transaction], Account],
        *,
        unlock: bool = False,
        event: str | None = None,
        after: Callable[[Transaction, Account, str], None] | None = None,
        **data: str,
    ) -> Account:
        def use_case() -> Account:
            with self.runtime.transaction() as tx:
                operator = tx.act(actor, kinds=_HELP_DESK).audit_id
                repo = tx.repo(ACCOUNTS)
                account = require(repo, account_id, what="account")
                changed = change(account, tx)
                if unlock:
                    stored = self._save_unlock(tx, changed, operator, AccountEvent.HELP_DESK_UNLOCK)
                elif event is not None:
                    stored = tx.save(ACCOUNTS, changed, event, actor=operator, **data)
                else:
                    stored = repo.save(changed)
                if after is not None:
                    after(tx, account, operator)
                tx.commit()
            return stored

        return self.runtime.retrying(use_case)

    @boundary
    def help_desk_reset(self, account_id: ShortText, *, actor: Principal) -> Account:
        """A help-desk operator resets the password (AC-2): a random compliant temporary
        password goes to the e-mail on file, the account is unlocked, and the user must
        change the password at the next login (exempt from PW-11). Earlier logins end."""
        hasher = self.runtime.hasher
        policy = self.password_policy

        def use_case() -> Account:
            with self.runtime.transaction() as tx:
                operator = tx.act(actor, kinds=_HELP_DESK).audit_id
                repo = tx.repo(ACCOUNTS)
                account = require(repo, account_id, what="account")
                if not account.can(AccountEvent.HELP_DESK_RESET):
                    raise InvalidTransitionError(
                        "account.help_desk_reset_not_allowed",
                        f"This account is {account.status.value}; enable it before resetting "
                        "its password.",
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
                stored = tx.save(
                    ACCOUNTS,
                    updated,
                    "account.password_reset",
                    actor=operator,
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

        return self.runtime.retrying(use_case)

    # -- internals -------------------------------------------------------------------------

    def _absorbing(self, use_case: Callable[[], T], fallback: U) -> T | U:
        """Run a login or recovery step; a conflict that persists through every retry
        answers *fallback*, as an unknown user ID would, never a storage error (AC-3)."""
        try:
            return self.runtime.retrying(use_case)
        except ConflictError as exc:
            if exc.code != "storage.stale":
                raise
            return fallback

    def _by_user_id(self, repo: Repository[Account], user_id: str) -> Account | None:
        found = repo.find(_USER_ID, normalize_user_id(user_id.strip()))
        return found[0] if found else None

    def _record_unknown(self, tx: Transaction, name: str, typed: str) -> None:
        """An audit event for an attempt on no known account, so unknown and known
        attempts commit the same way (AC-3). Its subject is a keyed digest of what was
        typed (attempts on one value correlate; the typed text is never stored)."""
        digest = self.runtime.secret_key.mac(
            "identity.attempt", normalize_user_id(typed.strip()).encode("utf-8")
        )
        tx.record(name, subject=f"attempt-{digest[:24]}", actor=None)

    def _decoy(self) -> str:
        if self._decoy_hash is None:
            self._decoy_hash = self.runtime.hasher.hash(secrets.token_urlsafe(16))
        return self._decoy_hash

    def _decoy_questions(self, user_id: str) -> tuple[str, ...]:
        key = normalize_user_id(user_id.strip()).encode("utf-8")
        seed = hmac.new(
            self.runtime.secret_key.derive("identity.decoy"), key, hashlib.sha256
        ).digest()
        catalogue = self.account_policy.question_catalogue
        picker = random.Random(seed)  # noqa: S311 - a stable choice, not a secret
        return tuple(picker.sample(catalogue, self.account_policy.security_questions))

    def _new_code(self) -> str:
        digits = self.account_policy.code_digits
        return str(secrets.randbelow(10**digits)).zfill(digits)

    def _count_login_failure(self, tx: Transaction, account: Account) -> None:
        updated = account.login_failed(tx.now, policy=self.account_policy)
        self._save_failure(tx, account, updated, "account.login_failed", updated.failed_logins)

    def _save_failure(
        self,
        tx: Transaction,
        account: Account,
        updated: Account,
        event: str,
        failures: int,
    ) -> None:
        """Save a counted wrong password, code or answer (AC-2, AC-4, AC-5), record *event*
        with the count, and record the lock when this failure locked the account."""
        tx.save(ACCOUNTS, updated, event, actor=None, failures=failures)
        if updated.status is not account.status:
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
        unlocked: Account,
        actor: str | None,
        event: AccountEvent,
    ) -> Account:
        stored = tx.save(
            ACCOUNTS,
            unlocked,
            "account.unlocked",
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


def _save_own(tx: Transaction, changed: Account, name: str, **data: Any) -> Account:
    """Save the account *changed* by its holder and record event *name* about it (AU-1)."""
    return tx.save(ACCOUNTS, changed, name, actor=changed.id, **data)


def _record_refused(tx: Transaction, account: Account, name: str) -> None:
    """Record event *name*: an attempt on *account* refused for its status, by nobody
    authenticated (AC-2)."""
    tx.record(name, subject=account.id, actor=None, status=account.status.value)


def _hours(policy: PasswordPolicy) -> int:
    interval = policy.min_change_interval
    return 0 if interval is None else int(interval.total_seconds() // 3600)


def _login_factor(account: Account, kind: FactorKind | None) -> MfaFactor:
    """The factor a login uses (AC-5, AC-9): of *kind* when given; else an authenticator
    app when registered, else the first factor a code can be sent to."""
    factors = account.mfa_factors
    if kind is not None:
        chosen = next((f for f in factors if f.kind is kind), None)
    else:
        chosen = next((f for f in factors if f.kind is FactorKind.AUTHENTICATOR_APP), None)
        chosen = chosen or next((f for f in factors if f.kind in DELIVERABLE_FACTORS), None)
    if chosen is None:
        raise InvalidTransitionError(
            "mfa.no_factor",
            "This account has no factor of that kind to log in with; use another, or ask "
            "the help desk to register one.",
            account_id=account.id,
        )
    return chosen


def _check_factor(factor: NewFactor) -> None:
    if factor.kind not in DELIVERABLE_FACTORS:
        raise ValidationError(
            "mfa.factor_unsupported",
            "Register an authenticator app with begin_authenticator; this call registers "
            "e-mail, SMS or voice factors.",
            kind=factor.kind.value,
        )
    validate_destination(factor.kind, factor.destination)


def _user_id_taken(user_id: str) -> ConflictError:
    return ConflictError(
        "user_id.taken",
        f"The user ID {excerpt(user_id)} is taken (user IDs ignore letter case); choose another.",
        user_id=excerpt(user_id),
    )


def _no_account(user_id: str) -> NotFoundError:
    return NotFoundError(
        "account.not_found",
        f"No account has the user ID {excerpt(user_id)}.",
        user_id=excerpt(user_id),
    )
