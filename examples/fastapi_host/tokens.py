"""Bearer tokens for the example host: a random token maps to a principal kept server-side.

A completed login answers a :class:`~enrollkit.Principal` (AC-8). The host must keep
it on the server: the client gets only a random token (``secrets.token_urlsafe``),
never the principal or its seal. The store keeps the SHA-256 of each token, not the
token itself, so whoever reads the store's memory cannot replay the tokens it holds.
Tokens end after *lifetime* (counted on the kit's clock, so tests move it by hand)
or when revoked at logout; enrollkit still checks the account at every use (a lock,
a reset or a password change ends the principal whatever the token says).

>>> from datetime import datetime, timedelta, timezone
>>> from enrollkit import FixedClock
>>> from enrollkit.principals import AuthMethod, HostKey, PrincipalKind
>>> clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
>>> key = HostKey(b"k" * 32)
>>> ana = key.issue(PrincipalKind.ACCOUNT, "acct-000001", clock.now(), AuthMethod.LOGIN)
>>> tokens = TokenStore(clock, lifetime=timedelta(hours=8))
>>> issued = tokens.issue(ana)
>>> tokens.principal(issued.token) is ana
True
>>> issued.token in repr(tokens)
False
>>> clock.advance(hours=9)
>>> try:
...     tokens.principal(issued.token)
... except Unauthenticated as err:
...     print(err.code)
auth.token_unknown
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import datetime, timedelta
from typing import Final

import attrs

from enrollkit import Clock, NotPermittedError, Principal

__all__ = ["DEFAULT_LIFETIME", "IssuedToken", "TokenStore", "Unauthenticated"]

#: How long a token lasts after the login that issued it.
DEFAULT_LIFETIME: Final = timedelta(hours=8)


class Unauthenticated(NotPermittedError):
    """No bearer token, or one this host does not know (unknown, expired, revoked).

    A :class:`~enrollkit.NotPermittedError`, answered 401 rather than 403: the caller
    has not shown who they are yet."""

    default_code = "auth.token"


@attrs.frozen
class IssuedToken:
    """What the client receives after a login: the bearer token and when it ends."""

    token: str = attrs.field(repr=False)
    expires_at: datetime


@attrs.frozen
class _Session:
    principal: Principal
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore:
    """Principals kept server-side, keyed by the SHA-256 of a random bearer token."""

    def __init__(self, clock: Clock, *, lifetime: timedelta = DEFAULT_LIFETIME) -> None:
        if lifetime <= timedelta(0):
            raise ValueError("a token lifetime is positive")  # a programming error
        self._clock = clock
        self._lifetime = lifetime
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenStore(sessions={len(self._sessions)}, lifetime={self._lifetime})"

    def issue(self, principal: Principal) -> IssuedToken:
        """Keep *principal* and return a new random token naming it."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        session = _Session(principal, now + self._lifetime)
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
            self._sessions[_digest(token)] = session
        return IssuedToken(token, session.expires_at)

    def principal(self, token: str) -> Principal:
        """The principal *token* names; :class:`Unauthenticated` if it names none now."""
        with self._lock:
            session = self._sessions.get(_digest(token))
        if session is None or session.expires_at <= self._clock.now():
            raise Unauthenticated(
                "auth.token_unknown",
                "This token has expired or was revoked; log in again (password, then the code).",
            )
        return session.principal

    def revoke(self, token: str) -> None:
        """Forget *token* (logout); forgetting an unknown token does nothing."""
        with self._lock:
            self._sessions.pop(_digest(token), None)
