"""The password policy: pure rules, no storage (Rules PW-1..PW-13).

A :class:`PasswordPolicy` is a frozen value whose fields hold the rules'
numbers and switches; the default, :data:`IA_PASSWORD_POLICY`, is the CMS I&A
policy. A stricter or looser policy is the same class with other field values
(``attrs.evolve(IA_PASSWORD_POLICY, min_length=15)``), never a subclass.

Each rule a password is checked against is one row, a :class:`PasswordRule`:
its stable violation code, the rule ID, the check, the sentence a person can
act on and the line a form shows. :attr:`PasswordPolicy.rules` lists the rows
the policy's fields switch on, in a stable order (the order of
:data:`VIOLATION_CODES`); :meth:`PasswordPolicy.check` reports *every* row
whose check fails, in that order: the "compliance list" a registration form
shows.

>>> policy = IA_PASSWORD_POLICY
>>> policy.rules[:2]  # doctest: +NORMALIZE_WHITESPACE
(PasswordRule(code='password.too_short', rule='PW-1'),
 PasswordRule(code='password.too_long', rule='PW-1'))
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

import random
import re
import secrets
import string
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final, TypedDict, Unpack

import attrs

from enrollkit.clock import days_left, ensure_utc
from enrollkit.errors import ValidationError
from enrollkit.hashing import SecretHasher

__all__ = [
    "IA_PASSWORD_POLICY",
    "IA_SPECIALS",
    "VIOLATION_CODES",
    "CandidateFacts",
    "NistDeviation",
    "PasswordCandidate",
    "PasswordPolicy",
    "PasswordRejected",
    "PasswordRule",
    "Requirement",
    "Violation",
]

#: The accepted special characters of the I&A policy (PW-5 [default]).
IA_SPECIALS: Final = "!@#$%^&*?~_-+="

_DIGITS: Final = frozenset(string.digits)
_ASCII_LETTERS: Final = frozenset(string.ascii_letters)


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

    __module__ = "enrollkit.identity"  # where hosts import it from, as tracebacks show
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


class CandidateFacts(TypedDict, total=False):
    """The keywords :meth:`PasswordPolicy.check`, ``is_compliant`` and ``require`` take
    beside the password: what the rules compare it with."""

    user_id: str
    first_name: str
    last_name: str
    history: Sequence[str]
    hasher: SecretHasher | None


@attrs.frozen(kw_only=True, eq=False)
class PasswordCandidate:
    """A password under check and what the rules compare it with: the user ID (PW-7),
    the names (PW-8), the hashes of recent passwords, newest first, and the hasher
    that made them (PW-10).

    :meth:`PasswordPolicy.check` builds one; build one yourself only to call a
    :class:`PasswordRule`'s check. The password, history and hasher stay out of
    the repr.
    """

    password: str = attrs.field(repr=False)
    user_id: str = ""
    first_name: str = ""
    last_name: str = ""
    history: Sequence[str] = attrs.field(default=(), repr=False)
    hasher: SecretHasher | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.password, str):
            raise ValidationError(
                "password.not_text",
                f"A password is text; got {type(self.password).__name__}.",
            )
        for name, value in (
            ("user_id", self.user_id),
            ("first_name", self.first_name),
            ("last_name", self.last_name),
        ):
            if not isinstance(value, str):
                raise ValidationError(
                    f"password.{name}_not_text",
                    f"{name.replace('_', ' ').capitalize()} is text; got {type(value).__name__}.",
                    field=name,
                )


@attrs.frozen(kw_only=True)
class PasswordRule:
    """One rule a password is checked against, as one row of the policy (PW-1..PW-10).

    Every callable takes the policy, so a row reads its numbers (``min_length``,
    ``specials``, ``max_repeat``...) from the policy it belongs to:

    * ``applies(policy)``: whether the policy's fields switch the rule on;
    * ``check(policy, candidate)``: True when the candidate meets the rule;
    * ``message(policy, candidate)``: the sentence a person can act on when it
      does not, never the password or a part of it;
    * ``requirement(policy)``: the rule's line in the list a form shows, or
      None for a row whose rule another row's line already states (PW-1's maximum).
    """

    code: str
    rule: str
    applies: Callable[[PasswordPolicy], bool] = attrs.field(repr=False)
    check: Callable[[PasswordPolicy, PasswordCandidate], bool] = attrs.field(repr=False)
    message: Callable[[PasswordPolicy, PasswordCandidate], str] = attrs.field(repr=False)
    requirement: Callable[[PasswordPolicy], str] | None = attrs.field(repr=False)


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


@attrs.frozen(kw_only=True)
class PasswordPolicy:
    """The rules a password must follow; each field is a number or switch of one rule
    (PW-1..PW-12), and :attr:`rules` are the rows a password is checked against.

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

    @property
    def rules(self) -> tuple[PasswordRule, ...]:
        """The rows this policy checks a password against, in the order of
        :data:`VIOLATION_CODES`; a rule its fields switch off (``require_special=False``,
        ``max_repeat=None``...) is not among them."""
        return tuple([row for row in _RULES if row.applies(self)])

    def check(self, password: str, /, **about: Unpack[CandidateFacts]) -> tuple[Violation, ...]:
        """Return a violation for every row of :attr:`rules` whose check *password* fails,
        in that order.

        *about* holds what the rules compare the password with (:class:`CandidateFacts`):
        ``user_id`` (PW-7), ``first_name`` and ``last_name`` (PW-8), and ``history``: the
        hashes of the most recent passwords, newest first (the current password
        included), whose first :attr:`history_depth` are compared through ``hasher``
        (PW-10), which is then required. An empty tuple means the password complies.
        """
        candidate = PasswordCandidate(password=password, **about)
        return tuple(
            [
                Violation(row.code, row.rule, row.message(self, candidate))
                for row in self.rules
                if not row.check(self, candidate)
            ]
        )

    def is_compliant(self, password: str, /, **about: Unpack[CandidateFacts]) -> bool:
        """Return whether :meth:`check` finds nothing; *about* takes :meth:`check`'s
        keywords."""
        return not self.check(password, **about)

    def require(self, password: str, /, **about: Unpack[CandidateFacts]) -> None:
        """Raise :class:`PasswordRejected` with the full compliance list unless *password*
        complies; *about* takes :meth:`check`'s keywords."""
        violations = self.check(password, **about)
        if violations:
            raise PasswordRejected(violations)

    # -- what a form shows ---------------------------------------------------------------

    def requirements(self) -> tuple[Requirement, ...]:
        """The policy as text for a form, one line per active rule, in rule order: the
        lines of :attr:`rules` (PW-1..PW-10), then the time rules PW-11 and PW-12."""
        lines = [
            Requirement(row.rule, row.requirement(self))
            for row in self.rules
            if row.requirement is not None
        ]
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


# -- the rows: one per rule a password is checked against, in reporting order ------------
#
# Each check looks at the candidate alone (never at another row's result), so the
# order of the rows is only the order of the compliance list.

_LETTER_RUNS: Final = re.compile(r"[^\W\d_]+")


def _has_letter(p: PasswordPolicy, c: PasswordCandidate) -> bool:
    """Rule PW-2: a letter (an ASCII one where PW-5 restricts the characters)."""
    if p.restrict_characters:
        return not _ASCII_LETTERS.isdisjoint(c.password)
    return any(ch.isalpha() for ch in c.password)


def _only_accepted_characters(p: PasswordPolicy, c: PasswordCandidate) -> bool:
    """Rule PW-5: nothing but ASCII letters, digits and the accepted specials."""
    return not set(c.password).difference(_ASCII_LETTERS, _DIGITS, p.specials)


def _free_of_names(p: PasswordPolicy, c: PasswordCandidate) -> bool:
    """Rule PW-8: no first- or last-name part of name_min_length+ letters, in any case."""
    folded = c.password.casefold()
    return not any(
        part.casefold() in folded
        for name in (c.first_name, c.last_name)
        for part in _LETTER_RUNS.findall(name)
        if len(part) >= p.name_min_length
    )


def _no_long_run(p: PasswordPolicy, c: PasswordCandidate) -> bool:
    """Rule PW-9: no character more than max_repeat times in a row."""
    if p.max_repeat is None:
        return True
    return re.search("(.)\\1{" + str(p.max_repeat) + "}", c.password, re.DOTALL) is None


def _not_reused(p: PasswordPolicy, c: PasswordCandidate) -> bool:
    """Rule PW-10: none of the first history_depth hashes of the history verifies it."""
    if not c.history:
        return True
    if c.hasher is None:
        raise ValidationError(
            "password.history_needs_hasher",
            "Comparing with the password history needs the hasher that made the "
            "history's hashes; pass hasher=.",
        )
    hasher = c.hasher
    return not any(hasher.verify(digest, c.password) for digest in c.history[: p.history_depth])


def _specials(p: PasswordPolicy) -> str:
    return " ".join(p.specials)


def _length_line(p: PasswordPolicy) -> str:
    if p.max_length is None:
        return f"At least {p.min_length} characters."
    return f"Between {p.min_length} and {p.max_length} characters."


#: Every rule a password is checked against (PW-1..PW-10), in reporting order; only
#: :attr:`PasswordPolicy.rules` reads it. Messages never quote the password.
_RULES: Final = (
    PasswordRule(
        code="password.too_short",
        rule="PW-1",
        applies=lambda p: True,
        check=lambda p, c: len(c.password) >= p.min_length,
        message=lambda p, c: (
            f"Use at least {p.min_length} characters (this password has {len(c.password)})."
        ),
        requirement=_length_line,
    ),
    PasswordRule(
        code="password.too_long",
        rule="PW-1",
        applies=lambda p: p.max_length is not None,
        check=lambda p, c: p.max_length is None or len(c.password) <= p.max_length,
        message=lambda p, c: (
            f"Use at most {p.max_length} characters (this password has {len(c.password)})."
        ),
        requirement=None,  # the PW-1 line above states the maximum
    ),
    PasswordRule(
        code="password.no_letter",
        rule="PW-2",
        applies=lambda p: p.require_letter,
        check=_has_letter,
        message=lambda p, c: "Add at least one letter.",
        requirement=lambda p: "At least one letter.",
    ),
    PasswordRule(
        code="password.no_digit",
        rule="PW-3",
        applies=lambda p: p.require_digit,
        check=lambda p, c: not _DIGITS.isdisjoint(c.password),
        message=lambda p, c: "Add at least one digit (0-9).",
        requirement=lambda p: "At least one digit (0-9).",
    ),
    PasswordRule(
        code="password.no_special",
        rule="PW-4",
        applies=lambda p: p.require_special,
        check=lambda p, c: not set(c.password).isdisjoint(p.specials),
        message=lambda p, c: f"Add at least one of these special characters: {_specials(p)}",
        requirement=lambda p: f"At least one special character: {_specials(p)}",
    ),
    PasswordRule(
        code="password.invalid_character",
        rule="PW-5",
        applies=lambda p: p.restrict_characters,
        check=_only_accepted_characters,
        message=lambda p, c: (
            "Use only letters A-Z and a-z, digits 0-9 and the special characters "
            f"{_specials(p)}; remove spaces and any other symbol."
        ),
        requirement=lambda p: (
            "Only letters A-Z and a-z, digits and those special characters (no spaces)."
        ),
    ),
    PasswordRule(
        code="password.starts_with_digit",
        rule="PW-6",
        applies=lambda p: p.forbid_leading_digit,
        check=lambda p, c: c.password[:1] not in _DIGITS,
        message=lambda p, c: (
            "Start the password with a letter or a special character, not a digit."
        ),
        requirement=lambda p: "Does not start with a digit.",
    ),
    PasswordRule(
        code="password.contains_user_id",
        rule="PW-7",
        applies=lambda p: p.forbid_user_id,
        check=lambda p, c: not c.user_id or c.user_id.casefold() not in c.password.casefold(),
        message=lambda p, c: (
            "Remove your user ID from the password (in any mix of upper and lower case)."
        ),
        requirement=lambda p: "Does not contain your user ID.",
    ),
    PasswordRule(
        code="password.contains_name",
        rule="PW-8",
        applies=lambda p: p.forbid_names,
        check=_free_of_names,
        message=lambda p, c: (
            "Remove your first and last name from the password (in any mix of upper and "
            "lower case)."
        ),
        requirement=lambda p: "Does not contain your first or last name.",
    ),
    PasswordRule(
        code="password.repeated_character",
        rule="PW-9",
        applies=lambda p: p.max_repeat is not None,
        check=_no_long_run,
        message=lambda p, c: (
            f"Do not use the same character more than {p.max_repeat} times in a row."
        ),
        requirement=lambda p: f"No character more than {p.max_repeat} times in a row.",
    ),
    PasswordRule(
        code="password.reused",
        rule="PW-10",
        applies=lambda p: p.history_depth > 0,
        check=_not_reused,
        message=lambda p, c: (
            f"Choose a password different from your last {p.history_depth} passwords."
        ),
        requirement=lambda p: f"Differs from your last {p.history_depth} passwords.",
    ),
)

#: Every violation code, in the order :meth:`PasswordPolicy.check` reports them.
VIOLATION_CODES: Final = tuple(row.code for row in _RULES)

#: The I&A policy (PW-1..PW-12): the default of every identity use case.
IA_PASSWORD_POLICY: Final = PasswordPolicy()
