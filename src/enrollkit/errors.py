"""The one error family of enrollkit (Rule ER-1).

Every refusal the library makes is an :class:`EnrollkitError`. Each carries

* ``code``: a stable, dotted identifier (``"npi.check_digit"``,
  ``"connection.expired"``) that host applications can switch on and
  translate; codes never change meaning once released;
* ``message``: a sentence a person can act on;
* ``fields``: structured facts (JSON-ready) about the refusal.

Families mirror what the domain needs. Where the meaning matches a builtin,
the family also subclasses it (a :class:`ValidationError` is a
``ValueError``, a :class:`NotFoundError` is a ``LookupError``), so generic
host code that catches builtins keeps working; the public API never raises a
*bare* builtin.

>>> from enrollkit.errors import ValidationError
>>> err = ValidationError("npi.length", "An NPI has 10 digits; got 9.", value="123456789")
>>> err.code, str(err), err.fields["value"]
('npi.length', 'An NPI has 10 digits; got 9.', '123456789')
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "HTTP_STATUS",
    "ConflictError",
    "EnrollkitError",
    "ExpiredError",
    "InvalidTransitionError",
    "NotFoundError",
    "NotPermittedError",
    "SerializationError",
    "StorageError",
    "ValidationError",
    "a_or_an",
    "clip",
    "excerpt",
    "http_status",
]

#: How many characters of a caller's input an error message may echo (ER-1).
EXCERPT_CHARS = 40


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable rendering of untrusted input for a message (ER-1).

    Text is shown quoted with non-printable characters and lone surrogates
    escaped (so it can always be printed or encoded), and cut after *limit*
    characters with the full length named; other values show only their type.

    >>> excerpt("1234567890")
    "'1234567890'"
    >>> excerpt("9" * 2_000_000)
    "'9999999999999999999999999999999999999999'… (2000000 characters)"
    >>> print(excerpt("\\ud800x"), excerpt(None), excerpt(3))
    '\\ud800x' None an int
    """
    if value is None:
        return "None"
    if not isinstance(value, str):
        name = type(value).__name__
        return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"
    head = value[:limit]
    try:
        head.encode("utf-8")
        shown = repr(head) if head.isprintable() else ascii(head)
    except UnicodeEncodeError:  # a lone surrogate: show it escaped
        shown = ascii(head)
    if len(shown) > limit + 2:  # escapes made it longer: the echo itself stays short
        cut = shown[: limit + 1]
        backslash = cut.rfind("\\", len(cut) - 10)
        shown = (cut[:backslash] if backslash > 0 else cut) + shown[0]
    elif len(value) <= limit:
        return shown
    return f"{shown}… ({len(value)} characters)"


#: Acronym letters read with a leading vowel sound ("an NPI", "an EHR", "an MAC").
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")
#: Words whose leading vowel letter is read as a consonant ("a user", "a one-time code").
_CONSONANT_SOUND_WORDS = ("one", "uni", "use", "usu", "eu")


def a_or_an(phrase: str) -> str:
    """*phrase* with its indefinite article, for messages composed from labels.

    >>> a_or_an("Access Manager"), a_or_an("Staff End User"), a_or_an("EHR"), a_or_an("PECOS")
    ('an Access Manager', 'a Staff End User', 'an EHR', 'a PECOS')
    >>> a_or_an("active association"), a_or_an("user")
    ('an active association', 'a user')
    """
    word = phrase.split(" ", 1)[0]
    if len(word) > 1 and word.isupper():
        vowel = word[0] in _VOWEL_SOUND_LETTERS
    else:
        lower = word.lower()
        vowel = lower[:1] in ("a", "e", "i", "o", "u") and not lower.startswith(
            _CONSONANT_SOUND_WORDS
        )
    return f"{'an' if vowel else 'a'} {phrase}"


def clip(value: object, limit: int = EXCERPT_CHARS) -> str:
    """Untrusted input as a short value for an error's ``fields`` (ER-1): text cut after
    *limit* characters, lone surrogates escaped; other values by their type name.

    >>> clip("1234567890"), clip("9" * 1000)[-3:], clip(None)
    ('1234567890', '999', 'NoneType')
    """
    if not isinstance(value, str):
        return type(value).__name__
    return value[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


class EnrollkitError(Exception):
    """Root of every error enrollkit raises (Rule ER-1).

    ``code`` is stable and machine-readable, ``message`` is for people and
    ``fields`` holds the structured facts behind the refusal. Secrets are
    never placed in any of them.
    """

    #: The family's default code, used when a subclass is raised without one.
    default_code: str = "enrollkit.error"

    code: str
    message: str
    fields: Mapping[str, Any]

    def __init__(self, code: str, message: str, /, **fields: Any) -> None:
        if not code or not isinstance(code, str):
            raise TypeError("an EnrollkitError needs a non-empty string code")  # programming error
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = dict(fields)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (concurrency tests, worker pools).
        return (_rebuild, (type(self), self.code, self.message, dict(self.fields)))

    def to_dict(self) -> dict[str, Any]:
        """Return the error as JSON-ready data: ``{"code", "message", "fields"}``."""
        return {"code": self.code, "message": self.message, "fields": dict(self.fields)}


def _rebuild(
    cls: type[EnrollkitError], code: str, message: str, fields: dict[str, Any]
) -> EnrollkitError:
    return cls(code, message, **fields)


class ValidationError(EnrollkitError, ValueError):
    """Input breaks a rule: a malformed NPI, a weak password, an empty system set."""

    default_code = "validation.invalid"


class SerializationError(ValidationError):
    """Data given to the converter does not have the shape of the target type.

    ``fields["errors"]`` lists every problem with its path (``$.npi``).
    """

    default_code = "serialization.invalid"


class NotPermittedError(EnrollkitError, PermissionError):
    """The actor lacks the right to do this; ``fields`` explain what is missing (CO-8)."""

    default_code = "access.denied"


class InvalidTransitionError(EnrollkitError):
    """The aggregate's state does not allow this action (a transition table said no)."""

    default_code = "transition.invalid"


class NotFoundError(EnrollkitError, LookupError):
    """No object with that identity exists (or the actor may not know that it does)."""

    default_code = "not_found"


class ConflictError(EnrollkitError):
    """A concurrent change won: the object was saved by someone else (ST-2), or a
    uniqueness rule (such as AC-1) was hit. Reload and retry, or choose another value."""

    default_code = "conflict"


class ExpiredError(EnrollkitError):
    """A deadline passed: a PIN, a one-time code, a pending request, a response window."""

    default_code = "expired"


class StorageError(EnrollkitError):
    """The storage failed for a reason that is not the caller's; the change was not applied."""

    default_code = "storage.failure"


#: The HTTP status a web host answers for each family; the most specific family of an
#: error wins (:func:`http_status`). A storage failure is not the caller's fault: 503.
HTTP_STATUS: Final[Mapping[type[EnrollkitError], int]] = MappingProxyType(
    {
        ValidationError: 422,
        NotPermittedError: 403,
        NotFoundError: 404,
        ConflictError: 409,
        InvalidTransitionError: 409,
        ExpiredError: 410,
        StorageError: 503,
        EnrollkitError: 400,
    }
)


def http_status(error: EnrollkitError | type[EnrollkitError]) -> int:
    """The HTTP status of *error* (an error or its class): its most specific family's.

    >>> http_status(SerializationError("serialization.invalid", "Cannot read it."))
    422
    >>> http_status(ExpiredError)
    410
    """
    cls = error if isinstance(error, type) else type(error)
    for family in cls.__mro__:
        status = HTTP_STATUS.get(family)
        if status is not None:
            return status
    return 400
