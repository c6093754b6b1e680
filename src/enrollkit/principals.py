"""Who acts: authenticated principals and the host's secret key (Rule AC-8).

Every use case acts for a :class:`Principal`, never for a bare string. A
principal is issued in exactly two ways, both by
:class:`~enrollkit.identity.IdentityService`:

* a completed login (password, then the one-time code, AC-5):
  :attr:`AuthMethod.LOGIN`;
* an explicit, audited assertion by a host with its own sign-on:
  :attr:`AuthMethod.HOST_ASSERTION` (``identity.assert_principal``), or, for
  people who are not I&A users at all (a help-desk operator, a MAC
  reviewer), ``identity.assert_operator``.

A principal is *sealed*: it carries an HMAC of its contents under a key
derived from the host's secret key, so one built by hand (or edited after
it was issued) is refused wherever it is used, and a host may keep a
principal in its session store (``to_data``/``from_data`` round-trip it)
and hand it back later. The seal proves where the principal came from;
each use of it still checks the account *now* (active, not locked or
disabled, password not expired: AC-8, PW-12) inside the use case's
transaction.

>>> from datetime import datetime, timezone
>>> key = HostKey(b"k" * 32)
>>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> ana = key.issue(PrincipalKind.ACCOUNT, "acct-000001", at, AuthMethod.LOGIN)
>>> ana
Principal(kind=<PrincipalKind.ACCOUNT: 'account'>, id='acct-000001', authenticated_at=datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.timezone.utc), method=<AuthMethod.LOGIN: 'login'>)
>>> key.check(ana) is ana
True
>>> import attrs
>>> key.check(attrs.evolve(ana, id="acct-000002"))
Traceback (most recent call last):
...
enrollkit.errors.NotPermittedError: This principal was not issued by this installation, or was changed after it was issued; log in again (AC-8).
>>> key.check("acct-000001")
Traceback (most recent call last):
...
enrollkit.errors.ValidationError: A use case acts for a Principal from a completed login or an audited host assertion (AC-8); got a str.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Final, Protocol

import attrs

from enrollkit.clock import ensure_utc
from enrollkit.errors import NotPermittedError, ValidationError

if TYPE_CHECKING:
    from enrollkit.runtime import Reads, Transaction

__all__ = [
    "MIN_SECRET_KEY_BYTES",
    "AccountGate",
    "AuthMethod",
    "HostKey",
    "Principal",
    "PrincipalKind",
]

#: The shortest host secret key accepted: 32 random bytes (256 bits).
MIN_SECRET_KEY_BYTES: Final = 32


class PrincipalKind(Enum):
    """Whom a principal stands for."""

    ACCOUNT = "account"  #: an I&A account: a provider, an official, staff, a surrogate's staff
    HELP_DESK = "help_desk"  #: a help-desk operator (AC-2, AC-9, RO-3, RO-9): not an I&A user
    MAC = "mac"  #: a Medicare Administrative Contractor reviewer (EN-4): not an I&A user


class AuthMethod(Enum):
    """How the principal was authenticated."""

    LOGIN = "login"  #: password, then a one-time code (AC-5), through IdentityService
    HOST_ASSERTION = "host_assertion"  #: the host's own sign-on, asserted and audited


@attrs.frozen
class Principal:
    """An authenticated actor (AC-8): sealed by the installation that issued it.

    ``id`` is the account id for :attr:`PrincipalKind.ACCOUNT`, the operator's
    id otherwise. ``authenticated_at`` is when the login completed (or when
    the host says its sign-on authenticated the person); signing asks that it
    be recent (AC-8's step-up).
    """

    kind: PrincipalKind
    id: str
    authenticated_at: datetime
    method: AuthMethod
    seal: str = attrs.field(repr=False)

    @property
    def audit_id(self) -> str:
        """How the principal appears as an event's actor: the account id, or
        ``kind:id`` for an operator (so it never collides with an account id)."""
        if self.kind is PrincipalKind.ACCOUNT:
            return self.id
        return f"{self.kind.value}:{self.id}"


def _seal_text(kind: PrincipalKind, principal_id: str, at: datetime, method: AuthMethod) -> bytes:
    return "\x1f".join((kind.value, principal_id, at.isoformat(), method.value)).encode(
        "utf-8", "surrogatepass"
    )


class HostKey:
    """The host's secret key, and the purpose keys derived from it.

    One secret (32+ random bytes from the host's configuration, the same in
    every worker and across restarts) seals principals and keys the AC-3
    decoys and authenticator seeds; each use gets its own derived key
    (HMAC-SHA-256 of the purpose), so no two uses share key material.
    The key never appears in a repr, an error or an event.
    """

    __slots__ = ("_derived", "_secret")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray):
            raise ValidationError(
                "secret_key.type",
                f"The secret key is bytes (32+ random bytes, e.g. secrets.token_bytes(32)); "
                f"got {type(secret).__name__}.",
            )
        if len(secret) < MIN_SECRET_KEY_BYTES:
            raise ValidationError(
                "secret_key.too_short",
                f"The secret key needs at least {MIN_SECRET_KEY_BYTES} random bytes; got "
                f"{len(secret)}. Generate one with secrets.token_bytes(32) and keep it in the "
                "host's configuration.",
                minimum=MIN_SECRET_KEY_BYTES,
            )
        self._secret = bytes(secret)
        self._derived: dict[str, bytes] = {}

    @classmethod
    def of(cls, value: HostKey | bytes) -> HostKey:
        """*value* as a HostKey (bytes are wrapped; a HostKey is returned as it is)."""
        return value if isinstance(value, HostKey) else cls(value)

    def __repr__(self) -> str:
        return "HostKey(<hidden>)"

    def derive(self, purpose: str) -> bytes:
        """The 32-byte key of one *purpose* (``"principal"``, ``"identity.decoy"``...)."""
        key = self._derived.get(purpose)
        if key is None:
            label = b"enrollkit/" + purpose.encode("utf-8")
            key = hmac.new(self._secret, label, hashlib.sha256).digest()
            self._derived[purpose] = key
        return key

    def mac(self, purpose: str, message: bytes) -> str:
        """HMAC-SHA-256 (hex) of *message* under the key of *purpose*."""
        return hmac.new(self.derive(purpose), message, hashlib.sha256).hexdigest()

    def issue(
        self, kind: PrincipalKind, principal_id: str, at: datetime, method: AuthMethod
    ) -> Principal:
        """A sealed principal. Only IdentityService calls this (after a login or an
        audited assertion); hosts obtain principals from there."""
        at = ensure_utc(at, field="authenticated_at")
        seal = self.mac("principal", _seal_text(kind, principal_id, at, method))
        return Principal(kind, principal_id, at, method, seal)

    def check(self, value: object) -> Principal:
        """Return *value* if it is a principal sealed by this key, else refuse (AC-8)."""
        if not isinstance(value, Principal):
            raise ValidationError(
                "principal.required",
                "A use case acts for a Principal from a completed login or an audited host "
                f"assertion (AC-8); got a {type(value).__name__}.",
                got=type(value).__name__,
            )
        fields: tuple[object, ...] = (
            value.kind,
            value.method,
            value.id,
            value.authenticated_at,
            value.seal,
        )  # a hand-made principal may hold anything: check the shape before the seal
        kind, method, principal_id, at, seal = fields
        valid = (
            isinstance(kind, PrincipalKind)
            and isinstance(method, AuthMethod)
            and isinstance(principal_id, str)
            and isinstance(at, datetime)
            and at.tzinfo is not None
            and isinstance(seal, str)
        )
        if valid:
            expected = self.mac(
                "principal",
                _seal_text(value.kind, value.id, value.authenticated_at, value.method),
            )
            # Bytes, not str: compare_digest refuses non-ASCII text with a TypeError.
            valid = hmac.compare_digest(
                expected.encode("ascii"), value.seal.encode("utf-8", "surrogatepass")
            )
        if not valid:
            raise NotPermittedError(
                "principal.forged",
                "This principal was not issued by this installation, or was changed after it "
                "was issued; log in again (AC-8).",
            )
        return value


class AccountGate(Protocol):
    """Whether an account may act now (AC-8); identity implements it
    (:class:`enrollkit.identity.AccountStates`), the runtime asks it."""

    def require_usable(
        self, tx: Transaction, principal: Principal, *, password_change: bool = False
    ) -> None:
        """Refuse (an EnrollkitError) unless the principal's account exists, is active
        (not locked or disabled), its password is current (PW-12; with *password_change*
        an expired or reset password is allowed, for changing it), and no password was
        set after the principal was authenticated."""
        ...

    def is_known(self, tx: Reads, account_id: str) -> bool:
        """Whether *account_id* is an account that is not disabled."""
        ...
