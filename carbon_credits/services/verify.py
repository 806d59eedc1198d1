"""System-wide invariant checks (`flask ledger verify`, the admin verify endpoint, test teardown).

Each checker returns a list of problem strings; modules register theirs in CHECKERS.
"""
from __future__ import annotations

from typing import Callable

CHECKERS: list[Callable[[], list[str]]] = []


def verify_all() -> list[str]:
    problems: list[str] = []
    for check in CHECKERS:
        problems.extend(check())
    return problems
