"""Crediting policy as pure rules: which methodology version is in force, how much of a
reduction a daily cap lets through, and how many points a credit is worth.

The claim pipeline (`services/actions`) and the review approval both call these; nothing else
restates them. Pure: no database, no framework.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Protocol, TypeVar

from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES


class VersionWindow(Protocol):
    status: str
    effective_from: dt.datetime | None
    effective_until: dt.datetime | None


V = TypeVar("V", bound=VersionWindow)


def is_in_force(version: VersionWindow, at: dt.datetime) -> bool:
    """Approved (or retired, until its end) and `effective_from <= at < effective_until`."""
    return (version.status in IN_FORCE_STATUSES and version.effective_from is not None
            and version.effective_from <= at
            and (version.effective_until is None or at < version.effective_until))


def version_in_force(versions: Iterable[V], at: dt.datetime) -> V | None:
    """The version of one scope in force at `at`: an action of last March gets last March's
    version, even if another was approved since. Windows of one scope never overlap (the
    database refuses it), so at most one matches; the latest start wins if data were ever bad."""
    matching = [v for v in versions if is_in_force(v, at)]
    return max(matching, key=lambda v: v.effective_from, default=None)
