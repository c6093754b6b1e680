"""The identity use cases on in-memory storage: AC-1..AC-7 and the time rules PW-10..PW-12."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollkit.adapters.memory import MemoryStorage
from enrollkit.clock import FixedClock
from enrollkit.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.hashing import (
    OWASP_MINIMUM,
    Argon2Hasher,
    Argon2Parameters,
    SecretHasher,
)
from enrollkit.identity import (
    IA_ACCOUNT_POLICY,
    IA_PASSWORD_POLICY,
    AccountStates,
    AccountStatus,
    Authenticated,
    ChangeReason,
    DenialStep,
    Denied,
    FactorKind,
    IdentityService,
    LoginOutcome,
    MfaRequired,
    MustChangePassword,
    NewFactor,
    PasswordRejected,
    Profile,
    Recovered,
    RecoveryDenied,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.runtime import Runtime
from tests.conftest import make_runtime
from tests.identity.conftest import (
    ANSWERS,
    EMAIL,
    PASSWORD,
    User,
    help_desk,
    last_code,
    principal_of,
    register,
)

NEXT = ["Red$Moon17", "Gold!Star8", "Mint%Leaf3", "Sand^Dune4", "Iron&Gate5", "Opal*Ring6"]


def sign_in(
    service: IdentityService, notifier: InMemoryNotifier, user_id: str, password: str
) -> LoginOutcome:
    """Both login steps: the password, then the code the notifier received."""
    first = service.login(user_id, password)
    if not isinstance(first, MfaRequired):
        return first
    return service.verify_code(user_id, last_code(notifier))


def event_names(runtime: Runtime, subject: str) -> list[str]:
    return [e.event.name for e in runtime.storage.audit.for_subject(subject)]


@attrs.define
class CountingHasher:
    """A SecretHasher that counts verifications and the cost of the hashes verified."""

    inner: SecretHasher
    verified: list[str] = attrs.Factory(list)

    def hash(self, secret: str) -> str:
        return self.inner.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        self.verified.append(hashed.split("$")[3])  # "m=8,t=1,p=1"
        return self.inner.verify(hashed, secret)

    def needs_rehash(self, hashed: str) -> bool:
        return self.inner.needs_rehash(hashed)


class TestRegistration:
    def test_ac_1_user_id_is_unique_case_insensitively(
        self, service: IdentityService, jane: User
    ) -> None:
        """A second account with the same user ID in another case is refused."""
        with pytest.raises(ConflictError) as info:
            register(service, "jsmith01", email="other@example.org")
        assert info.value.code == "user_id.taken"

    def test_ac_1_user_id_keeps_its_case_and_has_no_rename(
        self, service: IdentityService, jane: User
    ) -> None:
        """The user ID is stored as typed; no use case changes it."""
        assert service.get(jane.id).user_id == "JSmith01"
        assert not [name for name in dir(IdentityService) if "rename" in name]
        assert service.account_for_user_id("JSMITH01", actor=help_desk(service)).id == jane.id

    def test_ac_1_malformed_user_id_is_refused(self, service: IdentityService) -> None:
        """A user ID outside 6-12 letters and digits is a ValidationError."""
        with pytest.raises(ValidationError) as info:
            register(service, "js")
        assert info.value.code == "user_id.invalid"

    def test_pw_1_registration_password_must_comply(self, service: IdentityService) -> None:
        """A weak first password is refused with the whole compliance list."""
        with pytest.raises(PasswordRejected) as info:
            register(service, password="jsmith01")
        assert [v.code for v in info.value.violations] == [
            "password.no_special",
            "password.contains_user_id",
            "password.contains_name",
        ]

    def test_ac_4_three_answers_from_the_catalogue_are_required(
        self, service: IdentityService
    ) -> None:
        """Too few answers, an unknown question or a blank answer are refused."""
        profile = Profile("Jane", "Smith", EMAIL)
        factor = NewFactor(FactorKind.EMAIL, EMAIL)
        q = IA_ACCOUNT_POLICY.question_catalogue
        cases = {
            "security_questions.count": {q[0]: "a"},
            "security_questions.unknown": {q[0]: "a", q[1]: "b", "Favourite colour?": "c"},
            "security_questions.empty_answer": {q[0]: "a", q[1]: "b", q[2]: "   "},
        }
        for code, answers in cases.items():
            with pytest.raises(ValidationError) as info:
                service.register(
                    user_id="JSmith01",
                    password=PASSWORD,
                    profile=profile,
                    security_answers=answers,
                    factor=factor,
                )
            assert info.value.code == code

    def test_ac_5_authenticator_apps_are_not_yet_supported(self, service: IdentityService) -> None:
        """A factor enrollkit cannot deliver codes to is refused clearly."""
        with pytest.raises(ValidationError) as info:
            service.register(
                user_id="JSmith01",
                password=PASSWORD,
                profile=Profile("Jane", "Smith", EMAIL),
                security_answers=ANSWERS,
                factor=NewFactor(FactorKind.AUTHENTICATOR_APP, "app"),
            )
        assert info.value.code == "mfa.factor_unsupported"

    def test_ac_6_secrets_are_stored_only_as_argon2id_hashes(
        self, runtime: Runtime, jane: User
    ) -> None:
        """The password and the normalised answers are argon2id hashes that verify."""
        stored = IdentityService(runtime).get(jane.id)
        assert stored.password_hash.startswith("$argon2id$")
        assert runtime.hasher.verify(stored.password_hash, PASSWORD)
        for question in stored.security_questions:
            assert question.answer_hash.startswith("$argon2id$")
            answer = ANSWERS[question.question]
            assert runtime.hasher.verify(question.answer_hash, answer.casefold())

    def test_registration_records_an_event(self, runtime: Runtime, jane: User) -> None:
        """Registering is a state change with an event (AU-1)."""
        assert event_names(runtime, jane.id) == ["account.registered"]


class TestLogin:
    def test_ac_5_right_password_sends_a_code_then_authenticates(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """Password, then a 6-digit code via the notifier, then Authenticated (AC-5)."""
        first = service.login("jsmith01", PASSWORD)
        assert isinstance(first, MfaRequired)
        assert (first.factor_kind, first.destination_hint) == (FactorKind.EMAIL, "j***@example.org")
        sent = notifier.last(EMAIL, "mfa.code")
        assert sent is not None and sent.secret is not None
        assert len(sent.secret) == 6 and sent.secret.isdigit()
        assert sent.secret not in json.dumps(dict(sent.fields))
        outcome = service.verify_code("JSmith01", sent.secret)
        assert isinstance(outcome, Authenticated)
        assert outcome == Authenticated(
            jane.id,
            "JSmith01",
            60,
            jane.account.password_set_at + timedelta(days=60),
            outcome.principal,
        )
        assert (outcome.principal.id, outcome.principal.method.value) == (jane.id, "login")

    def test_pw_12_each_login_reports_the_days_left(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """Ten days after setting, 50 days are left; the day before the expiry date, 1; on
        that date, 0 (EN-9: counted as the agenda counts)."""
        clock.advance(days=10)
        outcome = sign_in(service, notifier, jane.user_id, PASSWORD)
        assert isinstance(outcome, Authenticated) and outcome.days_until_expiry == 50
        clock.advance(days=49)
        outcome = sign_in(service, notifier, jane.user_id, PASSWORD)
        assert isinstance(outcome, Authenticated) and outcome.days_until_expiry == 1
        clock.advance(hours=23)
        outcome = sign_in(service, notifier, jane.user_id, PASSWORD)
        assert isinstance(outcome, Authenticated) and outcome.days_until_expiry == 0

    def test_pw_12_expired_password_logs_in_only_to_change_it(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """Exactly 60 days after it was set the password must be changed, nothing else."""
        clock.advance(days=60)
        outcome = sign_in(service, notifier, jane.user_id, PASSWORD)
        assert isinstance(outcome, MustChangePassword)
        assert (outcome.account_id, outcome.reason) == (jane.id, ChangeReason.EXPIRED)
        service.change_password(
            actor=outcome.principal, current_password=PASSWORD, new_password=NEXT[0]
        )
        outcome = sign_in(service, notifier, jane.user_id, NEXT[0])
        assert isinstance(outcome, Authenticated) and outcome.days_until_expiry == 60

    def test_ac_2_three_failures_lock_and_notify(
        self,
        runtime: Runtime,
        service: IdentityService,
        notifier: InMemoryNotifier,
        jane: User,
    ) -> None:
        """The third consecutive failure locks, tells the owner, and the right password
        is then denied too."""
        for _ in range(3):
            assert service.login(jane.user_id, "Wrong#pass1") == Denied()
        assert service.get(jane.id).status is AccountStatus.LOCKED
        locked = notifier.last(EMAIL, "account.locked")
        assert locked is not None and locked.fields["reason"] == "failed_logins"
        assert service.login(jane.user_id, PASSWORD) == Denied()
        assert event_names(runtime, jane.id)[-3:] == [
            "account.login_failed",
            "account.locked",
            "account.login_refused",
        ]

    def test_ac_2_a_success_resets_the_count(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """Two failures, a success, two failures: still not locked."""
        for _ in range(2):
            service.login(jane.user_id, "Wrong#pass1")
        assert isinstance(service.login(jane.user_id, PASSWORD), MfaRequired)
        for _ in range(2):
            service.login(jane.user_id, "Wrong#pass1")
        assert service.get(jane.id).status is AccountStatus.ACTIVE

    def test_ac_3_unknown_user_and_wrong_password_are_indistinguishable(
        self, clock: FixedClock, jane: User, runtime: Runtime
    ) -> None:
        """Same outcome, same number of argon2 verifications at the same cost (AC-3)."""
        counting = CountingHasher(runtime.hasher)
        service = IdentityService(attrs.evolve(runtime, hasher=counting))
        unknown = service.login("Nobody99", "Wrong#pass1")
        unknown_work = list(counting.verified)
        counting.verified.clear()
        wrong = service.login(jane.user_id, "Wrong#pass1")
        assert unknown == wrong == Denied()
        assert unknown_work == counting.verified == ["m=8,t=1,p=1"]

    def test_ac_3_locked_account_looks_like_a_wrong_password(
        self, service: IdentityService, jane: User
    ) -> None:
        """A locked account's denial is the same value as an unknown user's."""
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        assert service.login(jane.user_id, PASSWORD) == service.login("Nobody99", PASSWORD)

    def test_ac_5_three_wrong_codes_lock(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """Wrong codes lock the account like failed logins."""
        service.login(jane.user_id, PASSWORD)
        code = last_code(notifier)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(3):
            assert service.verify_code(jane.user_id, wrong) == Denied(DenialStep.CODE)
        account = service.get(jane.id)
        assert account.status is AccountStatus.LOCKED and account.challenge is None
        assert service.verify_code(jane.user_id, code) == Denied(DenialStep.CODE)
        locked = notifier.last(EMAIL, "account.locked")
        assert locked is not None and locked.fields["reason"] == "failed_codes"

    def test_ac_5_a_code_expires_and_is_used_once(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """A code is refused after 10 minutes, and a second time after use."""
        service.login(jane.user_id, PASSWORD)
        clock.advance(minutes=10)
        assert service.verify_code(jane.user_id, last_code(notifier)) == Denied(DenialStep.CODE)
        assert isinstance(sign_in(service, notifier, jane.user_id, PASSWORD), Authenticated)
        assert service.verify_code(jane.user_id, last_code(notifier)) == Denied(DenialStep.CODE)

    def test_ac_5_a_new_login_replaces_the_code(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """Only the newest code works."""
        service.login(jane.user_id, PASSWORD)
        first = last_code(notifier)
        service.login(jane.user_id, PASSWORD)
        second = last_code(notifier)
        if first != second:
            assert service.verify_code(jane.user_id, first) == Denied(DenialStep.CODE)
        assert isinstance(service.verify_code(jane.user_id, second), Authenticated)

    def test_ac_7_no_one_acts_with_another_users_code_or_password(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """A code issued to A is refused for B; A's password does not open B (AC-7).

        There is no impersonation entry point: every step names the account
        and checks that account's own secrets."""
        bob = register(
            service,
            "BJones02",
            email="bob@example.org",
            first_name="Bob",
            last_name="Jones",
            password="Teal@Wave93",
        )
        service.login(jane.user_id, PASSWORD)
        jane_code = last_code(notifier, EMAIL)
        service.login(bob.user_id, bob.password)
        bob_code = last_code(notifier, "bob@example.org")
        if jane_code != bob_code:
            assert service.verify_code(bob.user_id, jane_code) == Denied(DenialStep.CODE)
            assert service.get(bob.id).failed_codes == 1
        assert service.login(bob.user_id, PASSWORD) == Denied()
        outcome = service.verify_code(jane.user_id, jane_code)
        assert isinstance(outcome, Authenticated) and outcome.account_id == jane.id
        public = {name for name in dir(IdentityService) if not name.startswith("_")}
        assert not {n for n in public if "impersonat" in n or "act_as" in n or "switch" in n}

    def test_ac_6_default_hasher_meets_the_owasp_minimum(self) -> None:
        """A runtime without an injected hasher uses argon2id at or above OWASP's minimum."""
        runtime = Runtime(storage=MemoryStorage(), secret_key=b"k" * 32, accounts=AccountStates())
        assert isinstance(runtime.hasher, Argon2Hasher)
        assert runtime.hasher.parameters.meets(OWASP_MINIMUM)
        assert OWASP_MINIMUM.memory_kib == 19 * 1024
        assert (OWASP_MINIMUM.time_cost, OWASP_MINIMUM.parallelism) == (2, 1)

    def test_ac_6_weak_hash_is_upgraded_at_the_next_successful_login(
        self, runtime: Runtime, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """A hash made with weaker parameters is rehashed with the runtime's at login."""
        stronger = Argon2Hasher(Argon2Parameters(memory_kib=64, time_cost=2, parallelism=1))
        upgraded = IdentityService(attrs.evolve(runtime, hasher=stronger))
        assert upgraded.login(jane.user_id, "Wrong#pass1") == Denied()
        assert "m=8,t=1" in upgraded.get(jane.id).password_hash  # not on a failure
        assert isinstance(upgraded.login(jane.user_id, PASSWORD), MfaRequired)
        stored = upgraded.get(jane.id)
        assert "m=64,t=2,p=1" in stored.password_hash
        assert not stronger.needs_rehash(stored.password_hash)
        assert stronger.verify(stored.password_hash, PASSWORD)
        assert "account.password_rehashed" in event_names(runtime, jane.id)
        assert isinstance(upgraded.verify_code(jane.user_id, last_code(notifier)), Authenticated)


class TestPasswordChange:
    def test_pw_11_one_change_per_24_hours(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """A change within 24 hours of the last is refused; at 24 hours it is allowed."""
        clock.advance(hours=23)
        with pytest.raises(NotPermittedError) as info:
            service.change_password(
                actor=principal_of(service, jane), current_password=PASSWORD, new_password=NEXT[0]
            )
        assert info.value.code == "password.change_too_soon"
        clock.advance(hours=1)
        changed = service.change_password(
            actor=principal_of(service, jane), current_password=PASSWORD, new_password=NEXT[0]
        )
        assert changed.expires_at == clock.now() + timedelta(days=60)

    def test_pw_11_expired_password_can_change_at_once(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """An expired password is changed without waiting; the next change waits again."""
        clock.advance(days=60)
        must = sign_in(service, notifier, jane.user_id, PASSWORD)
        assert isinstance(must, MustChangePassword)
        service.change_password(
            actor=must.principal, current_password=PASSWORD, new_password=NEXT[0]
        )
        clock.advance(hours=1)
        with pytest.raises(NotPermittedError):
            service.change_password(
                actor=principal_of(service, jane), current_password=NEXT[0], new_password=NEXT[1]
            )

    def test_pw_10_the_previous_six_passwords_are_refused(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """After six more changes the first password is usable again, not before."""
        current = PASSWORD
        for new in NEXT[:5]:
            clock.advance(days=1)
            service.change_password(
                actor=principal_of(service, jane), current_password=current, new_password=new
            )
            current = new
        clock.advance(days=1)
        for old in [PASSWORD, *NEXT[:5]]:
            with pytest.raises(PasswordRejected) as info:
                service.change_password(
                    actor=principal_of(service, jane), current_password=current, new_password=old
                )
            assert [v.code for v in info.value.violations] == ["password.reused"]
        service.change_password(
            actor=principal_of(service, jane), current_password=current, new_password=NEXT[5]
        )
        clock.advance(days=1)
        service.change_password(
            actor=principal_of(service, jane), current_password=NEXT[5], new_password=PASSWORD
        )
        assert len(service.get(jane.id).password_history) == 5

    def test_ac_2_wrong_current_password_counts_as_a_failed_login(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """Guessing through change_password locks like guessing at login; the lock then
        refuses the principal too (AC-8)."""
        clock.advance(days=1)
        before = principal_of(service, jane)
        for _ in range(3):
            with pytest.raises(NotPermittedError) as info:
                service.change_password(
                    actor=principal_of(service, jane),
                    current_password="Wrong#1x",
                    new_password=NEXT[0],
                )
            assert info.value.code == "password.current_incorrect"
        assert service.get(jane.id).status is AccountStatus.LOCKED
        with pytest.raises(NotPermittedError) as info:
            service.change_password(actor=before, current_password=PASSWORD, new_password=NEXT[0])
        assert info.value.code == "principal.account_locked"

    def test_pw_1_new_password_gets_the_compliance_list(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """A weak new password is refused with all its violations, history included."""
        clock.advance(days=1)
        with pytest.raises(PasswordRejected) as info:
            service.change_password(
                actor=principal_of(service, jane), current_password=PASSWORD, new_password="1smith"
            )
        assert [v.code for v in info.value.violations] == [
            "password.too_short",
            "password.no_special",
            "password.starts_with_digit",
            "password.contains_name",
        ]
        with pytest.raises(PasswordRejected) as info:
            service.change_password(
                actor=principal_of(service, jane), current_password=PASSWORD, new_password=PASSWORD
            )
        assert [v.code for v in info.value.violations] == ["password.reused"]

    def test_pw_12_password_status_for_agendas(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """The status tells expiry, days left and when the next change is allowed."""
        clock.advance(days=59)
        status = service.password_status(jane.id)
        assert (status.days_until_expiry, status.expired, status.must_change) == (1, False, False)
        assert status.change_allowed_at == jane.account.password_set_at + timedelta(hours=24)
        clock.advance(days=1)
        status = service.password_status(jane.id)
        assert (status.days_until_expiry, status.expired, status.must_change) == (0, True, True)

    def test_ac_8_a_string_is_not_a_principal(self, service: IdentityService) -> None:
        """An account id where a principal belongs is refused with our error (AC-8)."""
        with pytest.raises(ValidationError) as info:
            service.change_password(
                actor="acct-404",  # type: ignore[arg-type]
                current_password=PASSWORD,
                new_password=NEXT[0],
            )
        assert info.value.code == "principal.required"


class TestRecovery:
    def test_ac_4_forgot_user_id_goes_to_the_email_not_the_response(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """The user ID is mailed to the address on file (the call returns None, typed so);
        an unknown address sends nothing and looks the same (AC-3)."""
        service.forgot_user_id("Jane.Smith@Example.org ")
        reminder = notifier.last(EMAIL, "account.user_id_reminder")
        assert reminder is not None and reminder.fields["user_id"] == "JSmith01"
        before = len(notifier.sent)
        service.forgot_user_id("nobody@example.org")
        assert len(notifier.sent) == before

    def test_ac_4_reset_with_answers_sets_a_new_password(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """Right answers (any case and spacing) reset the password, even within 24 hours
        (PW-11), unlock the account and do not force another change."""
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        clock.advance(hours=1)
        answers = {q: f"  {a.upper()} " for q, a in ANSWERS.items()}
        outcome = service.reset_password("jsmith01", answers=answers, new_password=NEXT[0])
        assert outcome == Recovered("JSmith01")
        account = service.get(jane.id)
        assert (account.status, account.must_change_password) == (AccountStatus.ACTIVE, False)
        assert isinstance(sign_in(service, notifier, jane.user_id, NEXT[0]), Authenticated)
        assert notifier.last(EMAIL, "account.password_reset") is not None

    def test_ac_4_reset_password_obeys_the_policy_and_history(
        self, service: IdentityService, jane: User
    ) -> None:
        """The new password is checked against PW-1..PW-10, the current one included."""
        with pytest.raises(PasswordRejected) as info:
            service.reset_password(jane.user_id, answers=ANSWERS, new_password=PASSWORD)
        assert [v.code for v in info.value.violations] == ["password.reused"]

    def test_ac_3_recovery_of_unknown_user_looks_like_wrong_answers(
        self, service: IdentityService, jane: User
    ) -> None:
        """Unknown user ID and wrong answers give the same refusal."""
        wrong = dict.fromkeys(ANSWERS, "nope")
        unknown = service.reset_password("Nobody99", answers=ANSWERS, new_password=NEXT[0])
        mismatch = service.reset_password(jane.user_id, answers=wrong, new_password=NEXT[0])
        assert unknown == mismatch == RecoveryDenied()
        assert service.unlock("Nobody99", answers=ANSWERS) == RecoveryDenied()

    def test_ac_3_unknown_user_ids_get_stable_decoy_questions(
        self, service: IdentityService, jane: User
    ) -> None:
        """The questions for an unknown ID come from the catalogue and do not change."""
        real = service.security_questions(jane.user_id)
        assert real == tuple(ANSWERS)
        decoy = service.security_questions("Nobody99")
        assert decoy == service.security_questions("NOBODY99")
        assert len(decoy) == 3 and set(decoy) <= set(IA_ACCOUNT_POLICY.question_catalogue)

    def test_ac_2_self_service_unlock_with_answers(
        self,
        runtime: Runtime,
        service: IdentityService,
        notifier: InMemoryNotifier,
        jane: User,
    ) -> None:
        """A locked account unlocks with the answers; the password works again."""
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        assert service.unlock(jane.user_id, answers=ANSWERS) == Recovered("JSmith01")
        assert service.get(jane.id).status is AccountStatus.ACTIVE
        assert isinstance(sign_in(service, notifier, jane.user_id, PASSWORD), Authenticated)
        assert "account.unlocked" in event_names(runtime, jane.id)

    def test_ac_4_three_wrong_answer_attempts_leave_only_the_help_desk(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """After three wrong attempts even the right answers are refused."""
        wrong = dict.fromkeys(ANSWERS, "nope")
        for _ in range(3):
            assert service.unlock(jane.user_id, answers=wrong) == RecoveryDenied()
        assert service.get(jane.id).status is AccountStatus.HELP_DESK_REQUIRED
        assert service.unlock(jane.user_id, answers=ANSWERS) == RecoveryDenied()
        assert service.login(jane.user_id, PASSWORD) == Denied()
        notice = notifier.last(EMAIL, "account.locked")
        assert notice is not None and "help desk" in notice.fields["how_to_unlock"]

    def test_ac_4_right_answers_reset_the_wrong_answer_count(
        self, service: IdentityService, jane: User
    ) -> None:
        """Right answers on an active account clear earlier wrong attempts."""
        service.unlock(jane.user_id, answers=dict.fromkeys(ANSWERS, "nope"))
        assert service.unlock(jane.user_id, answers=ANSWERS) == Recovered("JSmith01")
        assert service.get(jane.id).failed_answers == 0


class TestHelpDesk:
    def test_ac_2_help_desk_unlock_records_the_actor(
        self, runtime: Runtime, service: IdentityService, jane: User
    ) -> None:
        """The help desk unlocks; the event names the help-desk actor."""
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        operator = help_desk(service)
        unlocked = service.help_desk_unlock(jane.id, actor=operator)
        assert unlocked.status is AccountStatus.ACTIVE
        entry = runtime.storage.audit.for_subject(jane.id)[-1]
        assert (entry.event.name, entry.event.actor) == (
            "account.unlocked",
            "help_desk:helpdesk-7",
        )
        with pytest.raises(InvalidTransitionError):
            service.help_desk_unlock(jane.id, actor=operator)
        with pytest.raises(ValidationError):
            service.help_desk_unlock(jane.id, actor=" ")  # type: ignore[arg-type]
        with pytest.raises(NotPermittedError) as info:  # an account is not the help desk
            service.help_desk_unlock(jane.id, actor=principal_of(service, jane))
        assert info.value.code == "principal.kind"

    def test_ac_2_help_desk_reset_sends_a_temporary_password_and_forces_a_change(
        self,
        runtime: Runtime,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """A reset unlocks, mails a compliant temporary password (only as the secret),
        and the next login must change it, at once (exempt from PW-11)."""
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        service.help_desk_reset(jane.id, actor=help_desk(service))
        sent = notifier.last(EMAIL, "account.temporary_password")
        assert sent is not None and sent.secret is not None
        temporary = sent.secret
        assert IA_PASSWORD_POLICY.is_compliant(temporary, user_id=jane.user_id, last_name="Smith")
        assert temporary not in repr(sent)
        outcome = sign_in(service, notifier, jane.user_id, temporary)
        assert isinstance(outcome, MustChangePassword)
        assert (outcome.account_id, outcome.reason) == (jane.id, ChangeReason.RESET)
        clock.advance(minutes=5)
        service.change_password(
            actor=outcome.principal, current_password=temporary, new_password=NEXT[0]
        )
        assert isinstance(sign_in(service, notifier, jane.user_id, NEXT[0]), Authenticated)
        resets = [
            e.event
            for e in runtime.storage.audit.for_subject(jane.id)
            if e.event.name == "account.password_reset"
        ]
        assert resets[0].actor == "help_desk:helpdesk-7"
        assert resets[0].data["method"] == "help_desk"

    def test_help_desk_lookup_of_unknown_user_id(self, service: IdentityService) -> None:
        """The help desk's lookup says clearly when no account has the ID."""
        with pytest.raises(NotFoundError):
            service.account_for_user_id("Nobody99", actor=help_desk(service))


class TestFactors:
    def test_ac_5_codes_go_to_a_registered_factor(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """After adding SMS and removing e-mail, codes go by SMS."""
        me = principal_of(service, jane)
        sms = service.register_factor(actor=me, factor=NewFactor(FactorKind.SMS, "+1 410 555 0199"))
        service.remove_factor(actor=me, factor_id=jane.account.mfa_factors[0].id)
        first = service.login(jane.user_id, PASSWORD)
        assert isinstance(first, MfaRequired)
        assert (first.factor_kind, first.destination_hint) == (FactorKind.SMS, "***-0199")
        assert isinstance(
            service.verify_code(jane.user_id, last_code(notifier, sms.destination)), Authenticated
        )

    def test_ac_5_the_last_factor_stays(self, service: IdentityService, jane: User) -> None:
        """MFA is required: the only factor cannot be removed."""
        with pytest.raises(InvalidTransitionError) as info:
            service.remove_factor(
                actor=principal_of(service, jane), factor_id=jane.account.mfa_factors[0].id
            )
        assert info.value.code == "mfa.last_factor"

    def test_ac_5_bad_destination_is_refused(self, service: IdentityService, jane: User) -> None:
        """An SMS factor needs a phone number."""
        with pytest.raises(ValidationError) as info:
            service.register_factor(
                actor=principal_of(service, jane),
                factor=NewFactor(FactorKind.SMS, "jane@example.org"),
            )
        assert info.value.code == "profile.phone"


class TestSecrecy:
    @pytest.fixture
    def scenario(
        self,
        runtime: Runtime,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> list[str]:
        """Run every use case once; yield the secrets that were typed or sent."""
        secrets = [PASSWORD, *ANSWERS.values(), NEXT[0], NEXT[1]]
        service.login(jane.user_id, "Wrong#pass1")
        sign_in(service, notifier, jane.user_id, PASSWORD)
        clock.advance(days=1)
        service.change_password(
            actor=principal_of(service, jane), current_password=PASSWORD, new_password=NEXT[0]
        )
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        service.unlock(jane.user_id, answers=ANSWERS)
        service.reset_password(jane.user_id, answers=ANSWERS, new_password=NEXT[1])
        service.help_desk_reset(jane.id, actor=help_desk(service))
        service.forgot_user_id(EMAIL)
        secrets += [n.secret for n in notifier.sent if n.secret]
        return secrets

    def test_ac_6_events_never_carry_a_secret_or_a_hash(
        self, runtime: Runtime, scenario: list[str]
    ) -> None:
        """No event holds a password, answer, code, temporary password or any hash."""
        entries = runtime.storage.audit.entries()
        assert len(entries) > 10 and runtime.storage.audit.verify().ok
        for entry in entries:
            text = json.dumps(dict(entry.event.data)) + str(entry.event.subject)
            assert "$argon2" not in text
            for secret in scenario:
                assert secret not in text

    def test_ac_6_notifications_carry_secrets_only_in_the_secret_slot(
        self, notifier: InMemoryNotifier, scenario: list[str]
    ) -> None:
        """Fields and reprs of notifications hold no secret; codes and temporary
        passwords travel only in Notification.secret."""
        for notification in notifier.sent:
            text = json.dumps(dict(notification.fields)) + repr(notification)
            for secret in scenario:
                assert secret not in text

    def test_ac_6_account_repr_hides_every_hash(
        self, service: IdentityService, jane: User, scenario: list[str]
    ) -> None:
        """repr() of the stored account shows no hash and no secret."""
        text = repr(service.get(jane.id)) + repr(service)
        assert "$argon2" not in text
        for secret in scenario:
            assert secret not in text

    def test_every_state_change_is_an_event(
        self, runtime: Runtime, jane: User, scenario: list[str]
    ) -> None:
        """Each stored version of the account has at least one event (AU-1)."""
        names = event_names(runtime, jane.id)
        for name in (
            "account.registered",
            "account.login_failed",
            "account.code_sent",
            "account.logged_in",
            "account.password_changed",
            "account.locked",
            "account.unlocked",
            "account.password_reset",
            "account.user_id_reminded",
        ):
            assert name in names


def test_sequential_ids_make_readable_account_ids(clock: FixedClock) -> None:
    """Accounts get generated ids, separate from the user ID (AC-1)."""
    runtime = make_runtime(clock=clock)
    user = register(IdentityService(runtime))
    assert user.id == "acct-000001" and user.user_id == "JSmith01"


class TestConcurrency:
    def test_st_2_a_concurrent_failure_is_counted_not_raised(
        self, runtime: Runtime, jane: User
    ) -> None:
        """When another login saves the account mid-way, the use case retries: both
        failures count and the caller still gets Denied, never a ConflictError (AC-3)."""
        service_box: list[IdentityService] = []

        @attrs.define
        class InterferingHasher(CountingHasher):
            interfered: bool = False

            def verify(self, hashed: str, secret: str) -> bool:
                if not self.interfered:
                    self.interfered = True
                    assert service_box[0].login(jane.user_id, "Other#wrong1") == Denied()
                return super().verify(hashed, secret)

        hasher = InterferingHasher(runtime.hasher)
        service = IdentityService(attrs.evolve(runtime, hasher=hasher))
        service_box.append(service)
        assert service.login(jane.user_id, "Wrong#pass1") == Denied()
        assert service.get(jane.id).failed_logins == 2

    def test_er_1_non_text_input_is_a_validation_error(
        self, service: IdentityService, jane: User
    ) -> None:
        """Bad input types are refused with our error, never a bare TypeError."""
        with pytest.raises(ValidationError):
            service.login(jane.user_id, None)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            service.verify_code(jane.user_id, 123456)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            service.unlock(jane.user_id, answers=["Rex"])  # type: ignore[arg-type]


def test_ac_3_the_host_key_keeps_decoys_stable_across_workers_and_restarts() -> None:
    """Two services (two workers, or before and after a restart) on runtimes with the same
    host secret key show the same decoy questions; another key shows others; a short key
    is refused (AC-3)."""
    first = IdentityService(make_runtime()).security_questions("Nobody99")
    second = IdentityService(make_runtime()).security_questions("nobody99")
    assert first == second
    others = [
        IdentityService(
            Runtime(storage=MemoryStorage(), secret_key=bytes([n]) * 32, accounts=AccountStates())
        ).security_questions("Nobody99")
        for n in range(8)
    ]
    assert any(other != first for other in others)
    with pytest.raises(ValidationError) as info:
        Runtime(storage=MemoryStorage(), secret_key=b"short", accounts=AccountStates())
    assert info.value.code == "secret_key.too_short"


#: A text with one lone surrogate somewhere: not encodable as UTF-8 (ER-1).
with_lone_surrogate = st.builds(
    lambda text, at, odd: text[:at] + odd + text[at:],
    st.text(max_size=20),
    st.integers(0, 20),
    st.integers(0xD800, 0xDFFF).map(chr),
)
#: A 2 MB text.
HUGE = "9" * 2_000_000

#: Every identity entry point taking free text, by what the text is.
TEXT_ENTRY_POINTS: dict[str, Callable[[IdentityService, User, str], object]] = {
    "login user ID": lambda s, u, v: s.login(v, PASSWORD),
    "login password": lambda s, u, v: s.login(u.user_id, v),
    "one-time code": lambda s, u, v: s.verify_code(u.user_id, v),
    "registration password": lambda s, u, v: s.register(
        user_id="BJones02",
        password=v,
        profile=Profile("Bob", "Jones", "bob@example.org"),
        security_answers=ANSWERS,
        factor=NewFactor(FactorKind.EMAIL, "bob@example.org"),
    ),
    "registration answer": lambda s, u, v: s.register(
        user_id="BJones02",
        password="Teal@Wave93",
        profile=Profile("Bob", "Jones", "bob@example.org"),
        security_answers={**ANSWERS, next(iter(ANSWERS)): v},
        factor=NewFactor(FactorKind.EMAIL, "bob@example.org"),
    ),
    "registration name": lambda s, u, v: s.register(
        user_id="BJones02",
        password="Teal@Wave93",
        profile=Profile("Bob" + v, "Jones", "bob@example.org"),
        security_answers=ANSWERS,
        factor=NewFactor(FactorKind.EMAIL, "bob@example.org"),
    ),
    "recovery answer": lambda s, u, v: s.reset_password(
        u.user_id, answers=dict.fromkeys(ANSWERS, v), new_password=NEXT[0]
    ),
    "recovery question": lambda s, u, v: s.unlock(u.user_id, answers={v: "Rex"}),
    "recovery password": lambda s, u, v: s.reset_password(
        u.user_id, answers=ANSWERS, new_password=v
    ),
    "current password": lambda s, u, v: s.change_password(
        actor=principal_of(s, u), current_password=v, new_password=NEXT[0]
    ),
    "new password": lambda s, u, v: s.change_password(
        actor=principal_of(s, u), current_password=PASSWORD, new_password=v
    ),
    "e-mail change code": lambda s, u, v: s.confirm_email_change(actor=principal_of(s, u), code=v),
    "authenticator code": lambda s, u, v: s.confirm_authenticator(actor=principal_of(s, u), code=v),
    "new answers": lambda s, u, v: s.change_security_questions(
        actor=principal_of(s, u), answers=dict.fromkeys(ANSWERS, v)
    ),
    "new e-mail": lambda s, u, v: s.request_email_change(actor=principal_of(s, u), new_email=v),
    "forgotten e-mail": lambda s, u, v: s.forgot_user_id(v),
    "asserting host": lambda s, u, v: s.assert_principal(u.id, asserted_by=v),
    "help-desk reason": lambda s, u, v: s.help_desk_disable(u.id, actor=help_desk(s), reason=v),
}


class TestBoundary:
    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(entry=st.sampled_from(sorted(TEXT_ENTRY_POINTS)), value=with_lone_surrogate)
    def test_er_1_a_lone_surrogate_is_a_validation_error(
        self, service: IdentityService, jane: User, entry: str, value: str
    ) -> None:
        """Any text with a lone surrogate is input.text, never UnicodeEncodeError."""
        before = service.get(jane.id)
        with pytest.raises(ValidationError) as info:
            TEXT_ENTRY_POINTS[entry](service, jane, value)
        assert info.value.code == "input.text"
        str(info.value).encode("utf-8")  # the message itself is valid text
        assert service.get(jane.id) == before

    @pytest.mark.parametrize("entry", sorted(TEXT_ENTRY_POINTS))
    def test_er_1_a_2_mb_text_is_refused_with_a_short_message(
        self, service: IdentityService, jane: User, entry: str
    ) -> None:
        """A 2 MB text anywhere is refused with a message under 300 characters."""
        before = service.get(jane.id)
        with pytest.raises(ValidationError) as info:
            TEXT_ENTRY_POINTS[entry](service, jane, HUGE)
        assert len(info.value.message) < 300 and len(str(info.value)) < 300
        assert len(json.dumps(dict(info.value.fields), default=str)) < 300
        assert service.get(jane.id).version == before.version

    def test_er_1_enums_are_taken_by_value_and_wrong_values_refused(
        self, service: IdentityService
    ) -> None:
        """An enum given by value is accepted; a wrong value is input.choice."""
        operator = service.assert_operator("hd-1", kind="help_desk", asserted_by="tests")  # type: ignore[arg-type]
        assert operator.kind.value == "help_desk"
        with pytest.raises(ValidationError) as info:
            service.assert_operator("hd-1", kind="admin", asserted_by="tests")  # type: ignore[arg-type]
        assert info.value.code == "input.choice"
        assert info.value.fields["allowed"] == ["account", "help_desk", "mac"]
