"""The password policy: pure rules, no storage (Rules PW-1..PW-13).

A :class:`PasswordPolicy` is a frozen value whose fields *are* the rules; the
default, :data:`IA_PASSWORD_POLICY`, is the CMS I&A policy. A stricter or
looser policy is the same class with other field values
(``attrs.evolve(IA_PASSWORD_POLICY, min_length=15)``), never a subclass.

:meth:`PasswordPolicy.check` returns *every* violation at once, each with a
stable ``code``, the rule it breaks and a sentence a person can act on, in a
stable order (the order of :data:`VIOLATION_CODES`): the "compliance list" a
registration form shows.

>>> policy = IA_PASSWORD_POLICY
>>> [v.code for v in policy.check("1jsmith1", user_id="JSmith1", first_name="Jo",
...                               last_name="Smith")]  # doctest: +NORMALIZE_WHITESPACE
['password.no_special', 'password.starts_with_digit', 'password.contains_user_id',
 'password.contains_name']
>>> policy.check("Blue#Sky42", user_id="JSmith1", first_name="Jo", last_name="Smith")
()
>>> print(policy.check("Baaa#1234", user_id="JSmith1")[0].message)
Do not use the same character more than 2 times in a row.

Password history (PW-10) is compared through the hasher, because only hashes
are kept: pass the previous hashes and the :class:`~enrollkit.hashing.SecretHasher`
that can verify them.
"""

from __future__ import annotations

import functools
import random
import re
import secrets
import string
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from enrollkit.clock import days_left, ensure_utc
from enrollkit.errors import ValidationError
from enrollkit.hashing import SecretHasher

__all__ = [
    "IA_PASSWORD_POLICY",
    "IA_SPECIALS",
    "VIOLATION_CODES",
    "NistDeviation",
    "PasswordPolicy",
    "PasswordRejected",
    "Requirement",
    "Violation",
]

#: The accepted special characters of the I&A policy (PW-5 [default]).
IA_SPECIALS: Final = "!@#$%^&*?~_-+="

_DIGITS: Final = frozenset(string.digits)
_ASCII_LETTERS: Final = frozenset(string.ascii_letters)

#: Every violation code, in the order :meth:`PasswordPolicy.check` reports them.
VIOLATION_CODES: Final = (
    "password.too_short",
    "password.too_long",
    "password.no_letter",
    "password.no_digit",
    "password.no_special",
    "password.invalid_character",
    "password.starts_with_digit",
    "password.contains_user_id",
    "password.contains_name",
    "password.repeated_character",
    "password.reused",
)

_RULE_OF: Final = {
    "password.too_short": "PW-1",
    "password.too_long": "PW-1",
    "password.no_letter": "PW-2",
    "password.no_digit": "PW-3",
    "password.no_special": "PW-4",
    "password.invalid_character": "PW-5",
    "password.starts_with_digit": "PW-6",
    "password.contains_user_id": "PW-7",
    "password.contains_name": "PW-8",
    "password.repeated_character": "PW-9",
    "password.reused": "PW-10",
}
_ORDER: Final = {code: position for position, code in enumerate(VIOLATION_CODES)}


@attrs.frozen
class Violation:
    """One broken rule: a stable ``code``, the rule ID and an actionable sentence.

    A violation never contains the password or any part of it.
    """

    code: str
    rule: str
    message: str


@attrs.frozen
class Requirement:
    """One line of the policy as a form shows it before the user types: rule ID and text."""

    rule: str
    text: str


@attrs.frozen
class NistDeviation:
    """Where the policy departs from NIST SP 800-63B (Rule PW-13)."""

    topic: str
    policy: str
    nist: str
    reference: str


class PasswordRejected(ValidationError):
    """A new password breaks the policy; ``violations`` is the full compliance list.

    ``fields["violations"]`` carries the same list as JSON-ready data.
    """

    default_code = "password.rejected"

    def __init__(self, violations: Sequence[Violation]) -> None:
        listed = tuple(violations)
        super().__init__(
            "password.rejected",
            "The new password does not meet the policy: " + " ".join(v.message for v in listed),
            violations=[{"code": v.code, "rule": v.rule, "message": v.message} for v in listed],
        )
        self.violations = listed

    def __reduce__(self) -> tuple[object, ...]:
        return (PasswordRejected, (self.violations,))


def _validate_policy(policy: PasswordPolicy) -> None:
    problems: list[str] = []
    if policy.min_length < 1:
        problems.append("min_length must be at least 1")
    if policy.max_length is not None and policy.max_length < policy.min_length:
        problems.append("max_length must be at least min_length (or None for no maximum)")
    if policy.require_special and not policy.specials:
        problems.append("require_special needs a non-empty set of specials")
    if any(c in _DIGITS or c in _ASCII_LETTERS or c.isspace() for c in policy.specials):
        problems.append("specials may not contain letters, digits or spaces")
    if len(set(policy.specials)) != len(policy.specials):
        problems.append("specials lists each character once")
    if policy.name_min_length < 1:
        problems.append("name_min_length must be at least 1")
    if policy.max_repeat is not None and policy.max_repeat < 1:
        problems.append("max_repeat must be at least 1 (or None for no limit)")
    if policy.history_depth < 0:
        problems.append("history_depth cannot be negative")
    for name in ("min_change_interval", "max_age"):
        value = getattr(policy, name)
        if value is not None and value <= timedelta():
            problems.append(f"{name} must be positive (or None)")
    if problems:
        raise ValidationError(
            "password_policy.invalid",
            "This password policy is inconsistent: " + "; ".join(problems) + ".",
            problems=problems,
        )


@attrs.frozen(kw_only=True, cache_hash=True)
class PasswordPolicy:
    """The rules a password must follow; each field is one rule (PW-1..PW-12).

    ``max_length``, ``max_repeat``, ``min_change_interval`` and ``max_age``
    accept ``None`` for "no such rule"; the boolean fields switch a rule off.
    """

    #: PW-1: the fewest characters.
    min_length: int = 8
    #: PW-1: the most characters (None: no maximum).
    max_length: int | None = 12
    #: PW-2: at least one letter.
    require_letter: bool = True
    #: PW-3: at least one digit 0-9.
    require_digit: bool = True
    #: PW-4: at least one of :attr:`specials`.
    require_special: bool = True
    #: PW-4/PW-5: the accepted special characters.
    specials: str = IA_SPECIALS
    #: PW-5: only ASCII letters, digits and :attr:`specials` are allowed.
    restrict_characters: bool = True
    #: PW-6: the first character is not a digit.
    forbid_leading_digit: bool = True
    #: PW-7: the password does not contain the user ID (any case).
    forbid_user_id: bool = True
    #: PW-8: the password does not contain the first or last name (any case).
    forbid_names: bool = True
    #: PW-8: name parts shorter than this are not checked.
    name_min_length: int = 3
    #: PW-9: the longest run of one character (None: no limit).
    max_repeat: int | None = 2
    #: PW-10: how many recent passwords (the current one included) may not be reused.
    history_depth: int = 6
    #: PW-11: the shortest time between two changes by the user (None: no limit).
    min_change_interval: timedelta | None = timedelta(hours=24)
    #: PW-12: a password expires this long after it was set (None: never).
    max_age: timedelta | None = timedelta(days=60)

    def __attrs_post_init__(self) -> None:
        _validate_policy(self)

    # -- composition (PW-1..PW-10) -------------------------------------------------------

    def check(
        self,
        password: str,
        *,
        user_id: str = "",
        first_name: str = "",
        last_name: str = "",
        history: Sequence[str] = (),
        hasher: SecretHasher | None = None,
    ) -> tuple[Violation, ...]:
        """Return every rule *password* breaks, in the order of :data:`VIOLATION_CODES`.

        *history* holds the hashes of the most recent passwords, newest first
        (the current password included); the first :attr:`history_depth` are
        compared through *hasher* (PW-10), which is then required. An empty
        tuple means the password complies.
        """
        if not isinstance(password, str):
            raise ValidationError(
                "password.not_text",
                f"A password is text; got {type(password).__name__}.",
            )
        for name, value in (
            ("user_id", user_id),
            ("first_name", first_name),
            ("last_name", last_name),
        ):
            if not isinstance(value, str):
                raise ValidationError(
                    f"password.{name}_not_text",
                    f"{name.replace('_', ' ').capitalize()} is text; got {type(value).__name__}.",
                    field=name,
                )
        found = [
            code for code, test in _CHECKS if test(self, password, user_id, first_name, last_name)
        ]
        if history and self.history_depth and self._reused(password, history, hasher):
            found.append("password.reused")
        if not found:
            return ()
        found.sort(key=_ORDER.__getitem__)  # the stable order, whatever order checks ran in
        length = len(password)
        return tuple([self._violation(code, length) for code in found])

    def is_compliant(
        self,
        password: str,
        *,
        user_id: str = "",
        first_name: str = "",
        last_name: str = "",
        history: Sequence[str] = (),
        hasher: SecretHasher | None = None,
    ) -> bool:
        """Return whether :meth:`check` finds nothing."""
        return not self.check(
            password,
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            history=history,
            hasher=hasher,
        )

    def require(
        self,
        password: str,
        *,
        user_id: str = "",
        first_name: str = "",
        last_name: str = "",
        history: Sequence[str] = (),
        hasher: SecretHasher | None = None,
    ) -> None:
        """Raise :class:`PasswordRejected` with the full compliance list unless *password* complies."""
        violations = self.check(
            password,
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            history=history,
            hasher=hasher,
        )
        if violations:
            raise PasswordRejected(violations)

    def _reused(self, password: str, history: Sequence[str], hasher: SecretHasher | None) -> bool:
        if hasher is None:
            raise ValidationError(
                "password.history_needs_hasher",
                "Comparing with the password history needs the hasher that made the "
                "history's hashes; pass hasher=.",
            )
        return any(hasher.verify(digest, password) for digest in history[: self.history_depth])

    def _violation(self, code: str, length: int) -> Violation:
        return _violation(self, code, length if code in _LENGTH_CODES else 0)

    # -- what a form shows ---------------------------------------------------------------

    def requirements(self) -> tuple[Requirement, ...]:
        """The policy as text for a form, one line per active rule, in rule order."""
        lines: list[Requirement] = []
        if self.max_length is None:
            lines.append(Requirement("PW-1", f"At least {self.min_length} characters."))
        else:
            lines.append(
                Requirement("PW-1", f"Between {self.min_length} and {self.max_length} characters.")
            )
        if self.require_letter:
            lines.append(Requirement("PW-2", "At least one letter."))
        if self.require_digit:
            lines.append(Requirement("PW-3", "At least one digit (0-9)."))
        if self.require_special:
            lines.append(
                Requirement("PW-4", f"At least one special character: {' '.join(self.specials)}")
            )
        if self.restrict_characters:
            lines.append(
                Requirement(
                    "PW-5",
                    "Only letters A-Z and a-z, digits and those special characters (no spaces).",
                )
            )
        if self.forbid_leading_digit:
            lines.append(Requirement("PW-6", "Does not start with a digit."))
        if self.forbid_user_id:
            lines.append(Requirement("PW-7", "Does not contain your user ID."))
        if self.forbid_names:
            lines.append(Requirement("PW-8", "Does not contain your first or last name."))
        if self.max_repeat is not None:
            lines.append(
                Requirement("PW-9", f"No character more than {self.max_repeat} times in a row.")
            )
        if self.history_depth:
            lines.append(
                Requirement("PW-10", f"Differs from your last {self.history_depth} passwords.")
            )
        if self.min_change_interval is not None:
            lines.append(
                Requirement(
                    "PW-11",
                    f"Can be changed at most once in {_describe(self.min_change_interval)} "
                    "(an expired or reset password can always be changed).",
                )
            )
        if self.max_age is not None:
            lines.append(
                Requirement("PW-12", f"Expires {_describe(self.max_age)} after it is set.")
            )
        return tuple(lines)

    def nist_deviations(self) -> tuple[NistDeviation, ...]:
        """Where this policy departs from NIST SP 800-63B-4 §3.1.1.2 (Rule PW-13).

        The I&A default deviates on composition rules, the 12-character
        maximum, the restricted character set and periodic expiry; it also
        has no blocklist of compromised passwords, which NIST requires.
        """
        ref = "NIST SP 800-63B-4 §3.1.1.2"
        found: list[NistDeviation] = []
        composition = [
            name
            for name, on in (
                ("a letter", self.require_letter),
                ("a digit", self.require_digit),
                ("a special character", self.require_special),
                ("no leading digit", self.forbid_leading_digit),
                ("no repeated characters", self.max_repeat is not None),
            )
            if on
        ]
        if composition:
            found.append(
                NistDeviation(
                    "composition rules",
                    "requires " + ", ".join(composition) + ".",
                    "Verifiers SHALL NOT impose other composition rules.",
                    ref,
                )
            )
        if self.min_length < 15:
            found.append(
                NistDeviation(
                    "minimum length",
                    f"at least {self.min_length} characters, "
                    + (
                        "below NIST's minimum in every case."
                        if self.min_length < 8
                        else "enough only where the password is one factor of multi-factor "
                        "authentication (as in enrollkit's login, AC-5)."
                    ),
                    "At least 15 characters when the password is the only factor; "
                    "at least 8 when it is part of multi-factor authentication.",
                    ref,
                )
            )
        if self.max_length is not None and self.max_length < 64:
            found.append(
                NistDeviation(
                    "maximum length",
                    f"at most {self.max_length} characters.",
                    "Verifiers SHOULD permit a maximum length of at least 64 characters.",
                    ref,
                )
            )
        if self.restrict_characters:
            found.append(
                NistDeviation(
                    "character set",
                    f"only ASCII letters, digits and {self.specials}.",
                    "Verifiers SHOULD accept all printing ASCII characters, the space, "
                    "and Unicode characters.",
                    ref,
                )
            )
        if self.max_age is not None:
            found.append(
                NistDeviation(
                    "periodic expiry",
                    f"expires {_describe(self.max_age)} after it is set.",
                    "Verifiers SHALL NOT require periodic password changes; force a change "
                    "only on evidence of compromise.",
                    ref,
                )
            )
        found.append(
            NistDeviation(
                "blocklist",
                "no comparison with a list of commonly used or compromised passwords.",
                "Verifiers SHALL compare new passwords with a blocklist.",
                ref,
            )
        )
        return tuple(found)

    # -- time (PW-11, PW-12) -------------------------------------------------------------

    def expires_at(self, set_at: datetime) -> datetime | None:
        """When a password set at *set_at* expires (PW-12), or None if passwords never do."""
        if self.max_age is None:
            return None
        return ensure_utc(set_at, field="set_at") + self.max_age

    def is_expired(self, set_at: datetime, now: datetime) -> bool:
        """Whether a password set at *set_at* has expired at *now*: exactly at the age limit."""
        expires = self.expires_at(set_at)
        return expires is not None and ensure_utc(now, field="now") >= expires

    def days_until_expiry(self, set_at: datetime, now: datetime) -> int | None:
        """Days left before expiry, counted like every other due date (EN-9's one
        :func:`~enrollkit.clock.days_left`: UTC calendar days): 60 right after setting,
        0 on the day it expires and once expired; None if passwords never expire (PW-12)."""
        expires = self.expires_at(set_at)
        if expires is None:
            return None
        return max(days_left(expires, now), 0)

    def next_change_allowed_at(self, set_at: datetime) -> datetime | None:
        """The earliest time the user may change a password set at *set_at* (PW-11)."""
        if self.min_change_interval is None:
            return None
        return ensure_utc(set_at, field="set_at") + self.min_change_interval

    def change_allowed(self, set_at: datetime, now: datetime, *, forced: bool) -> bool:
        """Whether the user may change the password now (PW-11).

        *forced* is True when the password expired or was reset (by the help
        desk): such a change is always allowed.
        """
        if forced or self.is_expired(set_at, now):
            return True
        allowed_at = self.next_change_allowed_at(set_at)
        return allowed_at is None or ensure_utc(now, field="now") >= allowed_at

    # -- temporary passwords -------------------------------------------------------------

    def generate(
        self,
        *,
        user_id: str = "",
        first_name: str = "",
        last_name: str = "",
        rng: random.Random | None = None,
    ) -> str:
        """Return a random password that complies with this policy (for help-desk resets).

        *rng* defaults to :class:`secrets.SystemRandom`; pass a seeded
        :class:`random.Random` only in tests.
        """
        pick = rng or secrets.SystemRandom()
        letters = string.ascii_letters
        specials = self.specials or letters
        alphabet = letters + string.digits + self.specials
        length = max(self.min_length, 4) if self.max_length is None else self.max_length
        for _ in range(1000):
            chars = [pick.choice(letters), pick.choice(string.digits), pick.choice(specials)]
            chars += [pick.choice(alphabet) for _ in range(length - len(chars))]
            pick.shuffle(chars)
            candidate = "".join(chars)
            if self.is_compliant(
                candidate, user_id=user_id, first_name=first_name, last_name=last_name
            ):
                return candidate
        raise ValidationError(  # pragma: no cover - only for contradictory policies
            "password_policy.unsatisfiable",
            "No password satisfying this policy could be generated; check its fields.",
        )


def _describe(delta: timedelta) -> str:
    hours = delta / timedelta(hours=1)
    if delta < timedelta(days=2) and hours == int(hours):
        return f"{int(hours)} hour" + ("" if hours == 1 else "s")
    if delta % timedelta(days=1) == timedelta():
        days = delta // timedelta(days=1)
        return f"{days} days"
    return f"{delta.total_seconds():g} seconds"


# -- the individual checks: each looks at the password alone, so order cannot matter --------

_Check = Callable[[PasswordPolicy, str, str, str, str], bool]


def _too_short(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-1: fewer than min_length characters."""
    return len(pw) < p.min_length


def _too_long(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-1: more than max_length characters."""
    return p.max_length is not None and len(pw) > p.max_length


@functools.lru_cache(maxsize=32)
def _allowed(specials: str) -> frozenset[str]:
    return _ASCII_LETTERS | _DIGITS | frozenset(specials)


def _no_letter(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-2: no letter."""
    if not p.require_letter:
        return False
    if p.restrict_characters:
        return _ASCII_LETTERS.isdisjoint(pw)
    return not any(c.isalpha() for c in pw)


def _no_digit(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-3: no digit 0-9."""
    return p.require_digit and _DIGITS.isdisjoint(pw)


@functools.lru_cache(maxsize=32)
def _special_set(specials: str) -> frozenset[str]:
    return frozenset(specials)


def _no_special(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-4: none of the accepted special characters."""
    return p.require_special and _special_set(p.specials).isdisjoint(pw)


def _invalid_character(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-5: a character outside letters, digits and the specials."""
    return p.restrict_characters and not _allowed(p.specials).issuperset(pw)


def _starts_with_digit(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-6: the first character is a digit."""
    return p.forbid_leading_digit and pw[:1] in _DIGITS and pw != ""


def _contains_user_id(p: PasswordPolicy, pw: str, user_id: str, _f: str, _l: str) -> bool:
    """Rule PW-7: the user ID appears, in any case."""
    return p.forbid_user_id and bool(user_id) and user_id.casefold() in pw.casefold()


_LETTER_RUNS: Final = re.compile(r"[^\W\d_]+")


@functools.lru_cache(maxsize=1024)
def _name_parts(name: str, min_length: int) -> tuple[str, ...]:
    return tuple(part.casefold() for part in _LETTER_RUNS.findall(name) if len(part) >= min_length)


def _contains_name(p: PasswordPolicy, pw: str, _u: str, first: str, last: str) -> bool:
    """Rule PW-8: a first- or last-name part of 3+ letters appears, in any case."""
    if not p.forbid_names:
        return False
    folded = pw.casefold()
    return any(part in folded for part in _name_parts(first, p.name_min_length)) or any(
        part in folded for part in _name_parts(last, p.name_min_length)
    )


@functools.lru_cache(maxsize=8)
def _run_pattern(max_repeat: int) -> re.Pattern[str]:
    return re.compile(r"(.)\1{" + str(max_repeat) + "}", re.DOTALL)


def _repeated_character(p: PasswordPolicy, pw: str, _u: str, _f: str, _l: str) -> bool:
    """Rule PW-9: one character more than max_repeat times in a row."""
    return p.max_repeat is not None and _run_pattern(p.max_repeat).search(pw) is not None


#: (code, check) for every rule decided from the text alone; PW-10 needs the hasher.
_CHECKS: Final[tuple[tuple[str, _Check], ...]] = (
    ("password.too_short", _too_short),
    ("password.too_long", _too_long),
    ("password.no_letter", _no_letter),
    ("password.no_digit", _no_digit),
    ("password.no_special", _no_special),
    ("password.invalid_character", _invalid_character),
    ("password.starts_with_digit", _starts_with_digit),
    ("password.contains_user_id", _contains_user_id),
    ("password.contains_name", _contains_name),
    ("password.repeated_character", _repeated_character),
)


def _specials(p: PasswordPolicy) -> str:
    return " ".join(p.specials)


#: An actionable sentence per code; never the password or a part of it.
_MESSAGES: Final[dict[str, Callable[[PasswordPolicy, int], str]]] = {
    "password.too_short": lambda p, n: (
        f"Use at least {p.min_length} characters (this password has {n})."
    ),
    "password.too_long": lambda p, n: (
        f"Use at most {p.max_length} characters (this password has {n})."
    ),
    "password.no_letter": lambda p, n: "Add at least one letter.",
    "password.no_digit": lambda p, n: "Add at least one digit (0-9).",
    "password.no_special": lambda p, n: (
        f"Add at least one of these special characters: {_specials(p)}"
    ),
    "password.invalid_character": lambda p, n: (
        "Use only letters A-Z and a-z, digits 0-9 and the special characters "
        f"{_specials(p)}; remove spaces and any other symbol."
    ),
    "password.starts_with_digit": lambda p, n: (
        "Start the password with a letter or a special character, not a digit."
    ),
    "password.contains_user_id": lambda p, n: (
        "Remove your user ID from the password (in any mix of upper and lower case)."
    ),
    "password.contains_name": lambda p, n: (
        "Remove your first and last name from the password (in any mix of upper and lower case)."
    ),
    "password.repeated_character": lambda p, n: (
        f"Do not use the same character more than {p.max_repeat} times in a row."
    ),
    "password.reused": lambda p, n: (
        f"Choose a password different from your last {p.history_depth} passwords."
    ),
}

_LENGTH_CODES: Final = frozenset({"password.too_short", "password.too_long"})


@functools.lru_cache(maxsize=1024)
def _violation(policy: PasswordPolicy, code: str, length: int) -> Violation:
    return Violation(code, _RULE_OF[code], _MESSAGES[code](policy, length))


#: The I&A policy (PW-1..PW-12): the default of every identity use case.
IA_PASSWORD_POLICY: Final = PasswordPolicy()
