"""enrollkit: the rules of CMS Identity & Access and PECOS, as an embeddable library.

The public surface is re-exported here; everything else is an implementation
detail. The documentation (docs/) has the tour.
"""

from enrollkit._version import __version__
from enrollkit.audit import AuditEntry, ChainHead, ChainVerification, DomainEvent
from enrollkit.clock import Clock, FixedClock, SystemClock
from enrollkit.errors import (
    ConflictError,
    EnrollkitError,
    ExpiredError,
    InvalidTransitionError,
    NotFoundError,
    NotPermittedError,
    SerializationError,
    StorageError,
    ValidationError,
)
from enrollkit.hashing import Argon2Hasher, Argon2Parameters, SecretHasher
from enrollkit.kit import Enrollkit
from enrollkit.notify import InMemoryNotifier, Notification, Notifier
from enrollkit.npi import EIN, NPI, InvalidEIN, InvalidNPI, NPIType
from enrollkit.principals import AuthMethod, Principal, PrincipalKind
from enrollkit.runtime import Runtime, SequentialIds
from enrollkit.serialization import from_data, to_data
from enrollkit.storage import Collection, Index, Repository, Storage, UnitOfWork

__all__ = [
    "EIN",
    "NPI",
    "Argon2Hasher",
    "Argon2Parameters",
    "AuditEntry",
    "AuthMethod",
    "ChainHead",
    "ChainVerification",
    "Clock",
    "Collection",
    "ConflictError",
    "DomainEvent",
    "Enrollkit",
    "EnrollkitError",
    "ExpiredError",
    "FixedClock",
    "InMemoryNotifier",
    "Index",
    "InvalidEIN",
    "InvalidNPI",
    "InvalidTransitionError",
    "NPIType",
    "NotFoundError",
    "NotPermittedError",
    "Notification",
    "Notifier",
    "Principal",
    "PrincipalKind",
    "Repository",
    "Runtime",
    "SecretHasher",
    "SequentialIds",
    "SerializationError",
    "Storage",
    "StorageError",
    "SystemClock",
    "UnitOfWork",
    "ValidationError",
    "__version__",
    "from_data",
    "to_data",
]
