"""A host application driving the facade, checked by mypy --strict (not executed).

Each ``assert_type`` pins the precise type a host relies on: typed login
outcomes, explainable decisions, applications, the agenda.
"""

from __future__ import annotations

from typing import assert_type

from enrollkit import Enrollkit, NotPermittedError
from enrollkit.access import (
    Action,
    ClaimOutcome,
    Decision,
    GrantPath,
    ProviderProfile,
    System,
)
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
from enrollkit.principals import Principal, PrincipalKind
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
    if not isinstance(final, Authenticated):
        assert_type(final, MustChangePassword | MfaRequired | Denied)
        return
    assert_type(final.days_until_expiry, int | None)
    jane = final.principal
    assert_type(jane, Principal)
    asserted = kit.identity.assert_principal(account.id, asserted_by="okta:prod")
    assert_type(asserted, Principal)
    mac = kit.identity.assert_operator("mac-1", kind=PrincipalKind.MAC, asserted_by="portal")

    claim = kit.access.claim_individual_profile(
        actor=jane, npi="1234567893", legal_name="Jane Smith MD"
    )
    assert_type(claim, ClaimOutcome)
    if claim.profile is None:
        return
    profile = claim.profile
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
        actor=jane,
        profile_id=profile.id,
        form=Form.CMS_855I,
        kind=Kind.INITIAL,
        content=ApplicationContent(),
    )
    assert_type(app, Application)
    revision = app.current_revision
    signed = kit.signatures.sign_electronically(
        app.id,
        actor=jane,
        slot="individual",
        digest=revision.digest if revision is not None else "",
        confirmed_email="jane@example.org",
        attestations=set(Attestation),
    )
    assert_type(signed, Application)
    assert_type(kit.enrollment.start_review(app.id, actor=mac), Application)
    assert_type(kit.signatures.certificate(app.id, actor=jane), SignatureCertificate)
    assert_type(kit.agenda(for_user=account.id), tuple[AgendaItem, ...])


def violations(kit: Enrollkit) -> tuple[Violation, ...]:
    return kit.identity.password_policy.check("short", user_id="JSmith01")


def embedded(secret_key: bytes) -> Enrollkit:
    return Enrollkit(storage=SQLiteStorage("enroll.db"), secret_key=secret_key)
