"""The Account aggregate: pure transitions, the lock table, serialization and secrecy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.errors import InvalidTransitionError, ValidationError
from enrollkit.identity import (
    ACCOUNT_MACHINE,
    IA_ACCOUNT_POLICY,
    Account,
    AccountEvent,
    AccountPolicy,
    AccountStatus,
    Authenticated,
    ChangeReason,
    DenialStep,
    Denied,
    FactorKind,
    LockReason,
    LoginChallenge,
    MfaFactor,
    MfaRequired,
    MustChangePassword,
    PasswordStatus,
    Profile,
    SecurityQuestion,
    mask_destination,
    normalize_answer,
    normalize_user_id,
)
from enrollkit.principals import AuthMethod, HostKey, PrincipalKind
from enrollkit.serialization import from_data, to_data

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = IA_ACCOUNT_POLICY
TRANSITIONS = ACCOUNT_MACHINE.transitions

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
hashes = st.builds(
    "$argon2id$v=19$m=8,t=1,p=1${}${}".format,
    st.text(_B64, min_size=22, max_size=22),
    st.text(_B64, min_size=43, max_size=43),
)
user_ids = st.builds(
    str.__add__,
    st.sampled_from("AJQaz"),
    st.text("abcXYZ0189", min_size=5, max_size=11),
)
profiles = st.builds(
    Profile,
    first_name=st.sampled_from(["Jane", "Ana María", "O'Neil"]),
    last_name=st.sampled_from(["Smith", "Smith-Jones"]),
    email=st.sampled_from(["jane@example.org", "a.b@c.example"]),
    phones=st.lists(st.sampled_from(["+1 410 555 0142", "4105550142"]), max_size=2).map(tuple),
)
factors = st.builds(
    MfaFactor,
    id=st.integers(1, 999999).map("mfa-{:06d}".format),
    kind=st.sampled_from(FactorKind),
    destination=st.sampled_from(["jane@example.org", "+1 410 555 0142"]),
    registered_at=moments,
)
accounts = st.builds(
    Account,
    id=st.integers(1, 999999).map("acct-{:06d}".format),
    user_id=user_ids,
    profile=profiles,
    created_at=moments,
    password_hash=hashes,
    password_set_at=moments,
    security_questions=st.lists(
        st.builds(SecurityQuestion, st.sampled_from(POLICY.question_catalogue), hashes),
        max_size=3,
    ).map(tuple),
    mfa_factors=st.lists(factors, min_size=1, max_size=3).map(tuple),
    password_history=st.lists(hashes, max_size=5).map(tuple),
    must_change_password=st.booleans(),
    status=st.sampled_from(AccountStatus),
    lock_reason=st.none() | st.sampled_from(LockReason),
    locked_at=st.none() | moments,
    failed_logins=st.integers(0, 3),
    failed_codes=st.integers(0, 3),
    failed_answers=st.integers(0, 3),
    challenge=st.none()
    | st.builds(LoginChallenge, st.just("mfa-000001"), hashes, moments, moments),
    version=st.integers(0, 100),
)


def account(**changes: object) -> Account:
    """A plain active account."""
    base = Account(
        id="acct-000001",
        user_id="JSmith01",
        profile=Profile("Jane", "Smith", "jane@example.org"),
        created_at=T0,
        password_hash="$argon2id$current",
        password_set_at=T0,
        security_questions=(SecurityQuestion("Q?", "$argon2id$answer"),),
        mfa_factors=(MfaFactor("mfa-1", FactorKind.EMAIL, "jane@example.org", T0),),
    )
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]


class TestLockStateMachine:
    def test_ac_2_table_is_the_diagram(self) -> None:
        """The Mermaid diagram has one arrow per table entry."""
        diagram = ACCOUNT_MACHINE.mermaid()
        assert diagram.count(" --> ") == len(TRANSITIONS) + 1
        for (source, event), target in TRANSITIONS.items():
            assert f"{source.value} --> {target.value}: {event.value}" in diagram

    def test_ac_2_every_status_can_be_left_by_the_help_desk(self) -> None:
        """No status is a dead end: the help desk can always reset, or enable a disabled
        account (AC-8)."""
        for status in AccountStatus:
            assert (status, AccountEvent.HELP_DESK_RESET) in TRANSITIONS or (
                status,
                AccountEvent.ENABLE,
            ) in TRANSITIONS
        assert (AccountStatus.DISABLED, AccountEvent.HELP_DESK_RESET) not in TRANSITIONS

    @pytest.mark.parametrize("status", list(AccountStatus))
    @pytest.mark.parametrize("event", list(AccountEvent))
    def test_ac_2_moves_follow_the_table(self, status: AccountStatus, event: AccountEvent) -> None:
        """can() answers from the table for every (status, event) pair."""
        assert account(status=status).can(event) == ((status, event) in TRANSITIONS)

    def test_ac_2_third_consecutive_failure_locks(self) -> None:
        """Two failures count, the third locks with its reason and time."""
        acct = account()
        for expected in (1, 2):
            acct = acct.login_failed(T0, policy=POLICY)
            assert (acct.failed_logins, acct.status) == (expected, AccountStatus.ACTIVE)
        acct = acct.login_failed(T0, policy=POLICY)
        assert acct.status is AccountStatus.LOCKED
        assert (acct.lock_reason, acct.locked_at) == (LockReason.FAILED_LOGINS, T0)

    def test_ac_2_success_resets_the_count(self) -> None:
        """A right password resets the consecutive count."""
        acct = account().login_failed(T0, policy=POLICY).login_failed(T0, policy=POLICY)
        assert acct.password_accepted().failed_logins == 0

    def test_ac_2_unlock_of_an_active_account_is_an_invalid_transition(self) -> None:
        """The help desk cannot unlock what is not locked."""
        with pytest.raises(InvalidTransitionError) as info:
            account().help_desk_unlocked()
        assert info.value.code == "account.help_desk_unlock_not_allowed"

    def test_ac_2_self_service_cannot_unlock_help_desk_required(self) -> None:
        """After too many wrong answers only the help desk unlocks."""
        acct = account(status=AccountStatus.LOCKED)
        for _ in range(POLICY.max_failed_answers):
            acct = acct.answers_failed(T0, policy=POLICY)
        assert acct.status is AccountStatus.HELP_DESK_REQUIRED
        with pytest.raises(InvalidTransitionError):
            acct.self_service_unlocked()
        assert acct.help_desk_unlocked().status is AccountStatus.ACTIVE

    def test_ac_5_third_wrong_code_locks_and_drops_the_challenge(self) -> None:
        """Wrong codes lock like AC-2, and the outstanding code is discarded."""
        challenge = LoginChallenge("mfa-1", "$argon2id$code", T0, T0 + timedelta(minutes=10))
        acct = account().challenged(challenge)
        for _ in range(POLICY.max_failed_codes):
            acct = acct.code_failed(T0, policy=POLICY)
        assert (acct.status, acct.lock_reason) == (AccountStatus.LOCKED, LockReason.FAILED_CODES)
        assert acct.challenge is None

    def test_ac_5_the_last_factor_cannot_be_removed(self) -> None:
        """MFA is required: removing the only factor is refused."""
        with pytest.raises(InvalidTransitionError) as info:
            account().without_factor("mfa-1")
        assert info.value.code == "mfa.last_factor"
        with pytest.raises(ValidationError):
            account().without_factor("mfa-404")

    def test_pw_10_setting_a_password_keeps_hashes_of_the_previous_five(self) -> None:
        """The history keeps depth-1 earlier hashes; the current is the sixth (PW-10)."""
        acct = account()
        for n in range(8):
            acct = acct.password_set(f"$argon2id$p{n}", T0, history_depth=6)
        assert acct.password_hash == "$argon2id$p7"
        assert acct.password_history == tuple(f"$argon2id$p{n}" for n in (6, 5, 4, 3, 2))
        assert len(acct.recent_password_hashes()) == 6

    def test_ac_4_a_reset_unlocks_and_clears_counters(self) -> None:
        """A recovery reset moves a locked account to active and clears the counters."""
        acct = account(status=AccountStatus.LOCKED, failed_logins=3)
        reset = acct.password_set(
            "$argon2id$new", T0, history_depth=6, event=AccountEvent.RECOVERY_RESET
        )
        assert (reset.status, reset.failed_logins, reset.lock_reason) == (
            AccountStatus.ACTIVE,
            0,
            None,
        )

    @given(accounts, st.sampled_from(AccountEvent))
    def test_ac_1_no_transition_changes_the_user_id(
        self, acct: Account, event: AccountEvent
    ) -> None:
        """Every pure transition keeps the user ID (AC-1: it never changes)."""
        results = [
            acct.login_failed(T0, policy=POLICY) if not acct.locked else acct,
            acct.password_accepted(),
            acct.code_accepted(),
            acct.answers_accepted(),
            acct.rehashed("$argon2id$x"),
            acct.password_set("$argon2id$y", T0, history_depth=6),
        ]
        if acct.can(event) and event in (AccountEvent.RECOVERY_RESET, AccountEvent.HELP_DESK_RESET):
            results.append(acct.password_set("$argon2id$z", T0, history_depth=6, event=event))
        assert {r.user_id for r in results} == {acct.user_id}


class TestValues:
    def test_ac_1_user_id_format_is_documented_and_enforced(self) -> None:
        """6-12 letters and digits starting with a letter; anything else is refused."""
        for good in ("JSmith", "a12345", "Abcdefghijk1"):
            assert POLICY.validate_user_id(good) == good
        for bad in ("js", "1abcdef", "abc def", "abcdefghijklm", "jsmith_1", "jsmíth1"):
            with pytest.raises(ValidationError) as info:
                POLICY.validate_user_id(bad)
            assert info.value.code == "user_id.invalid"

    def test_ac_1_user_ids_are_keyed_case_insensitively(self) -> None:
        """The unique index key ignores case."""
        assert normalize_user_id("JSmith01") == normalize_user_id("jsmith01")

    def test_ac_6_answers_are_normalised_for_case_and_spaces(self) -> None:
        """Case and spacing do not change an answer."""
        assert normalize_answer("  New   YORK\t") == "new york"

    def test_profile_refuses_bad_contact_data(self) -> None:
        """A malformed e-mail or phone is our ValidationError with a stable code."""
        with pytest.raises(ValidationError) as info:
            Profile("Jane", "Smith", "not-an-email")
        assert info.value.code == "profile.email"
        with pytest.raises(ValidationError) as info:
            Profile("Jane", "Smith", "jane@example.org", phones=("call me",))
        assert info.value.code == "profile.phone"
        with pytest.raises(ValidationError) as info:
            Profile(" ", "Smith", "jane@example.org")
        assert info.value.code == "profile.first_name"

    def test_destinations_are_masked(self) -> None:
        """A hint shows only the first letter of an address or the last 4 digits."""
        assert mask_destination("jane@example.org") == "j***@example.org"
        assert mask_destination("+1 (410) 555-0142") == "***-0142"

    def test_ac_5_account_policy_is_configurable_and_checked(self) -> None:
        """Account numbers are fields; inconsistent values are refused."""
        assert attrs.evolve(POLICY, max_failed_logins=5).max_failed_logins == 5
        with pytest.raises(ValidationError) as info:
            AccountPolicy(max_failed_logins=0, user_id_pattern="(")
        assert info.value.code == "account_policy.invalid"


principals = moments.map(
    lambda at: HostKey(b"k" * 32).issue(PrincipalKind.ACCOUNT, "acct-1", at, AuthMethod.LOGIN)
)


class TestSerializationAndSecrecy:
    @given(accounts)
    def test_st_4_accounts_round_trip(self, acct: Account) -> None:
        """Every account round-trips through the one converter."""
        assert from_data(to_data(acct), Account) == acct

    @given(
        st.one_of(
            st.builds(
                Authenticated,
                st.just("acct-1"),
                st.just("JSmith01"),
                st.none() | st.integers(0, 60),
                st.none() | moments,
                principals,
            ),
            st.builds(
                MustChangePassword,
                st.just("acct-1"),
                st.just("JSmith01"),
                st.sampled_from(ChangeReason),
                principals,
            ),
            st.builds(
                MfaRequired,
                st.just("JSmith01"),
                st.sampled_from(FactorKind),
                st.just("j***@x.org"),
                moments,
            ),
            st.builds(Denied, st.sampled_from(DenialStep)),
            st.builds(
                PasswordStatus,
                st.just("acct-1"),
                moments,
                st.none() | moments,
                st.none() | st.integers(0, 60),
                st.booleans(),
                st.booleans(),
                st.none() | moments,
            ),
        )
    )
    def test_st_4_outcomes_round_trip(self, outcome: object) -> None:
        """Login outcomes are data too."""
        assert from_data(to_data(outcome), type(outcome)) == outcome

    @given(accounts)
    def test_ac_6_repr_shows_no_hash(self, acct: Account) -> None:
        """repr() of an account never shows a password, answer or code hash."""
        text = repr(acct)
        assert "$argon2" not in text
        assert acct.password_hash not in text

    def test_ac_6_converter_output_has_secrets_only_as_hashes(self) -> None:
        """The converter's output carries hashes (for storage) and nothing in the clear."""
        challenge = LoginChallenge("mfa-1", "$argon2id$code", T0, T0 + timedelta(minutes=10))
        data = to_data(account(password_history=("$argon2id$old",)).challenged(challenge))
        assert data["password_hash"] == "$argon2id$current"
        assert data["password_history"] == ["$argon2id$old"]
        assert data["security_questions"][0]["answer_hash"].startswith("$argon2id$")
        assert data["challenge"]["code_hash"].startswith("$argon2id$")
        assert "password" not in data and "code" not in data["challenge"]
