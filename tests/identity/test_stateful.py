"""A stateful test of one account against a small model: logins and codes, failures,
locks, unlocks, changes, resets, expiry and clock advances (PW-10, PW-11, PW-12,
AC-2, AC-4, AC-5, AC-8, AC-9).

After every step the stored account must equal the model (status, the three
failure counters, the outstanding code, the password's age and history), and
every step's outcome is the one the rules predict, so:

* never authenticated with a wrong password or code;
* locked exactly at the third consecutive failure (AC-2), or wrong code (AC-5);
* expired exactly 60 days after the password was set (PW-12);
* one change per 24 hours, except for expired or reset passwords (PW-11);
* the previous 6 passwords are refused (PW-10).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from enrollkit.clock import FixedClock
from enrollkit.errors import InvalidTransitionError, NotPermittedError
from enrollkit.identity import (
    AccountStatus,
    Authenticated,
    ChangeReason,
    DenialStep,
    Denied,
    IdentityService,
    MfaRequired,
    MustChangePassword,
    PasswordRejected,
    Recovered,
    RecoveryDenied,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.principals import Principal, PrincipalKind
from tests.conftest import make_runtime
from tests.identity.conftest import ANSWERS, EMAIL, last_code, register

#: a hypothesis state machine over accounts: left out of the fast inner loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POOL = (
    "Blue#Sky42",
    "Red$Moon17",
    "Gold!Star8",
    "Mint%Leaf3",
    "Sand^Dune4",
    "Iron&Gate5",
    "Opal*Ring6",
    "Jade?Wolf7",
)
WRONG = ("Wrong#pass1", "blue#sky42", "Blue#Sky43")
WRONG_ANSWERS = dict.fromkeys(ANSWERS, "nope")
DAY = timedelta(days=1)
SEND_LIMIT, SEND_WINDOW = 5, timedelta(minutes=15)
MAX_AGE = timedelta(days=60)
CODE_LIFE = timedelta(minutes=10)
ACTIVE, LOCKED, HELP_DESK = (
    AccountStatus.ACTIVE,
    AccountStatus.LOCKED,
    AccountStatus.HELP_DESK_REQUIRED,
)


class AccountMachine(RuleBasedStateMachine):
    """One account and its model."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(T0)
        self.notifier = InMemoryNotifier()
        self.service = IdentityService(make_runtime(clock=self.clock, notifier=self.notifier))
        self.help_desk = self.service.assert_operator(
            "helpdesk-1", kind=PrincipalKind.HELP_DESK, asserted_by="tests"
        )

    @initialize()
    def register_account(self) -> None:
        user = register(self.service, password=POOL[0])
        self.account_id = user.id
        self.user_id = user.user_id
        self.current = POOL[0]
        self.previous: list[str] = []  # newest first
        self.set_at = T0
        self.must_change = False
        self.status = ACTIVE
        self.failures = 0
        self.code_failures = 0
        self.answer_failures = 0
        self.code_until: datetime | None = None
        #: The principal of the latest completed login, and when it was issued (AC-8).
        self.principal: Principal | None = None
        self.principal_at = T0
        self.sends: list[datetime] = []  # one-time codes sent (AC-9's rate limit)

    # -- the model ---------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def expired(self) -> bool:
        return self.now >= self.set_at + MAX_AGE

    def unlock_model(self) -> None:
        self.status = ACTIVE
        self.failures = self.code_failures = self.answer_failures = 0

    def lock_model(self, status: AccountStatus) -> None:
        self.status = status
        self.code_until = None

    def count_login_failure(self) -> None:
        self.failures += 1
        self.code_until = None
        if self.failures == 3:
            self.lock_model(LOCKED)

    def password_set(self, new: str, *, must_change: bool) -> None:
        self.previous = [self.current, *self.previous][:5]
        self.current = new
        self.set_at = self.now
        self.must_change = must_change
        self.failures = 0
        self.code_until = None

    def expected_sign_in(self) -> tuple[object, ...]:
        """What a completed login answers, but for the principal (checked apart)."""
        if self.expired():
            return (MustChangePassword, self.account_id, self.user_id, ChangeReason.EXPIRED)
        if self.must_change:
            return (MustChangePassword, self.account_id, self.user_id, ChangeReason.RESET)
        left = ((self.set_at + MAX_AGE).date() - self.now.date()).days  # EN-9: calendar days
        return (Authenticated, self.account_id, self.user_id, left, self.set_at + MAX_AGE)

    def principal_is_stale(self) -> bool:
        """Whether a password was set after the principal's login (AC-8: log in again)."""
        return self.set_at > self.principal_at

    # -- login: password, then code ----------------------------------------------------

    @rule()
    def login_with_the_right_password(self) -> None:
        recent = [at for at in self.sends if at > self.now - SEND_WINDOW]
        if self.status is ACTIVE and len(recent) >= SEND_LIMIT:
            with pytest.raises(NotPermittedError) as info:  # AC-9: at most 5 per 15 minutes
                self.service.login(self.user_id, self.current)
            assert info.value.code == "mfa.too_many_codes"
            return
        first = self.service.login(self.user_id, self.current)
        if self.status is not ACTIVE:
            assert first == Denied()
            return
        assert isinstance(first, MfaRequired)
        self.sends = [*recent, self.now]
        self.failures = 0
        self.code_until = self.now + CODE_LIFE

    @rule(password=st.sampled_from(POOL + WRONG))
    def login_with_a_wrong_password(self, password: str) -> None:
        if password == self.current:
            return
        assert self.service.login(self.user_id, password) == Denied()
        if self.status is ACTIVE:
            self.count_login_failure()

    @rule()
    def enter_the_right_code(self) -> None:
        sent = self.notifier.last(EMAIL, "mfa.code")
        if sent is None or self.code_until is None:
            return
        outcome = self.service.verify_code(self.user_id, last_code(self.notifier, EMAIL))
        if self.status is not ACTIVE or self.now >= self.code_until:
            assert outcome == Denied(DenialStep.CODE)
            return
        assert isinstance(outcome, Authenticated | MustChangePassword)
        if isinstance(outcome, Authenticated):
            seen: tuple[object, ...] = (
                Authenticated,
                outcome.account_id,
                outcome.user_id,
                outcome.days_until_expiry,
                outcome.password_expires_at,
            )
        else:
            seen = (MustChangePassword, outcome.account_id, outcome.user_id, outcome.reason)
        assert seen == self.expected_sign_in()
        assert (outcome.principal.id, outcome.principal.authenticated_at) == (
            self.account_id,
            self.now,
        )
        self.principal, self.principal_at = outcome.principal, self.now
        self.code_failures = 0
        self.code_until = None

    @rule()
    def enter_a_wrong_code(self) -> None:
        sent = self.notifier.last(EMAIL, "mfa.code")
        wrong = "000000" if sent is None or sent.secret != "000000" else "111111"
        assert self.service.verify_code(self.user_id, wrong) == Denied(DenialStep.CODE)
        if self.status is ACTIVE and self.code_until is not None and self.now < self.code_until:
            self.code_failures += 1
            if self.code_failures == 3:
                self.lock_model(LOCKED)

    @rule(wrong_codes=st.integers(1, 3))
    def login_then_enter_wrong_codes(self, wrong_codes: int) -> None:
        """A right password, then wrong codes in a row (AC-5: the third locks)."""
        self.login_with_the_right_password()
        for _ in range(wrong_codes):
            self.enter_a_wrong_code()

    @rule(offset=st.sampled_from([-1, 0]))
    def enter_the_code_at_its_expiry(self, offset: int) -> None:
        """A second before, or exactly when, the code expires (AC-5: 10 minutes)."""
        self.login_with_the_right_password()
        if self.code_until is not None:
            self.clock.set(self.code_until + timedelta(seconds=offset))
        self.enter_the_right_code()

    @rule(offset=st.sampled_from([-1, 0]))
    def login_at_the_expiry_boundary(self, offset: int) -> None:
        """A second before or exactly 60 days after the password was set (PW-12)."""
        self.advance_to_a_boundary(offset, MAX_AGE)
        self.login_with_the_right_password()
        self.enter_the_right_code()

    # -- password changes --------------------------------------------------------------

    @rule(new=st.sampled_from(POOL))
    def change_password(self, new: str) -> None:
        """The logged-in user changes the password (AC-8: acting for the login's principal)."""
        if self.principal is None:
            return
        try:
            changed = self.service.change_password(
                actor=self.principal, current_password=self.current, new_password=new
            )
        except NotPermittedError as exc:
            if self.status is not ACTIVE:
                assert exc.code == "principal.account_locked"
                return
            if self.principal_is_stale():
                assert exc.code == "principal.reauthenticate"
                return
            assert exc.code == "password.change_too_soon"
            assert not (self.must_change or self.expired())
            assert self.now < self.set_at + DAY
            return
        except PasswordRejected as exc:
            assert [v.code for v in exc.violations] == ["password.reused"]
            assert new in [self.current, *self.previous]
            return
        assert self.status is ACTIVE and not self.principal_is_stale()
        assert self.must_change or self.expired() or self.now >= self.set_at + DAY
        assert new not in [self.current, *self.previous]
        self.password_set(new, must_change=False)
        self.principal, self.principal_at = changed.principal, self.now

    @rule(offset=st.sampled_from([-1, 0]), new=st.sampled_from(POOL))
    def change_at_the_24_hour_boundary(self, offset: int, new: str) -> None:
        """A second before or exactly 24 hours after the password was set (PW-11)."""
        self.advance_to_a_boundary(offset, DAY)
        self.change_password(new)

    @precondition(
        lambda self: (
            self.status is ACTIVE and self.principal is not None and not self.principal_is_stale()
        )
    )
    @rule()
    def change_with_a_wrong_current_password(self) -> None:
        assert self.principal is not None
        with pytest.raises(NotPermittedError) as info:
            self.service.change_password(
                actor=self.principal, current_password="Wrong#pass1", new_password=POOL[-1]
            )
        assert info.value.code == "password.current_incorrect"
        self.count_login_failure()

    # -- recovery and the help desk ----------------------------------------------------

    @rule()
    def unlock_with_the_answers(self) -> None:
        outcome = self.service.unlock(self.user_id, answers=ANSWERS)
        if self.status is HELP_DESK:
            assert outcome == RecoveryDenied()
            return
        assert outcome == Recovered(self.user_id)
        if self.status is LOCKED:
            self.unlock_model()
        self.answer_failures = 0

    @rule()
    def unlock_with_wrong_answers(self) -> None:
        assert self.service.unlock(self.user_id, answers=WRONG_ANSWERS) == RecoveryDenied()
        if self.status is not HELP_DESK:
            self.answer_failures += 1
            if self.answer_failures == 3:
                self.lock_model(HELP_DESK)

    @rule(new=st.sampled_from(POOL))
    def reset_with_the_answers(self, new: str) -> None:
        """Forgot password (AC-4): exempt from PW-11, still bound by PW-10."""
        try:
            outcome = self.service.reset_password(self.user_id, answers=ANSWERS, new_password=new)
        except PasswordRejected as exc:
            assert [v.code for v in exc.violations] == ["password.reused"]
            assert new in [self.current, *self.previous]
            return
        if self.status is HELP_DESK:
            assert outcome == RecoveryDenied()
            return
        assert outcome == Recovered(self.user_id)
        assert new not in [self.current, *self.previous]
        self.password_set(new, must_change=False)
        self.unlock_model()

    @rule()
    def help_desk_unlock(self) -> None:
        if self.status is ACTIVE:
            with pytest.raises(InvalidTransitionError):
                self.service.help_desk_unlock(self.account_id, actor=self.help_desk)
            return
        self.service.help_desk_unlock(self.account_id, actor=self.help_desk)
        self.unlock_model()

    @rule()
    def help_desk_reset(self) -> None:
        self.service.help_desk_reset(self.account_id, actor=self.help_desk)
        sent = self.notifier.last(EMAIL, "account.temporary_password")
        assert sent is not None and sent.secret is not None
        self.password_set(sent.secret, must_change=True)
        self.unlock_model()

    # -- time --------------------------------------------------------------------------

    @rule(minutes=st.sampled_from([1, 9, 10, 60, 60 * 23, 60 * 24 * 7, 60 * 24 * 30]))
    def advance_the_clock(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @rule(offset=st.sampled_from([-1, 0, 1]), limit=st.sampled_from([DAY, MAX_AGE]))
    def advance_to_a_boundary(self, offset: int, limit: timedelta) -> None:
        """Land exactly on (or a second around) the 24-hour or 60-day boundary."""
        target = self.set_at + limit + timedelta(seconds=offset)
        if target > self.now:
            self.clock.set(target)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def storage_agrees_with_the_model(self) -> None:
        if not hasattr(self, "account_id"):
            return
        account = self.service.get(self.account_id)
        assert account.status is self.status
        assert (account.failed_logins, account.failed_codes, account.failed_answers) == (
            self.failures,
            self.code_failures,
            self.answer_failures,
        )
        assert (account.challenge is not None) == (self.code_until is not None)
        assert account.password_set_at == self.set_at
        assert account.must_change_password == self.must_change
        assert len(account.password_history) == len(self.previous)

    @invariant()
    def locked_exactly_at_the_third_failure(self) -> None:
        if not hasattr(self, "account_id"):
            return
        assert (self.status is LOCKED) == (
            self.failures == 3 or self.code_failures == 3
        ) or self.status is HELP_DESK


# Examples follow the active profile ("dev" 50, "ci" 200), capped at 100 to stay fast;
# the cheap hasher keeps a step well under a millisecond.
_PROFILE_EXAMPLES = settings().max_examples
AccountMachine.TestCase.settings = settings(
    max_examples=min(_PROFILE_EXAMPLES, 100), stateful_step_count=30, deadline=None
)
TestAccountMachine = AccountMachine.TestCase
