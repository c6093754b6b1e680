"""The boundary's generated wrapper (ER-1): the common keyword call and every other call
check the same arguments and refuse the same way."""

from __future__ import annotations

from typing import Annotated

import pytest

from enrollkit.boundary import Limit, boundary
from enrollkit.errors import ValidationError

Short = Annotated[str, Limit(chars=5)]


class Service:
    @boundary
    def greet(self, name: Short, *, times: int = 1, loud: bool = False) -> str:
        return ("HI " if loud else "hi ") * times + name


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda s: s.greet(name=7), "input.type"),
        (lambda s: s.greet(7), "input.type"),
        (lambda s: s.greet(name="abcdefg"), "input.too_long"),
        (lambda s: s.greet(nam="ana"), "input.arguments"),
        (lambda s: s.greet(times=2), "input.missing"),
        (lambda s: s.greet("ana", name="ana"), "input.arguments"),
        (lambda s: s.greet("ana", 2), "input.arguments"),
        (lambda s: s.greet(name="ana", times="2"), "input.type"),
    ],
)
def test_er_1_every_call_form_is_refused_with_a_code(call: object, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        call(Service())  # type: ignore[operator]
    assert info.value.code == code


def test_er_1_keyword_and_positional_calls_answer_alike() -> None:
    service = Service()
    assert service.greet(name="ana") == service.greet("ana") == "hi ana"
    assert service.greet(name="bo", times=2, loud=True) == "HI HI bo"
    assert service.greet("bo", loud=True) == "HI bo"
    assert Service.greet.__wrapped__(service, name="x") == "hi x"  # type: ignore[attr-defined]
    assert Service.greet.__enrollkit_boundary__ is True  # type: ignore[attr-defined]
