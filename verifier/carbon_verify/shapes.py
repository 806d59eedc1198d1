"""The fields a document must have, as small composable checks: each takes a value and its
path and returns what is wrong with it (nothing when it is fine)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from carbon_verify.encoding import is_hex64

Shape = Callable[[Any, str], list[str]]


def integer(minimum: int | None = None) -> Shape:
    def check(value: Any, path: str) -> list[str]:
        if type(value) is not int:
            return [f"{path} is not an integer"]
        if minimum is not None and value < minimum:
            return [f"{path} is {value}, below {minimum}"]
        return []
    return check


def text(value: Any, path: str) -> list[str]:
    return [] if isinstance(value, str) else [f"{path} is not a string"]


def hex64(value: Any, path: str) -> list[str]:
    return [] if is_hex64(value) else [f"{path} is not a SHA-256 hash (64 lower-case hex digits)"]


def json_object(value: Any, path: str) -> list[str]:
    return [] if isinstance(value, dict) else [f"{path} is not an object"]


def anything(value: Any, path: str) -> list[str]:
    return []


def optional(shape: Shape) -> Shape:
    def check(value: Any, path: str) -> list[str]:
        return [] if value is None else shape(value, path)
    return check


def list_of(shape: Shape) -> Shape:
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path} is not a list"]
        return [problem for index, item in enumerate(value) for problem in shape(item, f"{path}[{index}]")]
    return check


def record(members: dict[str, Shape]) -> Shape:
    """An object with at least these members (more are allowed: later versions may add some)."""
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path} is not an object"]
        problems = []
        for name, shape in members.items():
            if name not in value:
                problems.append(f"{path}.{name} is missing")
            else:
                problems.extend(shape(value[name], f"{path}.{name}"))
        return problems
    return check


METHODOLOGY = record({"code": text, "version": integer(1)})
PERIOD = record({"from": text, "to": text})
