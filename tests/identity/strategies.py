"""Hypothesis strategies for the identity tests: passwords built to break exactly one rule.

The builders check their own output with local, independent predicates (not
the policy under test), so a property test compares two implementations.
"""

from __future__ import annotations

import re
import string

from hypothesis import strategies as st

from enrollkit.identity import IA_SPECIALS, PasswordPolicy

USER_ID = "Qxz9Kw"
FIRST_NAME = "Jo"  # two letters: too short to count (PW-8)
LAST_NAME = "Smith"

LETTERS = string.ascii_letters
DIGITS = string.digits
SPECIALS = IA_SPECIALS
ALLOWED = LETTERS + DIGITS + SPECIALS

_TRIPLE = re.compile(r"(.)\1\1", re.DOTALL)


def no_triple(password: str) -> bool:
    """No character three times in a row."""
    return _TRIPLE.search(password) is None


def free_of_identity(password: str) -> bool:
    """Neither the user ID nor the last name appears, in any case."""
    folded = password.casefold()
    return USER_ID.casefold() not in folded and LAST_NAME.casefold() not in folded


@st.composite
def built(
    draw: st.DrawFn,
    *,
    min_size: int,
    max_size: int,
    alphabet: str = ALLOWED,
    required: tuple[str, ...] = (LETTERS, DIGITS, SPECIALS),
    first: str = LETTERS + SPECIALS,
) -> str:
    """A password of min_size..max_size characters drawn from *alphabet*, containing one
    character of each *required* class, starting with a character of *first*, with no
    triple and neither the user ID nor a name."""
    size = draw(st.integers(min_size, max_size))
    head = draw(st.sampled_from(first))
    needed = [draw(st.sampled_from(chars)) for chars in required]
    filler = draw(
        st.lists(
            st.sampled_from(alphabet),
            min_size=max(size - 1 - len(needed), 0),
            max_size=max(size - 1 - len(needed), 0),
        )
    )
    body = draw(st.permutations(needed + filler))
    password = head + "".join(body)
    if not (no_triple(password) and free_of_identity(password)):
        return draw(st.nothing())
    return password


def compliant(min_size: int = 8, max_size: int = 12) -> st.SearchStrategy[str]:
    """Passwords that satisfy every I&A rule (PW-1..PW-9) for USER_ID and the names."""
    return built(min_size=min_size, max_size=max_size)


@st.composite
def inserted(draw: st.DrawFn, base: st.SearchStrategy[str], piece: st.SearchStrategy[str]) -> str:
    """*piece* inserted at a position after the first character of a *base* password."""
    password = draw(base)
    addition = draw(piece)
    at = draw(st.integers(1, len(password)))
    return password[:at] + addition + password[at:]


@st.composite
def random_case(draw: st.DrawFn, text: str) -> str:
    """*text* with each letter's case drawn."""
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


def _bad_characters() -> st.SearchStrategy[str]:
    return st.sampled_from([" ", "/", ".", ",", "é", "ß", "€", "中", "\t", '"', "'", "<", "😀"])


@st.composite
def containing(draw: st.DrawFn, word: str) -> str:
    """A password that complies except that it contains *word* (in any case)."""
    special = draw(st.sampled_from(SPECIALS))
    middle = draw(random_case(word))
    digit = draw(st.sampled_from(DIGITS))
    room = 12 - 1 - len(word) - 1
    tail = draw(st.text(alphabet=LETTERS + SPECIALS, min_size=0, max_size=max(room, 0)))
    password = special + middle + digit + tail
    if not no_triple(password) or len(password) < 8:
        return draw(st.nothing())
    return password


#: code -> a strategy of passwords breaking exactly that one rule.
SINGLE_BREACHES: dict[str, st.SearchStrategy[str]] = {
    "password.too_short": built(min_size=3, max_size=7),
    "password.too_long": built(min_size=13, max_size=40),
    "password.no_letter": built(
        min_size=8,
        max_size=12,
        alphabet=DIGITS + SPECIALS,
        required=(DIGITS, SPECIALS),
        first=SPECIALS,
    ),
    "password.no_digit": built(
        min_size=8, max_size=12, alphabet=LETTERS + SPECIALS, required=(LETTERS, SPECIALS)
    ),
    "password.no_special": built(
        min_size=8,
        max_size=12,
        alphabet=LETTERS + DIGITS,
        required=(LETTERS, DIGITS),
        first=LETTERS,
    ),
    "password.invalid_character": inserted(compliant(8, 11), _bad_characters()),
    "password.starts_with_digit": st.tuples(st.sampled_from(DIGITS), compliant(8, 11)).map("".join),
    "password.contains_user_id": containing(USER_ID),
    "password.contains_name": containing(LAST_NAME),
    "password.repeated_character": inserted(
        compliant(8, 9), st.sampled_from(LETTERS + SPECIALS).map(lambda c: c * 3)
    ),
}


@st.composite
def policies(draw: st.DrawFn) -> PasswordPolicy:
    """Consistent password policies: every rule's switch and number drawn (PW-1..PW-10)."""
    min_length = draw(st.integers(1, 12))
    max_length = draw(st.none() | st.integers(min_length, min_length + 12))
    specials = "".join(draw(st.lists(st.sampled_from(SPECIALS), min_size=1, unique=True)))
    return PasswordPolicy(
        min_length=min_length,
        max_length=max_length,
        require_letter=draw(st.booleans()),
        require_digit=draw(st.booleans()),
        require_special=draw(st.booleans()),
        specials=specials,
        restrict_characters=draw(st.booleans()),
        forbid_leading_digit=draw(st.booleans()),
        forbid_user_id=draw(st.booleans()),
        forbid_names=draw(st.booleans()),
        name_min_length=draw(st.integers(1, 5)),
        max_repeat=draw(st.none() | st.integers(1, 4)),
        history_depth=draw(st.integers(0, 3)),
    )


def candidates() -> st.SearchStrategy[str]:
    """Any text (some led by a digit), passwords that comply, and passwords that break
    one I&A rule."""
    return st.one_of(
        st.text(max_size=20),
        st.tuples(st.sampled_from(DIGITS), st.text(max_size=12)).map("".join),
        compliant(),
        st.sampled_from(sorted(SINGLE_BREACHES)).flatmap(SINGLE_BREACHES.__getitem__),
    )


@st.composite
def parts_of(draw: st.DrawFn, password: str, *usual: str) -> str:
    """One of *usual*, or a piece of *password* in a drawn case: a user ID or name the
    password may contain (PW-7, PW-8)."""
    if not password or draw(st.booleans()):
        return draw(st.sampled_from(usual))
    start = draw(st.integers(0, len(password) - 1))
    end = draw(st.integers(start + 1, len(password)))
    return draw(random_case(password[start:end]))
