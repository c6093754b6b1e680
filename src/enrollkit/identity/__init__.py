"""Identity: accounts, the I&A password policy, expiry, lockout, recovery and MFA.

Rules PW-1..PW-13 and AC-1..AC-9; see ``docs/identity.md`` for the tour.

* :mod:`~enrollkit.identity._passwords`: the pure password policy
  (:class:`PasswordPolicy`, :data:`IA_PASSWORD_POLICY`);
* :mod:`~enrollkit.identity._accounts`: the :class:`Account` aggregate, its lock
  state machine (:data:`ACCOUNT_MACHINE`) and its collection (:data:`ACCOUNTS`);
* :mod:`~enrollkit.identity._outcomes`: typed login and recovery outcomes;
* :mod:`~enrollkit.identity._service`: the use cases (:class:`IdentityService`).
"""

from enrollkit.identity._accounts import *
from enrollkit.identity._lookups import *
from enrollkit.identity._outcomes import *
from enrollkit.identity._passwords import *
from enrollkit.identity._service import *

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
