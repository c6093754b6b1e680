"""The JSON bodies the example host accepts, as Pydantic models.

They give the bodies their shape (FastAPI answers a malformed one 422, in
enrollkit's error shape: see :mod:`examples.fastapi_host.app`); enrollkit still
checks every value where it enters its public API (ER-1), so the rules live in
one place. Secrets are :class:`~pydantic.SecretStr`: hidden from reprs and
logs, read once with ``get_secret_value()`` when handed to the facade.
Unknown keys are refused, as enrollkit's converter refuses them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from enrollkit.access import System
from enrollkit.enrollment import Form, Kind
from enrollkit.signatures import Attestation

__all__ = [
    "ApplicationIn",
    "ApprovalIn",
    "ApproveSelectedIn",
    "ClaimIn",
    "CodeIn",
    "ConnectionIn",
    "LoginIn",
    "OrganizationIn",
    "PasswordChangeIn",
    "RegistrationIn",
    "SignatureIn",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistrationIn(_Body):
    """A new I&A account; the one-time codes go to *email* (the account's first factor)."""

    user_id: str
    password: SecretStr
    first_name: str
    last_name: str
    email: str
    #: question (from ``GET /security-questions``) -> answer
    security_answers: dict[str, SecretStr]


class LoginIn(_Body):
    """The first login step: user ID and password."""

    user_id: str
    password: SecretStr


class CodeIn(_Body):
    """The second login step: the one-time code the person received."""

    user_id: str
    code: SecretStr


class PasswordChangeIn(_Body):
    """A password change (also after a login that answered ``must_change_password``)."""

    current_password: SecretStr
    new_password: SecretStr


class ClaimIn(_Body):
    """Claim the Type 1 profile of an NPI as its individual provider (RO-9)."""

    npi: str
    legal_name: str


class OrganizationIn(_Body):
    """Register an organization, with a Type 2 NPI or none, and an EIN or none."""

    legal_name: str
    npi: str | None = None
    ein: str | None = None


class ConnectionIn(_Body):
    """A surrogate organization asks to act for a provider profile in some systems."""

    surrogate_id: str
    profile_id: str
    systems: list[System]


class ApprovalIn(_Body):
    """Approve one pending connection, for the systems given (none: all it asked for)."""

    systems: list[System] | None = None


class ApproveSelectedIn(_Body):
    """Approve All Selected (CO-9): connection id -> its systems (null: all it asked for)."""

    selections: dict[str, list[System] | None]


class ApplicationIn(_Body):
    """A new draft application; *content* has the shape of ``ApplicationContent`` as
    enrollkit's converter reads it (``enrollkit.from_data``)."""

    profile_id: str
    form: Form
    kind: Kind
    content: dict[str, Any] | None = None


class SignatureIn(_Body):
    """An electronic signature of the revision the signer reviewed, named by its digest."""

    slot: str
    digest: str
    confirmed_email: str
    attestations: list[Attestation]
