"""check_types checks through Struct mirrors of the TypedDicts: same verdicts, same messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Required, TypedDict

import msgspec
import pytest

from bridgekit.exceptions import MalformedDelivery
from bridgekit.payloads import _checker, check_types


class Inner(TypedDict):
    x: float
    y: NotRequired[bool]


class Outer(TypedDict, total=False):
    a: Required[int]
    b: Annotated[int, msgspec.Meta(ge=0)]
    c: Literal["x", "y"]
    d: Any
    e: int | str | None
    f: list[dict[str, Any]]
    g: Inner
    h: list[Inner]
    # Keys that are not Python identifiers are fields too.
    class_: str


CASES: list[Any] = [
    {"a": 1},
    {"a": 1, "unknown": object()},
    {},
    {"a": "1"},
    {"a": True},
    {"a": 1, "b": -1},
    {"a": 1, "c": "z"},
    {"a": 1, "d": {"anything": [1, None]}},
    {"a": 1, "e": None},
    {"a": 1, "e": 1.5},
    {"a": 1, "f": [{"k": 1}, 2]},
    {"a": 1, "g": {"x": 1}},
    {"a": 1, "g": {"y": True}},
    {"a": 1, "g": {"x": 1.0, "y": "no"}},
    {"a": 1, "h": [{"x": 1.0}, {"x": None}]},
    {"a": 1, "g": None},
    [],
    "text",
]


@pytest.mark.parametrize("data", CASES)
def test_the_mirror_gives_the_typeddicts_verdict_and_message(data: Any) -> None:
    mirror = _checker(Outer)
    assert mirror is not Outer

    def verdict(schema: Any) -> str:
        try:
            msgspec.convert(data, schema)
        except msgspec.ValidationError as exc:
            return str(exc)
        return "ok"

    assert verdict(mirror) == verdict(Outer)


def test_a_schema_msgspec_cannot_mirror_is_checked_as_it_is() -> None:
    class A(TypedDict):
        a: int

    class B(TypedDict):
        b: int

    schema: Any = list[A | B]  # two object types in one union: no Struct mirror
    assert _checker(schema) is schema


def test_check_types_names_the_field() -> None:
    with pytest.raises(MalformedDelivery, match=r"\$\.g\.x"):
        check_types({"a": 1, "g": {"x": "1"}}, Outer, "Test")
