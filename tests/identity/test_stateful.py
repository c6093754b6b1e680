"""A stateful test of one account against a small model: logins, failures, lock,
unlock, changes, resets, expiry and clock advances (PW-10, PW-11, PW-12, AC-2, AC-5).

Invariants checked after every step: the stored status and failure count are
the model's; and each step's outcome is the one the rules predict, so:

* never authenticated with a wrong password;
* locked exactly at the third consecutive failure (AC-2);
* expired exactly 60 days after the password was set (PW-12);
* one change per 24 hours, except for expired or reset passwords (PW-11);
* the previous 6 passwords are refused (PW-10).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.clock import FixedClock
from enrollkit.errors import InvalidTransitionError, NotPermittedError
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import (
    AccountStatus,
    Authenticated,
    ChangeReason,
    Denied,
    IdentityService,
    MfaRequired,
    MustChangePassword,
    PasswordRejected,
    Recovered,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.runtime import Runtime, SequentialIds
from tests.identity.conftest import ANSWERS, EMAIL, last_code, register

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
DAY = timedelta(days=1)
MAX_AGE = timedelta(days=60)


class AccountMachine(RuleBasedStateMachine):
    """One account and its model."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(T0)
        self.notifier = InMemoryNotifier()
        self.service = IdentityService(
            Runtime(
                storage=MemoryStorage(),
                clock=self.clock,
                notifier=self.notifier,
                hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
                ids=SequentialIds(),
            )
        )

    @initialize()
    def register_account(self) -> None:
        user = register(self.service, password=POOL[0])
        self.account_id = user.id
        self.user_id = user.user_id
        self.current = POOL[0]
        self.previous: list[str] = []  # newest first
        self.set_at = T0
        self.failures = 0
        self.locked = False
        self.must_change = False

    # -- the model ---------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def expired(self) -> bool:
        return self.now >= self.set_at + MAX_AGE

    def fail(self) -> None:
        self.failures += 1
        if self.failures == 3:
            self.locked = True

    def password_set(self, new: str, *, must_change: bool) -> None:
        self.previous = [self.current, *self.previous][:5]
        self.current = new
        self.set_at = self.now
        self.must_change = must_change
        self.failures = 0

    # -- rules -------------------------------------------------------------------------

    @rule()
    def login_with_the_right_password(self) -> None:
        first = self.service.login(self.user_id, self.current)
        if self.locked:
            assert first == Denied()
            return
        assert isinstance(first, MfaRequired)
        self.failures = 0
        outcome = self.service.verify_code(self.user_id, last_code(self.notifier, EMAIL))
        if self.expired():
            assert outcome == MustChangePassword(
                self.account_id, self.user_id, ChangeReason.EXPIRED
            )
        elif self.must_change:
            assert outcome == MustChangePassword(self.account_id, self.user_id, ChangeReason.RESET)
        else:
            left = math.ceil((self.set_at + MAX_AGE - self.now) / DAY)
            assert outcome == Authenticated(
                self.account_id, self.user_id, left, self.set_at + MAX_AGE
            )

    @rule(password=st.sampled_from(POOL + WRONG))
    def login_with_a_wrong_password(self, password: str) -> None:
        if password == self.current:
            return
        assert self.service.login(self.user_id, password) == Denied()
        if not self.locked:
            self.fail()

    @rule(new=st.sampled_from(POOL))
    def change_password(self, new: str) -> None:
        try:
            self.service.change_password(
                self.account_id, current_password=self.current, new_password=new
            )
        except NotPermittedError as exc:
            if self.locked:
                assert exc.code == "account.locked"
                return
            assert exc.code == "password.change_too_soon"
            assert not (self.must_change or self.expired())
            assert self.now < self.set_at + DAY
            return
        except PasswordRejected as exc:
            assert [v.code for v in exc.violations] == ["password.reused"]
            assert new in [self.current, *self.previous]
            return
        assert not self.locked
        assert self.must_change or self.expired() or self.now >= self.set_at + DAY
        assert new not in [self.current, *self.previous]
        self.password_set(new, must_change=False)

    @precondition(lambda self: not self.locked)
    @rule()
    def change_with_a_wrong_current_password(self) -> None:
        with pytest.raises(NotPermittedError) as info:
            self.service.change_password(
                self.account_id, current_password="Wrong#pass1", new_password=POOL[-1]
            )
        assert info.value.code == "password.current_incorrect"
        self.fail()

    @rule()
    def unlock_with_answers(self) -> None:
        assert self.service.unlock(self.user_id, answers=ANSWERS) == Recovered(self.user_id)
        if self.locked:
            self.locked = False
            self.failures = 0

    @rule()
    def help_desk_unlock(self) -> None:
        if not self.locked:
            with pytest.raises(InvalidTransitionError):
                self.service.help_desk_unlock(self.account_id, actor="helpdesk-1")
            return
        self.service.help_desk_unlock(self.account_id, actor="helpdesk-1")
        self.locked = False
        self.failures = 0

    @rule()
    def help_desk_reset(self) -> None:
        self.service.help_desk_reset(self.account_id, actor="helpdesk-1")
        sent = self.notifier.last(EMAIL, "account.temporary_password")
        assert sent is not None and sent.secret is not None
        self.password_set(sent.secret, must_change=True)
        self.locked = False

    @rule(offset=st.sampled_from([-1, 0]), new=st.sampled_from(POOL))
    def change_at_the_24_hour_boundary(self, offset: int, new: str) -> None:
        """A second before or exactly 24 hours after the password was set (PW-11)."""
        self.advance_to_a_boundary(offset, DAY)
        self.change_password(new)

    @rule(offset=st.sampled_from([-1, 0]))
    def login_at_the_expiry_boundary(self, offset: int) -> None:
        """A second before or exactly 60 days after the password was set (PW-12)."""
        self.advance_to_a_boundary(offset, MAX_AGE)
        self.login_with_the_right_password()

    @rule(hours=st.integers(1, 24 * 30))
    def advance_the_clock(self, hours: int) -> None:
        self.clock.advance(hours=hours)

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
        expected = AccountStatus.LOCKED if self.locked else AccountStatus.ACTIVE
        assert account.status is expected
        assert account.failed_logins == (self.failures if not self.locked else 3)
        assert account.password_set_at == self.set_at
        assert account.must_change_password == self.must_change
        assert len(account.password_history) == len(self.previous)


AccountMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestAccountMachine = AccountMachine.TestCase
