"""Hashing of every secret behind one small port (Rule AC-6).

Passwords, security answers, PINs and one-time codes are stored only as
argon2id hashes and compared in constant time (argon2's verify does). The
default parameters meet OWASP's minimum for argon2id (m=19 MiB, t=2, p=1);
:meth:`SecretHasher.needs_rehash` tells a use case to upgrade a hash made
with weaker parameters at the next successful verification.

Tests inject a cheaper configuration through the same port
(:data:`FAST_INSECURE_PARAMETERS`), never a fake.

>>> hasher = Argon2Hasher(FAST_INSECURE_PARAMETERS)
>>> digest = hasher.hash("Tr0ub4dor&3")
>>> digest.startswith("$argon2id$")
True
>>> hasher.verify(digest, "Tr0ub4dor&3"), hasher.verify(digest, "wrong")
(True, False)
>>> Argon2Hasher().needs_rehash(digest)
True
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

import argon2
import attrs
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from enrollkit.errors import ValidationError

__all__ = [
    "FAST_INSECURE_PARAMETERS",
    "OWASP_MINIMUM",
    "Argon2Hasher",
    "Argon2Parameters",
    "SecretHasher",
]


@runtime_checkable
class SecretHasher(Protocol):
    """Turns secrets into salted one-way hashes and checks candidates against them."""

    def hash(self, secret: str) -> str:
        """Return a salted, encoded hash of *secret* (never the secret)."""
        ...

    def verify(self, hashed: str, secret: str) -> bool:
        """Return whether *secret* matches *hashed*, in constant time; False for a bad hash."""
        ...

    def needs_rehash(self, hashed: str) -> bool:
        """Return whether *hashed* was made with weaker parameters than the current ones."""
        ...


@attrs.frozen
class Argon2Parameters:
    """argon2id cost parameters: memory in KiB, iterations, lanes."""

    memory_kib: int = attrs.field(validator=attrs.validators.ge(8))
    time_cost: int = attrs.field(validator=attrs.validators.ge(1))
    parallelism: int = attrs.field(validator=attrs.validators.ge(1))
    hash_len: int = attrs.field(default=32, validator=attrs.validators.ge(16))
    salt_len: int = attrs.field(default=16, validator=attrs.validators.ge(16))

    def meets(self, minimum: Argon2Parameters) -> bool:
        """Return whether these parameters cost at least as much as *minimum*."""
        return (
            self.memory_kib >= minimum.memory_kib
            and self.time_cost >= minimum.time_cost
            and self.parallelism >= minimum.parallelism
        )


#: OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1 (AC-6).
OWASP_MINIMUM: Final = Argon2Parameters(memory_kib=19 * 1024, time_cost=2, parallelism=1)

#: For tests only: fast and far below OWASP's minimum. Never use in production.
FAST_INSECURE_PARAMETERS: Final = Argon2Parameters(memory_kib=8, time_cost=1, parallelism=1)


def _bytes(secret: str) -> bytes:
    if not isinstance(secret, str):
        raise ValidationError("hashing.secret_type", "A secret to hash is text.")
    return secret.encode("utf-8", "surrogatepass")


class Argon2Hasher:
    """The default :class:`SecretHasher`: argon2id via argon2-cffi."""

    __slots__ = ("_hasher", "parameters")

    def __init__(self, parameters: Argon2Parameters = OWASP_MINIMUM) -> None:
        if not isinstance(parameters, Argon2Parameters):
            raise ValidationError(
                "hashing.parameters", "Argon2Hasher takes an Argon2Parameters value."
            )
        self.parameters = parameters
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=parameters.hash_len,
            salt_len=parameters.salt_len,
            type=argon2.Type.ID,
        )

    def __repr__(self) -> str:
        p = self.parameters
        return f"Argon2Hasher(m={p.memory_kib}KiB, t={p.time_cost}, p={p.parallelism})"

    def hash(self, secret: str) -> str:
        """Return the argon2id hash of *secret* (any text: lone surrogates are hashed as
        their code units rather than refused, so hashing never raises, ER-1)."""
        return self._hasher.hash(_bytes(secret))

    def verify(self, hashed: str, secret: str) -> bool:
        """Return whether *secret* matches *hashed* (constant-time compare)."""
        try:
            return self._hasher.verify(hashed, _bytes(secret))
        except (VerifyMismatchError, VerificationError, InvalidHashError, TypeError, ValueError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        """Return whether *hashed* should be recomputed with the current parameters."""
        try:
            return self._hasher.check_needs_rehash(hashed)
        except InvalidHashError:
            return True
