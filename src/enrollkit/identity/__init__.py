"""Identity: accounts, the I&A password policy, expiry, lockout, recovery and MFA.

Rules PW-1..PW-13 and AC-1..AC-9; see ``docs/identity.md`` for the tour.

* :mod:`~enrollkit.identity._passwords`: the pure password policy
  (:class:`PasswordPolicy`, :data:`IA_PASSWORD_POLICY`);
* :mod:`~enrollkit.identity._accounts`: the :class:`Account` aggregate, its lock
  state machine (:data:`ACCOUNT_MACHINE`) and its collection (:data:`ACCOUNTS`);
* :mod:`~enrollkit.identity._outcomes`: typed login and recovery outcomes;
* :mod:`~enrollkit.identity._service`: the use cases (:class:`IdentityService`).
"""

from enrollkit.identity._accounts import (
    ACCOUNT_MACHINE,
    ACCOUNTS,
    IA_ACCOUNT_POLICY,
    LOGIN_FACTORS,
    Account,
    AccountEvent,
    AccountPolicy,
    AccountStatus,
    FactorKind,
    LockReason,
    LoginChallenge,
    MfaFactor,
    PendingAuthenticator,
    PendingEmail,
    Profile,
    SecurityQuestion,
    mask_destination,
    normalize_answer,
    normalize_user_id,
)
from enrollkit.identity._lookups import AccountContacts, AccountStates, password_expiry_lookup
from enrollkit.identity._outcomes import (
    Authenticated,
    AuthenticatorEnrollment,
    ChangeReason,
    DenialStep,
    Denied,
    LoginOutcome,
    MfaRequired,
    MustChangePassword,
    PasswordChanged,
    PasswordStatus,
    Recovered,
    RecoveryDenied,
    RecoveryOutcome,
)
from enrollkit.identity._passwords import (
    IA_PASSWORD_POLICY,
    IA_SPECIALS,
    VIOLATION_CODES,
    NistDeviation,
    PasswordCandidate,
    PasswordPolicy,
    PasswordRejected,
    PasswordRule,
    Requirement,
    Violation,
)
from enrollkit.identity._service import IdentityService, NewFactor

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_MACHINE",
    "IA_ACCOUNT_POLICY",
    "IA_PASSWORD_POLICY",
    "IA_SPECIALS",
    "LOGIN_FACTORS",
    "VIOLATION_CODES",
    "Account",
    "AccountContacts",
    "AccountEvent",
    "AccountPolicy",
    "AccountStates",
    "AccountStatus",
    "Authenticated",
    "AuthenticatorEnrollment",
    "ChangeReason",
    "DenialStep",
    "Denied",
    "FactorKind",
    "IdentityService",
    "LockReason",
    "LoginChallenge",
    "LoginOutcome",
    "MfaFactor",
    "MfaRequired",
    "MustChangePassword",
    "NewFactor",
    "NistDeviation",
    "PasswordCandidate",
    "PasswordChanged",
    "PasswordPolicy",
    "PasswordRejected",
    "PasswordRule",
    "PasswordStatus",
    "PendingAuthenticator",
    "PendingEmail",
    "Profile",
    "Recovered",
    "RecoveryDenied",
    "RecoveryOutcome",
    "Requirement",
    "SecurityQuestion",
    "Violation",
    "mask_destination",
    "normalize_answer",
    "normalize_user_id",
    "password_expiry_lookup",
]
