"""Identity fixtures: a service on the shared cheap-hasher runtime, and a registered user."""

from __future__ import annotations

import attrs
import pytest

from enrollkit.identity import (
    IA_ACCOUNT_POLICY,
    Account,
    FactorKind,
    IdentityService,
    NewFactor,
    Profile,
)
from enrollkit.notify import InMemoryNotifier
from enrollkit.principals import Principal, PrincipalKind
from enrollkit.runtime import Runtime

QUESTIONS = IA_ACCOUNT_POLICY.question_catalogue[:3]
ANSWERS = {QUESTIONS[0]: "Rex", QUESTIONS[1]: "Baltimore", QUESTIONS[2]: "Doe"}
PASSWORD = "Blue#Sky42"
EMAIL = "jane.smith@example.org"


@attrs.frozen
class User:
    """A registered account and the secrets its owner knows."""

    account: Account
    password: str = attrs.field(repr=False)

    @property
    def id(self) -> str:
        return self.account.id

    @property
    def user_id(self) -> str:
        return self.account.user_id


@pytest.fixture
def service(runtime: Runtime) -> IdentityService:
    """The identity use cases on the test runtime (fast hasher, fixed clock)."""
    return IdentityService(runtime)


def register(
    service: IdentityService,
    user_id: str = "JSmith01",
    *,
    password: str = PASSWORD,
    email: str = EMAIL,
    first_name: str = "Jane",
    last_name: str = "Smith",
) -> User:
    """Register an account with three answers and an e-mail factor."""
    account = service.register(
        user_id=user_id,
        password=password,
        profile=Profile(first_name, last_name, email, phones=("+1 410 555 0142",)),
        security_answers=ANSWERS,
        factor=NewFactor(FactorKind.EMAIL, email),
    )
    return User(account, password)


@pytest.fixture
def jane(service: IdentityService) -> User:
    """A registered user, Jane Smith (user ID JSmith01)."""
    return register(service)


def last_code(notifier: InMemoryNotifier, recipient: str = EMAIL) -> str:
    """The newest one-time code sent to *recipient*."""
    sent = notifier.last(recipient, "mfa.code")
    assert sent is not None and sent.secret is not None
    return sent.secret


def principal_of(service: IdentityService, user: User) -> Principal:
    """A principal of *user*'s account authenticated now, by the audited host assertion
    (AC-8): what a test needs to act for the user without a whole login."""
    return service.assert_principal(user.id, asserted_by="tests")


def help_desk(service: IdentityService, operator: str = "helpdesk-7") -> Principal:
    """A help-desk operator's principal (AC-2)."""
    return service.assert_operator(operator, kind=PrincipalKind.HELP_DESK, asserted_by="tests")
