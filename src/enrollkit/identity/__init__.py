"""Identity: accounts, the I&A password policy, expiry, lockout, recovery and MFA.

Rules PW-1..PW-13 and AC-1..AC-9; see ``docs/identity.md`` for the tour.

* :mod:`~enrollkit.identity._passwords`: the pure password policy
  (:class:`PasswordPolicy`, :data:`IA_PASSWORD_POLICY`);
* :mod:`~enrollkit.identity._accounts`: the :class:`Account` aggregate, its lock
  state machine (:data:`ACCOUNT_MACHINE`) and its collection (:data:`ACCOUNTS`);
* :mod:`~enrollkit.identity._outcomes`: typed login and recovery outcomes;
* :mod:`~enrollkit.identity._service`: the use cases (:class:`IdentityService`).
"""

from enrollkit.identity import _accounts, _lookups, _outcomes, _passwords, _service
from enrollkit.identity._accounts import *
from enrollkit.identity._lookups import *
from enrollkit.identity._outcomes import *
from enrollkit.identity._passwords import *
from enrollkit.identity._service import *

#: The package's API: the names its modules export (each module's ``__all__``).
__all__ = sorted(
    {
        *_accounts.__all__,
        *_lookups.__all__,
        *_outcomes.__all__,
        *_passwords.__all__,
        *_service.__all__,
    }
)
