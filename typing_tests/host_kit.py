"""A host application driving the facade, checked by mypy --strict (not executed).

Each ``assert_type`` pins the precise type a host relies on: typed login
outcomes, explainable decisions, applications, the agenda.
"""

from __future__ import annotations

from typing import assert_type

from enrollkit import Enrollkit, NotPermittedError
from enrollkit.access import Action, Decision, GrantPath, ProviderProfile, System
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.enrollment import AgendaItem, Application, ApplicationContent, Form, Kind
from enrollkit.identity import (
    Account,
    Authenticated,
    Denied,
    FactorKind,
    LoginOutcome,
    MfaRequired,
    MustChangePassword,
    NewFactor,
    Profile,
    Violation,
)
from enrollkit.signatures import Attestation, SignatureCertificate


def host(kit: Enrollkit) -> None:
    account = kit.identity.register(
        user_id="JSmith01",
        password="Blue#Sky42",
        profile=Profile("Jane", "Smith", "jane@example.org"),
        security_answers={},
        factor=NewFactor(FactorKind.EMAIL, "jane@example.org"),
    )
    assert_type(account, Account)
    outcome = kit.identity.login("JSmith01", "Blue#Sky42")
    assert_type(outcome, LoginOutcome)
    if isinstance(outcome, MfaRequired):
        assert_type(outcome.destination_hint, str)
    final = kit.identity.verify_code("JSmith01", "123456")
    if isinstance(final, Authenticated):
        assert_type(final.days_until_expiry, int | None)
    elif isinstance(final, MustChangePassword | Denied):
        pass

    profile = kit.access.register_individual_profile(
        actor_id=account.id, npi="1234567893", legal_name="Jane Smith MD"
    )
    assert_type(profile, ProviderProfile)
    decision = kit.access.decide(
        user_id=account.id, action=Action.ACT_ON_BEHALF, profile_id=profile.id, system=System.NPPES
    )
    assert_type(decision, Decision)
    assert_type(decision.explain(), str)
    try:
        assert_type(decision.require(), GrantPath)
    except NotPermittedError as err:
        assert_type(err.code, str)

    app = kit.enrollment.create(
        actor=account.id,
        profile_id=profile.id,
        form=Form.CMS_855I,
        kind=Kind.INITIAL,
        content=ApplicationContent(),
    )
    assert_type(app, Application)
    signed = kit.signatures.sign_electronically(
        app.id,
        signer_id=account.id,
        slot="individual",
        confirmed_email="jane@example.org",
        attestations=set(Attestation),
    )
    assert_type(signed, Application)
    assert_type(kit.signatures.certificate(app.id, actor=account.id), SignatureCertificate)
    assert_type(kit.agenda(for_user=account.id), tuple[AgendaItem, ...])


def violations(kit: Enrollkit) -> tuple[Violation, ...]:
    return kit.identity.password_policy.check("short", user_id="JSmith01")


def embedded() -> Enrollkit:
    return Enrollkit(storage=SQLiteStorage("enroll.db"))
