"""Staff invitations with a single-use PIN (Rule RO-7).

An AO or AM (or an IP, for their own profile) invites a person by name,
e-mail and role, for one employer or several of the inviter's employers at
once (RO-7 amended: the CMS invitation e-mail reads "for your employer(s)
AAG Org One, JON SNOW"), with one PIN for all; accepting activates every
association at once or none. The invitation carries a random PIN drawn with
:mod:`secrets` from an unambiguous alphabet (no 0/O, 1/I/L); only its
argon2id hash is stored (AC-6), the PIN itself goes out once, in the
notification's ``secret``. The invitation expires exactly 72 hours after it
was sent (computed on read), is single use, locks after 5 wrong PINs
(configurable), and can be revoked before acceptance: the state machine
:data:`INVITATION_MACHINE`.

>>> pin = generate_pin(10)
>>> len(pin), set(pin) <= set(PIN_ALPHABET)
(10, True)
>>> normalize_pin(" k7qx-9mpr 4a ")
'K7QX9MPR4A'
>>> InvitationPolicy(pin_length=6)
Traceback (most recent call last):
...
enrollkit.errors.ValidationError: An invitation PIN has at least 9 characters (RO-7); got 6.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final

import attrs

from enrollkit.access._associations import Employer
from enrollkit.access._roles import Role
from enrollkit.errors import (
    ExpiredError,
    InvalidTransitionError,
    NotPermittedError,
    ValidationError,
)
from enrollkit.machine import StateMachine
from enrollkit.storage import Collection, Index

__all__ = [
    "INVITATIONS",
    "INVITATION_MACHINE",
    "MIN_PIN_LENGTH",
    "PIN_ALPHABET",
    "Invitation",
    "InvitationEvent",
    "InvitationPolicy",
    "InvitationState",
]

#: Upper-case letters and digits without the look-alikes 0/O and 1/I/L (RO-7).
PIN_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: The shortest PIN the library issues (RO-7): 31**9 is about 2**44.6.
MIN_PIN_LENGTH: Final = 9


def generate_pin(length: int) -> str:
    """A random PIN of *length* characters from :data:`PIN_ALPHABET` (``secrets``)."""
    return "".join(secrets.choice(PIN_ALPHABET) for _ in range(length))


def normalize_pin(text: str) -> str:
    """The PIN as compared: upper case, spaces and hyphens removed (people copy them)."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


def normalize_email(text: str) -> str:
    """The e-mail as compared: stripped and case-folded (RO-7 compares case-insensitively)."""
    return text.strip().casefold()


def _pin_length(_instance: object, _attribute: object, value: int) -> None:
    if value < MIN_PIN_LENGTH:
        raise ValidationError(
            "invitation.pin_length",
            f"An invitation PIN has at least {MIN_PIN_LENGTH} characters (RO-7); got {value}.",
            pin_length=value,
        )


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, timedelta):
        ok = value > timedelta()
    else:
        ok = isinstance(value, int) and value >= 1
    if not ok:
        raise ValidationError(
            "invitation.policy",
            f"InvitationPolicy.{attribute.name} must be positive; got {value!r}.",
            field=attribute.name,
        )


@attrs.frozen
class InvitationPolicy:
    """RO-7's numbers: PIN length, lifetime (72 hours, confirmed) and tries before the
    invitation locks (5, a documented default)."""

    pin_length: int = attrs.field(default=10, validator=_pin_length)
    lifetime: timedelta = attrs.field(default=timedelta(hours=72), validator=_positive)
    max_attempts: int = attrs.field(default=5, validator=_positive)


class InvitationState(Enum):
    """Where an invitation stands; ``EXPIRED`` is computed on read (72 hours after sending)."""

    SENT = "sent"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    LOCKED = "locked"
    EXPIRED = "expired"


class InvitationEvent(Enum):
    """What can happen to an invitation."""

    ACCEPT = "accept"
    WRONG_PIN = "wrong_pin"
    LOCK = "lock"
    REVOKE = "revoke"
    EXPIRE = "expire"


_S, _E = InvitationState, InvitationEvent

#: Rule RO-7: the invitation state machine, ``(state, event) -> new state``. An
#: invitation is expired from 72 hours after it was sent, computed on read.
INVITATION_MACHINE: Final = StateMachine.from_table(
    InvitationState,
    InvitationEvent,
    """
    invitation (RO-7), starts sent
    sent  accept     -> accepted  : accepted
    sent  wrong_pin  -> sent      : tried with a wrong PIN
    sent  lock       -> locked    : locked
    sent  revoke     -> revoked   : revoked
    sent  expire     -> expired   : expired
    """,
)


def _email(_instance: object, _attribute: object, value: str) -> None:
    local, _, domain = value.partition("@")
    if not local or "." not in domain or " " in value:
        raise ValidationError(
            "invitation.email",
            f"An invitation goes to an e-mail address like name@example.org; got {value!r}.",
            email=value,
        )


def _employers(value: Iterable[Employer]) -> tuple[Employer, ...]:
    return tuple(dict.fromkeys(value))  # each employer once, in the order given


def _some_employer(_instance: object, _attribute: object, value: tuple[Employer, ...]) -> None:
    if not value:
        raise ValidationError(
            "invitation.no_employer",
            "An invitation is for at least one of the inviter's employers (RO-7).",
        )


def _name(_instance: object, _attribute: object, value: str) -> None:
    if not value.strip():
        raise ValidationError(
            "invitation.name", "An invitation names the person invited (RO-7); the name is empty."
        )


@attrs.frozen
class Invitation:
    """An invitation to hold *role* with each of *employers* (RO-7), one PIN for all. The
    PIN is stored only as a hash."""

    id: str
    employers: tuple[Employer, ...] = attrs.field(converter=_employers, validator=_some_employer)
    role: Role
    name: str = attrs.field(validator=_name)
    email: str = attrs.field(converter=normalize_email, validator=_email)
    pin_hash: str = attrs.field(repr=False)
    invited_by: str
    sent_at: datetime
    expires_at: datetime
    max_attempts: int
    state: InvitationState = InvitationState.SENT
    failed_attempts: int = 0
    accepted_by: str | None = None
    association_ids: tuple[str, ...] = ()
    closed_at: datetime | None = None
    version: int = 0

    def effective_state(self, now: datetime) -> InvitationState:
        """The state as of *now*: a sent invitation is expired from exactly 72 hours on."""
        if self.state is InvitationState.SENT and now >= self.expires_at:
            return InvitationState.EXPIRED
        return self.state

    @property
    def attempts_left(self) -> int:
        """Wrong PINs still allowed before the invitation locks."""
        return max(self.max_attempts - self.failed_attempts, 0)

    def check_open(self, now: datetime) -> None:
        """Raise unless the invitation can still be accepted or revoked at *now*: the
        refusals of RO-7 in people's words (expired when, locked, used or revoked)."""
        state = self.effective_state(now)
        if state not in INVITATION_MACHINE.terminal:
            return
        if state is InvitationState.EXPIRED:
            raise ExpiredError(
                "invitation.expired",
                f"This invitation expired at {self.expires_at.isoformat()}, 72 hours after it "
                "was sent (RO-7). Ask for a new invitation.",
                invitation_id=self.id,
                expires_at=self.expires_at.isoformat(),
            )
        if state is InvitationState.LOCKED:
            raise NotPermittedError(
                "invitation.locked",
                "This invitation is locked after too many wrong PINs (RO-7). Ask for a new "
                "invitation.",
                invitation_id=self.id,
            )
        verb = {InvitationState.ACCEPTED: "used", InvitationState.REVOKED: "revoked"}[state]
        raise InvalidTransitionError(
            f"invitation.{verb}",
            f"This invitation was already {verb}; a PIN works once (RO-7). Ask for a new "
            "invitation if you need one.",
            invitation_id=self.id,
            state=state.value,
        )

    def _next(self, event: InvitationEvent, now: datetime) -> InvitationState:
        self.check_open(now)
        return INVITATION_MACHINE.next(self.state, event, invitation_id=self.id)

    def wrong_pin(self, now: datetime) -> Invitation:
        """Count a wrong PIN; the last allowed one locks the invitation."""
        failed = self.failed_attempts + 1
        if failed >= self.max_attempts:
            state = self._next(InvitationEvent.LOCK, now)
            return attrs.evolve(self, failed_attempts=failed, state=state, closed_at=now)
        state = self._next(InvitationEvent.WRONG_PIN, now)
        return attrs.evolve(self, failed_attempts=failed, state=state)

    def accept(self, now: datetime, *, user_id: str, association_ids: Iterable[str]) -> Invitation:
        """Mark the invitation used by *user_id* (single use), with the association it
        activated for each employer."""
        return attrs.evolve(
            self,
            state=self._next(InvitationEvent.ACCEPT, now),
            accepted_by=user_id,
            association_ids=tuple(association_ids),
            closed_at=now,
        )

    def revoke(self, now: datetime) -> Invitation:
        """Withdraw the invitation before it is accepted."""
        return attrs.evolve(self, state=self._next(InvitationEvent.REVOKE, now), closed_at=now)


INVITATIONS_BY_EMPLOYER: Final = Index[Invitation](
    "employer", lambda i: [employer.key for employer in i.employers]
)
INVITATIONS_BY_EMAIL: Final = Index[Invitation]("email", lambda i: [i.email])

#: The invitations collection.
INVITATIONS: Final = Collection(
    "access_invitations", Invitation, indexes=(INVITATIONS_BY_EMPLOYER, INVITATIONS_BY_EMAIL)
)
