"""Access: roles, employers, staff invitations, surrogacy connections, decisions.

What a user may do (rules RO-*, CO-*), as opposed to who the user is
(:mod:`enrollkit.identity`: accounts and authentication, rules PW-*, AC-*).
Use cases act for a :class:`~enrollkit.principals.Principal` (AC-8); decisions
are asked about account ids, and an unknown or disabled account is denied.

The one question every use case asks is :func:`decide` (CO-7, CO-8).
"""

from enrollkit.access import (
    _associations,
    _claims,
    _connections,
    _decisions,
    _invitations,
    _organizations,
    _reads,
    _roles,
    _scope,
    _service,
    _verification,
)
from enrollkit.access._associations import *
from enrollkit.access._claims import *
from enrollkit.access._connections import *
from enrollkit.access._decisions import *
from enrollkit.access._invitations import *
from enrollkit.access._organizations import *
from enrollkit.access._reads import *
from enrollkit.access._roles import *
from enrollkit.access._scope import *
from enrollkit.access._service import *
from enrollkit.access._verification import *

#: The package's API: the names its modules export (each module's ``__all__``).
__all__ = sorted(
    {
        *_associations.__all__,
        *_claims.__all__,
        *_connections.__all__,
        *_decisions.__all__,
        *_invitations.__all__,
        *_organizations.__all__,
        *_reads.__all__,
        *_roles.__all__,
        *_scope.__all__,
        *_service.__all__,
        *_verification.__all__,
    }
)
