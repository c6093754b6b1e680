"""enrollkit.signatures: signer slots, requests, signatures, certificates (SG-*).

Who must sign (:func:`signer_slots`, SG-1), who may (:func:`eligibility`,
RO-8), and the use cases of a signature round (:class:`SignatureService`):
send for signature, revise, sign, decline; the certificate (SG-8).
"""

import enrollkit.enrollment  # noqa: F401  (signatures build on enrollment; load it first)
from enrollkit.signatures import _agenda, _certificate, _service, _sheet, _slots
from enrollkit.signatures._agenda import *
from enrollkit.signatures._certificate import *
from enrollkit.signatures._service import *
from enrollkit.signatures._sheet import *
from enrollkit.signatures._slots import *

#: The package's API: the names its modules export (each module's ``__all__``).
__all__ = sorted(
    {
        *_agenda.__all__,
        *_certificate.__all__,
        *_service.__all__,
        *_sheet.__all__,
        *_slots.__all__,
    }
)
