"""AC-9: account upkeep (e-mail, security questions, factors, an authenticator app), the
code-send limit, and the help desk's e-mail change."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.clock import FixedClock
from enrollkit.errors import (
    EnrollkitError,
    ExpiredError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.identity import (
    IA_ACCOUNT_POLICY,
    Authenticated,
    AuthenticatorEnrollment,
    DenialStep,
    Denied,
    FactorKind,
    IdentityService,
    MfaRequired,
    NewFactor,
    Recovered,
    RecoveryDenied,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime
from enrollkit.serialization import to_data
from tests.conftest import T0, make_runtime
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

NEW_EMAIL = "jane.new@example.org"
CATALOGUE = IA_ACCOUNT_POLICY.question_catalogue
NEW_ANSWERS = {CATALOGUE[3]: "Volvo", CATALOGUE[4]: "Lincoln Elementary", CATALOGUE[5]: "Dune"}
STEP = timedelta(seconds=30)


def email_code(notifier: InMemoryNotifier, recipient: str = NEW_EMAIL) -> str:
    """The newest e-mail-change code sent to *recipient*."""
    sent = notifier.last(recipient, "account.email_change_code")
    assert sent is not None and sent.secret is not None
    return sent.secret


def wrong(code: str) -> str:
    """A 6-digit code that is not *code*."""
    return "000000" if code != "000000" else "111111"


def refusal(call: Callable[[], object]) -> EnrollkitError:
    """The EnrollkitError *call* raises (it must raise one)."""
    with pytest.raises(EnrollkitError) as info:
        call()
    return info.value


def event_names(runtime: Runtime, subject: str) -> list[str]:
    return [e.event.name for e in runtime.storage.audit.for_subject(subject)]


class TestEmailChange:
    def test_ac_9_the_code_goes_to_the_new_address_and_a_notice_to_the_old(
        self, runtime: Runtime, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """The code goes only as the secret to the new address; the old one gets a notice."""
        expires = service.request_email_change(
            actor=principal_of(service, jane), new_email=NEW_EMAIL
        )
        assert expires == runtime.clock.now() + timedelta(hours=24)
        code = email_code(notifier)
        assert len(code) == 6 and code.isdigit()
        notice = notifier.last(EMAIL, "account.email_change_requested")
        assert notice is not None and notice.secret is None
        assert notice.fields["new_email"] == "j***@example.org"
        for sent in notifier.sent:
            assert code not in json.dumps(dict(sent.fields)) + repr(sent)
            if sent.recipient != NEW_EMAIL:
                assert sent.secret != code
        for entry in runtime.storage.audit.entries():
            assert code not in json.dumps(dict(entry.event.data), default=str)
        assert service.get(jane.id).profile.email == EMAIL

    def test_ac_9_the_right_code_changes_the_email(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """The right code changes the e-mail; forgot_user_id then finds only the new one."""
        me = principal_of(service, jane)
        service.request_email_change(actor=me, new_email=NEW_EMAIL)
        profile = service.confirm_email_change(actor=me, code=email_code(notifier))
        assert profile.email == NEW_EMAIL
        assert service.get(jane.id).profile.email == NEW_EMAIL
        assert service.get(jane.id).pending_email is None
        for recipient in (EMAIL, NEW_EMAIL):
            assert notifier.last(recipient, "account.email_changed") is not None
        sent_before = len(notifier.sent)
        service.forgot_user_id(EMAIL)
        assert len(notifier.sent) == sent_before
        service.forgot_user_id(NEW_EMAIL)
        reminder = notifier.last(NEW_EMAIL, "account.user_id_reminder")
        assert reminder is not None and reminder.fields["user_id"] == jane.user_id
        factors = [f.destination for f in service.get(jane.id).mfa_factors]
        assert NEW_EMAIL in factors and EMAIL not in factors  # codes follow the new address

    def test_ac_9_three_wrong_codes_cancel_the_change(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """Three wrong codes cancel the change; the right code then finds nothing pending."""
        me = principal_of(service, jane)
        service.request_email_change(actor=me, new_email=NEW_EMAIL)
        code = email_code(notifier)
        left = []
        for _ in range(3):
            error = refusal(lambda: service.confirm_email_change(actor=me, code=wrong(code)))
            assert isinstance(error, NotPermittedError) and error.code == "email_change.wrong_code"
            left.append(error.fields["tries_left"])
        assert left == [2, 1, 0]
        error = refusal(lambda: service.confirm_email_change(actor=me, code=code))
        assert isinstance(error, InvalidTransitionError)
        assert error.code == "email_change.none_pending"
        assert service.get(jane.id).profile.email == EMAIL

    def test_ac_9_the_code_expires_after_24_hours(
        self, service: IdentityService, notifier: InMemoryNotifier, clock: FixedClock, jane: User
    ) -> None:
        """At 24 hours the code is refused as expired and the change is dropped."""
        service.request_email_change(actor=principal_of(service, jane), new_email=NEW_EMAIL)
        code = email_code(notifier)
        clock.advance(hours=24)
        error = refusal(
            lambda: service.confirm_email_change(actor=principal_of(service, jane), code=code)
        )
        assert isinstance(error, ExpiredError) and error.code == "email_change.expired"
        assert service.get(jane.id).profile.email == EMAIL
        assert service.get(jane.id).pending_email is None

    def test_ac_9_a_code_just_inside_24_hours_still_works(
        self, service: IdentityService, notifier: InMemoryNotifier, clock: FixedClock, jane: User
    ) -> None:
        """One second before 24 hours the code is accepted."""
        service.request_email_change(actor=principal_of(service, jane), new_email=NEW_EMAIL)
        clock.advance(hours=24, seconds=-1)
        profile = service.confirm_email_change(
            actor=principal_of(service, jane), code=email_code(notifier)
        )
        assert profile.email == NEW_EMAIL

    def test_ac_9_asking_for_an_email_change_needs_a_recent_login(
        self,
        runtime: Runtime,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """Asking needs a login at most 15 minutes old (principal.stale); nothing is sent."""
        me = principal_of(service, jane)
        clock.advance(minutes=15, seconds=1)
        sent = len(notifier.sent)
        error = refusal(lambda: service.request_email_change(actor=me, new_email=NEW_EMAIL))
        assert isinstance(error, NotPermittedError) and error.code == "principal.stale"
        assert error.fields["fresh_within_minutes"] == 15
        assert len(notifier.sent) == sent
        assert "account.email_change_requested" not in event_names(runtime, jane.id)
        recent = principal_of(service, jane)
        clock.advance(minutes=15)
        service.request_email_change(actor=recent, new_email=NEW_EMAIL)
        code = email_code(notifier)
        clock.advance(seconds=1)  # confirming needs a recent login too
        error = refusal(lambda: service.confirm_email_change(actor=recent, code=code))
        assert error.code == "principal.stale"
        fresh = principal_of(service, jane)
        assert service.confirm_email_change(actor=fresh, code=code).email == NEW_EMAIL

    def test_ac_9_the_change_needs_a_valid_address(
        self, service: IdentityService, jane: User
    ) -> None:
        """A new address that is not an e-mail address is refused before anything is sent."""
        error = refusal(
            lambda: service.request_email_change(
                actor=principal_of(service, jane), new_email="not-an-address"
            )
        )
        assert isinstance(error, ValidationError) and error.code == "profile.email"


class TestSecurityQuestions:
    def test_ac_9_new_questions_replace_the_old(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
    ) -> None:
        """New security questions replace the old: recovery needs the new answers."""
        questions = service.change_security_questions(
            actor=principal_of(service, jane), answers=NEW_ANSWERS
        )
        assert questions == tuple(NEW_ANSWERS)
        assert service.security_questions(jane.user_id) == tuple(NEW_ANSWERS)
        assert notifier.last(EMAIL, "account.security_questions_changed") is not None
        old = service.reset_password(jane.user_id, answers=ANSWERS, new_password="Red$Moon17")
        assert old == RecoveryDenied()
        new = service.reset_password(jane.user_id, answers=NEW_ANSWERS, new_password="Red$Moon17")
        assert new == Recovered(jane.user_id)

    def test_ac_9_changing_questions_needs_a_recent_login(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """A login older than 15 minutes cannot change the questions; the old ones stay."""
        me = principal_of(service, jane)
        clock.advance(minutes=16)
        error = refusal(lambda: service.change_security_questions(actor=me, answers=NEW_ANSWERS))
        assert error.code == "principal.stale"
        assert service.security_questions(jane.user_id) == tuple(ANSWERS)


class TestFactors:
    def test_ac_9_adding_and_removing_factors_needs_a_recent_login(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """register_factor and remove_factor need a login at most 15 minutes old."""
        me = principal_of(service, jane)
        clock.advance(minutes=15, seconds=1)
        sms = NewFactor(FactorKind.SMS, "+1 410 555 0199")
        assert refusal(lambda: service.register_factor(actor=me, factor=sms)).code == (
            "principal.stale"
        )
        added = service.register_factor(actor=principal_of(service, jane), factor=sms)
        clock.advance(minutes=20)
        error = refusal(lambda: service.remove_factor(actor=me, factor_id=added.id))
        assert error.code == "principal.stale"
        assert len(service.get(jane.id).mfa_factors) == 2
        service.remove_factor(actor=principal_of(service, jane), factor_id=added.id)
        assert [f.kind for f in service.get(jane.id).mfa_factors] == [FactorKind.EMAIL]


@pytest.fixture
def enrolment(service: IdentityService, jane: User) -> AuthenticatorEnrollment:
    """Jane has started adding an authenticator app."""
    return service.begin_authenticator(actor=principal_of(service, jane), label="Phone")


def app_code(enrolment: AuthenticatorEnrollment, at: datetime) -> str:
    """What the authenticator app shows at *at* (pyotp, RFC 6238)."""
    return pyotp.TOTP(enrolment.secret).at(at)


class TestAuthenticatorApp:
    def test_ac_9_begin_answers_an_otpauth_uri_and_its_secret(
        self, enrolment: AuthenticatorEnrollment, jane: User
    ) -> None:
        """begin_authenticator answers an otpauth:// URI and its secret, hidden from repr."""
        uri = enrolment.provisioning_uri
        assert uri.startswith("otpauth://totp/")
        assert f"secret={enrolment.secret}" in uri
        assert "issuer=enrollkit" in uri and jane.user_id in uri
        assert enrolment.secret not in repr(enrolment) and uri not in repr(enrolment)

    def test_ac_9_the_apps_code_registers_it(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        clock: FixedClock,
        jane: User,
        enrolment: AuthenticatorEnrollment,
    ) -> None:
        """The code the app shows registers the authenticator; the owner is told."""
        factor = service.confirm_authenticator(
            actor=principal_of(service, jane), code=app_code(enrolment, clock.now())
        )
        assert (factor.id, factor.kind) == (enrolment.factor_id, FactorKind.AUTHENTICATOR_APP)
        account = service.get(jane.id)
        assert factor.id in [f.id for f in account.mfa_factors]
        assert account.pending_authenticator is None
        told = notifier.last(EMAIL, "mfa.factor_registered")
        assert told is not None and told.fields["channel"] == "authenticator_app"

    def test_ac_9_a_wrong_code_does_not_register_it(
        self,
        service: IdentityService,
        clock: FixedClock,
        jane: User,
        enrolment: AuthenticatorEnrollment,
    ) -> None:
        """A code the app does not show now is refused and nothing is registered."""
        code = app_code(enrolment, clock.now())
        error = refusal(
            lambda: service.confirm_authenticator(
                actor=principal_of(service, jane), code=wrong(code)
            )
        )
        assert isinstance(error, ValidationError) and error.code == "mfa.authenticator_code"
        kinds = [f.kind for f in service.get(jane.id).mfa_factors]
        assert kinds == [FactorKind.EMAIL]

    def test_ac_9_beginning_and_confirming_need_a_recent_login(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """Both steps of adding an app refuse a login older than 15 minutes."""
        me = principal_of(service, jane)
        clock.advance(minutes=16)
        assert refusal(lambda: service.begin_authenticator(actor=me)).code == "principal.stale"
        enrolment = service.begin_authenticator(actor=principal_of(service, jane))
        clock.advance(minutes=16)
        error = refusal(
            lambda: service.confirm_authenticator(actor=me, code=app_code(enrolment, clock.now()))
        )
        assert error.code == "principal.stale"

    @pytest.fixture
    def registered(
        self,
        service: IdentityService,
        clock: FixedClock,
        jane: User,
        enrolment: AuthenticatorEnrollment,
    ) -> AuthenticatorEnrollment:
        """Jane's app is registered; the clock has moved on one time step."""
        service.confirm_authenticator(
            actor=principal_of(service, jane), code=app_code(enrolment, clock.now())
        )
        clock.advance(STEP)
        return enrolment

    def test_ac_9_login_asks_the_app_and_sends_nothing(
        self,
        service: IdentityService,
        notifier: InMemoryNotifier,
        jane: User,
        registered: AuthenticatorEnrollment,
    ) -> None:
        """With an app registered, login asks for its code and sends nothing."""
        sent = len(notifier.sent)
        first = service.login(jane.user_id, PASSWORD)
        assert isinstance(first, MfaRequired)
        assert first.factor_kind is FactorKind.AUTHENTICATOR_APP
        assert len(notifier.sent) == sent
        assert service.get(jane.id).code_sends == ()

    def test_ac_9_the_apps_code_logs_in_once(
        self,
        service: IdentityService,
        clock: FixedClock,
        jane: User,
        registered: AuthenticatorEnrollment,
    ) -> None:
        """The app's current code logs in once; the same code again is refused."""
        code = app_code(registered, clock.now())
        service.login(jane.user_id, PASSWORD)
        outcome = service.verify_code(jane.user_id, code)
        assert isinstance(outcome, Authenticated) and outcome.account_id == jane.id
        service.login(jane.user_id, PASSWORD)
        assert service.verify_code(jane.user_id, code) == Denied(DenialStep.CODE)

    def test_ac_9_the_code_that_confirmed_the_app_does_not_log_in(
        self,
        service: IdentityService,
        clock: FixedClock,
        jane: User,
        enrolment: AuthenticatorEnrollment,
    ) -> None:
        """The code that confirmed the app is used up; the next step's code logs in."""
        code = app_code(enrolment, clock.now())
        service.confirm_authenticator(actor=principal_of(service, jane), code=code)
        service.login(jane.user_id, PASSWORD)
        assert service.verify_code(jane.user_id, code) == Denied(DenialStep.CODE)
        clock.advance(STEP)
        outcome = service.verify_code(jane.user_id, app_code(enrolment, clock.now()))
        assert isinstance(outcome, Authenticated)

    def test_ac_9_a_code_two_steps_old_is_refused(
        self,
        service: IdentityService,
        clock: FixedClock,
        jane: User,
        registered: AuthenticatorEnrollment,
    ) -> None:
        """A code from two time steps (a minute) ago is refused; the current one works."""
        clock.advance(STEP * 3)
        now = clock.now()
        old = app_code(registered, now - 2 * STEP)
        accepted = {app_code(registered, now + k * STEP) for k in (-1, 0, 1)}
        service.login(jane.user_id, PASSWORD)
        if old not in accepted:  # one chance in a few hundred thousand that they coincide
            assert service.verify_code(jane.user_id, old) == Denied(DenialStep.CODE)
        outcome = service.verify_code(jane.user_id, app_code(registered, now))
        assert isinstance(outcome, Authenticated)

    def test_ac_9_the_app_secret_is_never_stored_or_shown(self, tmp_path: Path) -> None:
        """The TOTP secret is in no stored byte, account, repr, event or notification."""
        storage = SQLiteStorage(tmp_path / "enroll.db")
        clock = FixedClock(T0)
        notifier = InMemoryNotifier()
        runtime = make_runtime(storage, clock=clock, notifier=notifier)
        service = IdentityService(runtime)
        jane = register(service)
        enrolment = service.begin_authenticator(actor=principal_of(service, jane))
        service.confirm_authenticator(
            actor=principal_of(service, jane), code=app_code(enrolment, clock.now())
        )
        clock.advance(STEP)
        service.login(jane.user_id, PASSWORD)
        service.verify_code(jane.user_id, app_code(enrolment, clock.now()))
        account = service.get(jane.id)
        secret = enrolment.secret
        texts = [
            json.dumps(to_data(account)),
            repr(account),
            *(json.dumps(dict(e.event.data), default=str) for e in runtime.storage.audit.entries()),
            *(repr(n) + json.dumps(dict(n.fields)) + str(n.secret) for n in notifier.sent),
        ]
        for text in texts:
            assert secret not in text and secret.lower() not in text
        storage.close()
        stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        raw = base64.b32decode(secret)
        for form in (secret.encode(), secret.lower().encode(), raw, raw.hex().encode()):
            assert form not in stored


class TestCodeSendLimit:
    def test_ac_9_the_sixth_code_in_15_minutes_is_refused(
        self, service: IdentityService, notifier: InMemoryNotifier, clock: FixedClock, jane: User
    ) -> None:
        """The sixth code in 15 minutes is refused until the window slides past the first."""
        for _ in range(5):
            assert isinstance(service.login(jane.user_id, PASSWORD), MfaRequired)
            clock.advance(minutes=1)
        sent = len(notifier.sent)
        error = refusal(lambda: service.login(jane.user_id, PASSWORD))
        assert isinstance(error, NotPermittedError) and error.code == "mfa.too_many_codes"
        assert error.fields["retry_at"] == (T0 + timedelta(minutes=15)).isoformat()
        assert "try again in 10 minutes" in error.message  # 15 - 5 minutes, not 11
        assert len(notifier.sent) == sent
        clock.set(T0 + timedelta(minutes=15) - timedelta(seconds=1))
        assert refusal(lambda: service.login(jane.user_id, PASSWORD)).code == "mfa.too_many_codes"
        clock.set(T0 + timedelta(minutes=15))
        assert isinstance(service.login(jane.user_id, PASSWORD), MfaRequired)
        assert isinstance(service.verify_code(jane.user_id, last_code(notifier)), Authenticated)

    def test_ac_9_email_change_codes_count_toward_the_limit(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """Login codes and e-mail-change codes share one limit."""
        me = principal_of(service, jane)
        for _ in range(5):
            service.login(jane.user_id, PASSWORD)
        error = refusal(lambda: service.request_email_change(actor=me, new_email=NEW_EMAIL))
        assert error.code == "mfa.too_many_codes"
        assert notifier.last(NEW_EMAIL) is None
        assert service.get(jane.id).pending_email is None

    @given(
        gaps=st.lists(
            st.one_of(
                st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(minutes=3)]),
                st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=4)),
                st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=20)),
            ),
            min_size=1,
            max_size=14,
        ),
        email_changes=st.lists(st.booleans(), min_size=14, max_size=14),
    )
    def test_ac_9_at_most_five_codes_in_any_15_minutes(
        self, gaps: list[timedelta], email_changes: list[bool]
    ) -> None:
        """Any send sequence: a code goes out iff fewer than 5 went in the last 15 minutes."""
        clock = FixedClock(T0)
        notifier = InMemoryNotifier()
        service = IdentityService(make_runtime(clock=clock, notifier=notifier))
        jane = register(service)
        window = timedelta(minutes=15)
        sent_at: list[datetime] = []
        for gap, email in zip(gaps, email_changes, strict=False):
            clock.advance(gap)
            now = clock.now()
            before = len([n for n in notifier.sent if n.secret])
            recent = [t for t in sent_at if t > now - window]
            try:
                if email:
                    service.request_email_change(
                        actor=principal_of(service, jane), new_email=NEW_EMAIL
                    )
                else:
                    service.login(jane.user_id, PASSWORD)
            except NotPermittedError as exc:
                assert exc.code == "mfa.too_many_codes"
                assert len(recent) >= 5
                assert len([n for n in notifier.sent if n.secret]) == before
                event("a send was refused")
                continue
            assert len(recent) < 5
            assert len([n for n in notifier.sent if n.secret]) == before + 1
            sent_at.append(now)
        for end in sent_at:
            assert len([t for t in sent_at if end - window < t <= end]) <= 5


class TestHelpDeskEmailChange:
    def test_ac_9_the_help_desk_changes_a_lost_email_after_verification(
        self, runtime: Runtime, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """The help desk changes the e-mail, recording its verification; both addresses told."""
        changed = service.help_desk_change_email(
            jane.id, actor=help_desk(service), new_email=NEW_EMAIL, verification="ticket HD-4471"
        )
        assert changed.profile.email == NEW_EMAIL
        (event,) = [
            e.event
            for e in runtime.storage.audit.for_subject(jane.id)
            if e.event.name == "account.email_changed"
        ]
        assert event.actor == "help_desk:helpdesk-7"
        assert event.data["verification"] == "ticket HD-4471"
        for recipient in (EMAIL, NEW_EMAIL):
            told = notifier.last(recipient, "account.email_changed")
            assert told is not None and told.fields["new_email"] == "j***@example.org"
        # The user lost the old address: login codes now go to the new one.
        assert isinstance(service.login(jane.user_id, PASSWORD), MfaRequired)
        assert notifier.last(NEW_EMAIL, "mfa.code") is not None
        assert notifier.last(EMAIL, "mfa.code") is None

    def test_ac_9_only_the_help_desk_with_a_verification_changes_it(
        self, service: IdentityService, jane: User
    ) -> None:
        """An account, a missing verification or a bad address is refused; nothing changes."""
        calls: list[tuple[Principal, str, str, str]] = [
            (principal_of(service, jane), NEW_EMAIL, "ticket 1", "principal.kind"),
            (help_desk(service), NEW_EMAIL, "  ", "help_desk.verification"),
            (help_desk(service), "nobody", "ticket 1", "profile.email"),
        ]
        for actor, address, verification, code in calls:
            with pytest.raises(EnrollkitError) as info:
                service.help_desk_change_email(
                    jane.id, actor=actor, new_email=address, verification=verification
                )
            assert info.value.code == code
        assert service.get(jane.id).profile.email == EMAIL
