"""AC-8: every use case acts for a sealed principal of an account that may act now."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.access import AccessService
from enrollkit.clock import FixedClock
from enrollkit.errors import EnrollkitError, NotFoundError, NotPermittedError, ValidationError
from enrollkit.identity import (
    Denied,
    FactorKind,
    IdentityService,
    LoginOutcome,
    MfaFactor,
    MustChangePassword,
    NewFactor,
    PasswordChanged,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.principals import AuthMethod, HostKey, Principal, PrincipalKind
from enrollkit.runtime import Runtime
from enrollkit.serialization import from_data, to_data
from enrollkit.testing.actors import Actors
from tests.conftest import SECRET_KEY, T0, make_runtime
from tests.identity.conftest import (
    ANSWERS,
    PASSWORD,
    User,
    help_desk,
    last_code,
    principal_of,
    register,
)

NEXT = "Red$Moon17"
SMS = NewFactor(FactorKind.SMS, "+1 410 555 0100")


def acts(service: IdentityService, principal: object) -> MfaFactor:
    """Run one ordinary account use case (registering an SMS factor) for *principal*."""
    return service.register_factor(actor=principal, factor=SMS)  # type: ignore[arg-type]


def refusal(call: Callable[[], object]) -> EnrollkitError:
    """The EnrollkitError *call* raises (it must raise one)."""
    with pytest.raises(EnrollkitError) as info:
        call()
    return info.value


def sign_in(
    service: IdentityService, notifier: InMemoryNotifier, user: User, password: str
) -> LoginOutcome:
    """Both login steps with *password*: the outcome of the code step."""
    service.login(user.user_id, password)
    return service.verify_code(user.user_id, last_code(notifier))


def fresh_service() -> IdentityService:
    """An identity service on its own runtime (hypothesis examples cannot share fixtures)."""
    return IdentityService(make_runtime())


class TestNoPrincipalNoUseCase:
    @pytest.mark.parametrize(
        "value",
        ["acct-000001", "JSmith01", None, 1, {"kind": "account", "id": "acct-000001"}],
        ids=["account-id", "user-id", "none", "int", "dict"],
    )
    def test_ac_8_a_bare_value_is_not_a_principal(
        self, service: IdentityService, jane: User, value: object
    ) -> None:
        """A string, None or any other non-principal is a ValidationError, principal.required."""
        error = refusal(lambda: acts(service, value))
        assert isinstance(error, ValidationError) and error.code == "principal.required"
        assert service.get(jane.id).mfa_factors == jane.account.mfa_factors

    def test_ac_8_a_hand_built_principal_is_forged(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """A Principal built by hand with a made-up seal is refused as forged."""
        for seal in ("0" * 64, "", "not a seal"):
            made_up = Principal(
                PrincipalKind.ACCOUNT, jane.id, clock.now(), AuthMethod.LOGIN, seal=seal
            )
            with pytest.raises(NotPermittedError) as info:
                acts(service, made_up)
            assert info.value.code == "principal.forged"

    @pytest.mark.parametrize(
        "fields",
        [
            {"kind": "account"},
            {"method": "login"},
            {"id": 7},
            {"authenticated_at": T0.replace(tzinfo=None)},
            {"authenticated_at": "2026-01-05T09:00:00+00:00"},
            {"seal": None},
            {"seal": b"\x00" * 32},
        ],
        ids=["kind-text", "method-text", "id-int", "naive-time", "time-text", "no-seal", "bytes"],
    )
    def test_ac_8_a_principal_of_the_wrong_shape_is_forged_not_a_crash(
        self, service: IdentityService, jane: User, fields: dict[str, object]
    ) -> None:
        """A hand-made principal holding wrong types is refused as forged, never a TypeError."""
        real = principal_of(service, jane)
        odd = attrs.evolve(real, **fields)  # type: ignore[arg-type]
        error = refusal(lambda: acts(service, odd))
        assert error.code in {"principal.forged", "principal.required"}

    def test_ac_8_another_principals_seal_does_not_fit(
        self, service: IdentityService, jane: User
    ) -> None:
        """Jane's seal on a principal naming Bob is refused: a seal covers its own fields."""
        bob = register(service, "BJones02", email="bob@example.org", first_name="Bob")
        janes = principal_of(service, jane)
        error = refusal(lambda: acts(service, attrs.evolve(janes, id=bob.id)))
        assert error.code == "principal.forged"
        assert service.get(bob.id).mfa_factors == bob.account.mfa_factors

    def test_ac_8_a_principal_of_another_installation_is_forged(
        self, runtime: Runtime, service: IdentityService, jane: User
    ) -> None:
        """A principal sealed under another host secret key is refused as forged."""
        other = IdentityService(
            attrs.evolve(runtime, secret_key=b"another-installation-key-32bytes")
        )
        theirs = other.assert_principal(jane.id, asserted_by="elsewhere")
        assert refusal(lambda: acts(service, theirs)).code == "principal.forged"
        homemade = HostKey(b"k" * 32).issue(
            PrincipalKind.ACCOUNT, jane.id, runtime.clock.now(), AuthMethod.LOGIN
        )
        assert refusal(lambda: acts(service, homemade)).code == "principal.forged"
        helpdesk = HostKey(b"k" * 32).issue(
            PrincipalKind.HELP_DESK, "mallory", runtime.clock.now(), AuthMethod.HOST_ASSERTION
        )
        error = refusal(lambda: service.help_desk_unlock(jane.id, actor=helpdesk))
        assert error.code == "principal.forged"


class TestTampering:
    @given(data=st.data())
    def test_ac_8_any_character_changed_in_the_seal_is_refused(self, data: st.DataObject) -> None:
        """Any ASCII character changed anywhere in the seal makes the principal forged."""
        service = fresh_service()
        jane = register(service)
        real = principal_of(service, jane)
        position = data.draw(st.integers(0, len(real.seal) - 1), label="position")
        replacement = data.draw(
            st.characters(max_codepoint=127).filter(lambda c: c != real.seal[position]),
            label="replacement",
        )
        seal = real.seal[:position] + replacement + real.seal[position + 1 :]
        assert refusal(lambda: acts(service, attrs.evolve(real, seal=seal))).code == (
            "principal.forged"
        )
        assert acts(service, real).kind is FactorKind.SMS  # the untouched one still acts

    @pytest.mark.parametrize("odd", ["\x80", "\u00e9", "\u2603", "\ud800"])
    def test_ac_8_a_non_ascii_seal_is_forged_not_a_crash(
        self, service: IdentityService, jane: User, odd: str
    ) -> None:
        """A seal with a non-ASCII character is refused as forged, never a bare TypeError."""
        real = principal_of(service, jane)
        edited = attrs.evolve(real, seal=odd + real.seal[1:])
        assert refusal(lambda: acts(service, edited)).code == "principal.forged"

    @given(
        change=st.one_of(
            st.fixed_dictionaries(
                {"id": st.text(max_size=30).filter(lambda s: s != "acct-000001")}
            ),
            st.fixed_dictionaries(
                {
                    "authenticated_at": st.timedeltas(
                        min_value=timedelta(days=-400), max_value=timedelta(days=400)
                    )
                    .filter(bool)
                    .map(lambda delta: T0 + delta)
                }
            ),
            st.fixed_dictionaries(
                {"kind": st.sampled_from([PrincipalKind.HELP_DESK, PrincipalKind.MAC])}
            ),
            st.fixed_dictionaries({"method": st.just(AuthMethod.LOGIN)}),
        )
    )
    def test_ac_8_any_field_changed_after_issue_is_refused(self, change: dict[str, object]) -> None:
        """Any edit of id, time, kind or method after issue makes the principal forged."""
        service = fresh_service()
        jane = register(service)
        real = principal_of(service, jane)
        edited = attrs.evolve(real, **change)  # type: ignore[arg-type]
        assert refusal(lambda: acts(service, edited)).code == "principal.forged"
        error = refusal(lambda: service.help_desk_unlock(jane.id, actor=edited))
        assert error.code == "principal.forged"


class TestKinds:
    @pytest.mark.parametrize(
        "use_case",
        [
            lambda s, a, p: s.account_for_user_id(a.user_id, actor=p),
            lambda s, a, p: s.help_desk_unlock(a.id, actor=p),
            lambda s, a, p: s.help_desk_disable(a.id, actor=p, reason="fraud report"),
            lambda s, a, p: s.help_desk_enable(a.id, actor=p),
            lambda s, a, p: s.help_desk_reset(a.id, actor=p),
            lambda s, a, p: s.help_desk_change_email(
                a.id, actor=p, new_email="x@example.org", verification="ticket 1"
            ),
        ],
        ids=["lookup", "unlock", "disable", "enable", "reset", "change-email"],
    )
    def test_ac_8_help_desk_use_cases_refuse_accounts_and_mac(
        self,
        runtime: Runtime,
        service: IdentityService,
        jane: User,
        use_case: Callable[[IdentityService, User, Principal], object],
    ) -> None:
        """Help-desk use cases refuse account and MAC principals, recording nothing."""
        mac = service.assert_operator("novitas-1", kind=PrincipalKind.MAC, asserted_by="tests")
        for principal in (principal_of(service, jane), mac):
            before = len(runtime.storage.audit.entries())
            with pytest.raises(NotPermittedError) as info:
                use_case(service, jane, principal)
            assert info.value.code == "principal.kind"
            assert info.value.fields["allowed"] == ["help_desk"]
            assert len(runtime.storage.audit.entries()) == before

    @pytest.mark.parametrize("kind", [PrincipalKind.HELP_DESK, PrincipalKind.MAC])
    @pytest.mark.parametrize(
        "use_case",
        [
            lambda s, p: s.change_password(actor=p, current_password=PASSWORD, new_password=NEXT),
            lambda s, p: s.request_email_change(actor=p, new_email="new@example.org"),
            lambda s, p: s.change_security_questions(actor=p, answers=ANSWERS),
            lambda s, p: s.register_factor(actor=p, factor=SMS),
            lambda s, p: s.begin_authenticator(actor=p),
            lambda s, p: AccessService(s.runtime).register_organization(
                actor=p, legal_name="Operator Clinic LLC"
            ),
        ],
        ids=["password", "email", "questions", "factor", "authenticator", "organization"],
    )
    def test_ac_8_account_use_cases_refuse_operators(
        self,
        service: IdentityService,
        jane: User,
        kind: PrincipalKind,
        use_case: Callable[[IdentityService, Principal], object],
    ) -> None:
        """Account use cases refuse help-desk and MAC principals, even with an account's id."""
        operator = service.assert_operator(jane.id, kind=kind, asserted_by="tests")
        error = refusal(lambda: use_case(service, operator))
        assert isinstance(error, NotPermittedError) and error.code == "principal.kind"
        assert error.fields["allowed"] == ["account"]

    def test_ac_8_operators_are_audited_under_their_kind(
        self, runtime: Runtime, service: IdentityService
    ) -> None:
        """assert_operator is audited as operator.asserted; the account kind is refused."""
        operator = service.assert_operator(
            "helpdesk-7", kind=PrincipalKind.HELP_DESK, asserted_by="sso:helpdesk"
        )
        assert (operator.kind, operator.method) == (
            PrincipalKind.HELP_DESK,
            AuthMethod.HOST_ASSERTION,
        )
        (entry,) = runtime.storage.audit.for_subject("help_desk:helpdesk-7")
        assert (entry.event.name, entry.event.actor) == (
            "operator.asserted",
            "help_desk:helpdesk-7",
        )
        assert dict(entry.event.data) == {"kind": "help_desk", "asserted_by": "sso:helpdesk"}
        error = refusal(
            lambda: service.assert_operator("x", kind=PrincipalKind.ACCOUNT, asserted_by="t")
        )
        assert error.code == "principal.operator_kind"
        assert refusal(
            lambda: service.assert_operator(" ", kind=PrincipalKind.MAC, asserted_by="t")
        ).code == ("principal.operator_id")


class TestAccountState:
    def test_ac_8_a_principal_of_an_unknown_account_is_refused(
        self, service: IdentityService, jane: User
    ) -> None:
        """A sealed principal of an account this storage lacks is principal.unknown_account."""
        principal = Actors(make_runtime())("acct-ghost")  # same key, other storage
        error = refusal(lambda: acts(service, principal))
        assert isinstance(error, NotPermittedError) and error.code == "principal.unknown_account"
        error = refusal(lambda: service.assert_principal("acct-999999", asserted_by="tests"))
        assert isinstance(error, NotFoundError) and error.code == "account.not_found"

    def test_ac_8_a_locked_account_acts_no_more(
        self, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """Three wrong logins lock the account: its principal is refused until unlocked."""
        mine = principal_of(service, jane)
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        assert refusal(lambda: acts(service, mine)).code == "principal.account_locked"
        error = refusal(lambda: service.assert_principal(jane.id, asserted_by="tests"))
        assert error.code == "principal.account_locked"
        service.unlock(jane.user_id, answers=ANSWERS)
        assert acts(service, mine).kind is FactorKind.SMS

    def test_ac_8_a_disabled_account_acts_no_more(
        self, runtime: Runtime, service: IdentityService, notifier: InMemoryNotifier, jane: User
    ) -> None:
        """A disabled account's principals, assertions and logins are refused until enabled."""
        mine = principal_of(service, jane)
        operator = help_desk(service)
        service.help_desk_disable(jane.id, actor=operator, reason="reported stolen")
        assert refusal(lambda: acts(service, mine)).code == "principal.account_disabled"
        error = refusal(lambda: service.assert_principal(jane.id, asserted_by="tests"))
        assert error.code == "principal.account_disabled"
        assert service.login(jane.user_id, PASSWORD) == Denied()
        (disabled,) = [
            e.event
            for e in runtime.storage.audit.for_subject(jane.id)
            if e.event.name == "account.disabled"
        ]
        assert (disabled.actor, disabled.data["reason"]) == (
            "help_desk:helpdesk-7",
            "reported stolen",
        )
        service.help_desk_enable(jane.id, actor=operator)
        assert acts(service, mine).kind is FactorKind.SMS

    def test_ac_8_an_expired_password_acts_no_more(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """At 60 days the password expires: earlier principals and new assertions are refused."""
        clock.advance(days=60, minutes=-1)
        mine = principal_of(service, jane)
        assert acts(service, mine).kind is FactorKind.SMS
        clock.advance(minutes=1)
        assert refusal(lambda: acts(service, mine)).code == "principal.password_expired"
        error = refusal(lambda: service.assert_principal(jane.id, asserted_by="tests"))
        assert error.code == "principal.password_expired"

    def test_ac_8_a_must_change_principal_only_changes_the_password(
        self, service: IdentityService, notifier: InMemoryNotifier, clock: FixedClock, jane: User
    ) -> None:
        """A MustChangePassword principal only changes the password, which answers a fresh one."""
        clock.advance(days=61)
        outcome = sign_in(service, notifier, jane, PASSWORD)
        assert isinstance(outcome, MustChangePassword)
        must = outcome.principal
        assert refusal(lambda: acts(service, must)).code == "principal.password_expired"
        error = refusal(lambda: service.change_security_questions(actor=must, answers=ANSWERS))
        assert error.code == "principal.password_expired"
        clock.advance(minutes=1)
        changed = service.change_password(actor=must, current_password=PASSWORD, new_password=NEXT)
        assert isinstance(changed, PasswordChanged)
        assert changed.principal.authenticated_at == clock.now()
        assert changed.principal.id == jane.id
        assert acts(service, changed.principal).kind is FactorKind.SMS
        assert refusal(lambda: acts(service, must)).code == "principal.reauthenticate"

    def test_ac_8_a_help_desk_reset_ends_every_earlier_login(
        self, service: IdentityService, notifier: InMemoryNotifier, clock: FixedClock, jane: User
    ) -> None:
        """A help-desk reset ends earlier logins; the temporary password only changes itself."""
        before = principal_of(service, jane)
        clock.advance(minutes=1)
        service.help_desk_reset(jane.id, actor=help_desk(service))
        assert refusal(lambda: acts(service, before)).code == "principal.reauthenticate"
        sent = notifier.last(jane.account.profile.email, "account.temporary_password")
        assert sent is not None and sent.secret is not None
        outcome = sign_in(service, notifier, jane, sent.secret)
        assert isinstance(outcome, MustChangePassword)
        assert refusal(lambda: acts(service, outcome.principal)).code == (
            "principal.password_expired"
        )
        fresh = service.change_password(
            actor=outcome.principal, current_password=sent.secret, new_password=NEXT
        ).principal
        assert acts(service, fresh).kind is FactorKind.SMS

    def test_ac_8_a_recovery_reset_ends_every_earlier_login(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """A reset with the security answers ends every principal issued before it."""
        before = principal_of(service, jane)
        clock.advance(minutes=1)
        service.reset_password(jane.user_id, answers=ANSWERS, new_password=NEXT)
        assert refusal(lambda: acts(service, before)).code == "principal.reauthenticate"
        assert acts(service, principal_of(service, jane)).kind is FactorKind.SMS

    def test_ac_8_changing_the_password_ends_other_logins(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """change_password answers a fresh principal and ends the principals from before."""
        clock.advance(days=1)
        other_session = principal_of(service, jane)
        clock.advance(minutes=1)
        changed = service.change_password(
            actor=principal_of(service, jane), current_password=PASSWORD, new_password=NEXT
        )
        assert changed.principal != other_session
        assert refusal(lambda: acts(service, other_session)).code == "principal.reauthenticate"
        assert acts(service, changed.principal).kind is FactorKind.SMS


class TestHostAssertion:
    def test_ac_8_assert_principal_is_audited(
        self, runtime: Runtime, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """assert_principal records principal.asserted with the host's sign-on and time."""
        clock.advance(minutes=10)
        at = clock.now() - timedelta(minutes=3)
        principal = service.assert_principal(
            jane.id, asserted_by="okta:clinic-prod", authenticated_at=at
        )
        assert (principal.kind, principal.id, principal.method) == (
            PrincipalKind.ACCOUNT,
            jane.id,
            AuthMethod.HOST_ASSERTION,
        )
        assert principal.authenticated_at == at
        entry = runtime.storage.audit.for_subject(jane.id)[-1]
        assert (entry.event.name, entry.event.actor) == ("principal.asserted", jane.id)
        assert entry.event.data["asserted_by"] == "okta:clinic-prod"
        assert entry.event.data["authenticated_at"] == at.isoformat()

    def test_ac_8_assert_principal_refuses_a_future_authentication(
        self, runtime: Runtime, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """An authentication time in the future is refused and nothing is recorded."""
        before = len(runtime.storage.audit.entries())
        error = refusal(
            lambda: service.assert_principal(
                jane.id, asserted_by="tests", authenticated_at=clock.now() + timedelta(seconds=1)
            )
        )
        assert isinstance(error, ValidationError)
        assert error.code == "principal.future_authentication"
        assert len(runtime.storage.audit.entries()) == before

    def test_ac_8_assert_principal_refuses_a_sign_on_before_the_password_was_set(
        self, service: IdentityService, clock: FixedClock, jane: User
    ) -> None:
        """A sign-on older than the current password is refused (principal.reauthenticate)."""
        error = refusal(
            lambda: service.assert_principal(
                jane.id, asserted_by="tests", authenticated_at=clock.now() - timedelta(hours=1)
            )
        )
        assert error.code == "principal.reauthenticate"

    def test_ac_8_assert_principal_refuses_unknown_locked_and_disabled_accounts(
        self, runtime: Runtime, service: IdentityService, jane: User
    ) -> None:
        """Unknown, locked and disabled accounts get no principal and no assertion event."""
        refused = {}
        refused["unknown"] = refusal(
            lambda: service.assert_principal("acct-404", asserted_by="tests")
        ).code
        for _ in range(3):
            service.login(jane.user_id, "Wrong#pass1")
        refused["locked"] = refusal(
            lambda: service.assert_principal(jane.id, asserted_by="tests")
        ).code
        operator = help_desk(service)
        service.help_desk_disable(jane.id, actor=operator, reason="left the practice")
        refused["disabled"] = refusal(
            lambda: service.assert_principal(jane.id, asserted_by="tests")
        ).code
        assert refused == {
            "unknown": "account.not_found",
            "locked": "principal.account_locked",
            "disabled": "principal.account_disabled",
        }
        names = [e.event.name for e in runtime.storage.audit.entries()]
        assert "principal.asserted" not in names


class TestSerialization:
    def test_ac_8_a_principal_round_trips_and_still_acts(
        self, service: IdentityService, jane: User
    ) -> None:
        """A principal round-trips through JSON and still acts; an edited copy is forged."""
        principal = principal_of(service, jane)
        stored = json.dumps(to_data(principal))
        back = from_data(json.loads(stored), Principal)
        assert back == principal
        assert acts(service, back).kind is FactorKind.SMS
        edited = json.loads(stored)
        edited["id"] = "acct-000002"
        assert refusal(lambda: acts(service, from_data(edited, Principal))).code == (
            "principal.forged"
        )

    def test_ac_8_the_seal_is_not_in_the_repr(self, service: IdentityService, jane: User) -> None:
        """repr() of a principal shows who and when, never the seal."""
        principal = principal_of(service, jane)
        assert principal.seal not in repr(principal)
        assert jane.id in repr(principal)


def test_ac_8_the_host_key_is_never_shown(runtime: Runtime) -> None:
    """Neither the runtime's nor the key's repr shows the secret key."""
    assert SECRET_KEY.decode() not in repr(runtime) + repr(runtime.secret_key)
    assert repr(HostKey(SECRET_KEY)) == "HostKey(<hidden>)"


def test_ac_8_principal_times_are_utc(service: IdentityService, jane: User) -> None:
    """An issued principal's time is timezone-aware UTC."""
    principal = principal_of(service, jane)
    assert principal.authenticated_at.tzinfo is not None
    assert principal.authenticated_at.utcoffset() == timedelta(0)
    assert principal.authenticated_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
