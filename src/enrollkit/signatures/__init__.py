"""enrollkit.signatures: signer slots, requests, signatures, certificates (SG-*).

Who must sign (:func:`signer_slots`, SG-1), who may (:func:`eligibility`,
RO-8), and the use cases of a signature round (:class:`SignatureService`):
send for signature, revise, sign, decline; the certificate (SG-8).
"""

import enrollkit.enrollment  # noqa: F401  (signatures build on enrollment; load it first)
from enrollkit.signatures._agenda import *
from enrollkit.signatures._certificate import *
from enrollkit.signatures._service import *
from enrollkit.signatures._sheet import *
from enrollkit.signatures._slots import *

__all__ = [
    "SIGNATURE_REQUEST_MACHINE",
    "SIGNATURE_SHEETS",
    "SIGNATURE_TARGET_DAYS",
    "Attestation",
    "CertificateEntry",
    "Eligibility",
    "RequestEvent",
    "RequestStatus",
    "Signature",
    "SignatureCertificate",
    "SignatureMethod",
    "SignatureRequest",
    "SignatureService",
    "SignatureSheet",
    "SignerFacts",
    "SignerSlot",
    "SlotParty",
    "agenda_sources",
    "build_certificate",
    "eligibility",
    "listed_for",
    "paper_signers",
    "render_forms_table",
    "signature_source",
    "signer_slots",
    "slots_of",
]
