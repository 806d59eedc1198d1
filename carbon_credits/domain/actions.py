"""Pure rules for green actions: the action's instant, scheme days and overlap (double counting).

The crediting policy (version in force, claim window, status, daily cap, points) is in
`domain/crediting`."""
from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from carbon_credits.domain.vocabulary import grams_to_mg, mg_to_grams, scope_key  # noqa: F401 (callers read them here too)

# A time-windowed action (a trip, a charging session) happens when it ends; an `occurred_at`
# sent with it may differ from `ended_at` by at most this much (clock skew between systems).
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


def action_instant(*, occurred_at: dt.datetime | None, ended_at: dt.datetime | None) -> dt.datetime:
    """The one instant of an action: `ended_at` when it has a window, else `occurred_at`.

    The claim window, the methodology version in force, the scheme day of the daily cap and
    the overlap check all read this instant, never a sent `occurred_at` that floats free."""
    instant = ended_at if ended_at is not None else occurred_at
    if instant is None:
        raise ValueError("an action needs occurred_at or ended_at")
    return instant


def clocks_agree(*, occurred_at: dt.datetime | None, ended_at: dt.datetime | None) -> bool:
    """A sent `occurred_at` of a windowed action must be within CLOCK_TOLERANCE of `ended_at`."""
    if occurred_at is None or ended_at is None:
        return True
    return abs(occurred_at - ended_at) <= CLOCK_TOLERANCE


def scheme_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The scheme's calendar day of an instant (daily caps are per scheme day)."""
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def intervals_overlap(a_start: dt.datetime | None, a_end: dt.datetime | None,
                      b_start: dt.datetime | None, b_end: dt.datetime | None) -> bool:
    """Two trips overlap when their time windows intersect (touching ends do not count)."""
    if None in (a_start, a_end, b_start, b_end):
        return False
    return a_start < b_end and b_start < a_end


@dataclasses.dataclass(frozen=True)
class Claim:
    """Just what overlap detection needs of an existing or incoming action."""

    id: object
    channel: str
    status: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


def find_overlap(incoming: Claim, existing: list[Claim]) -> tuple[str, Claim | None]:
    """Decide what an incoming claim is against the same citizen's claims for the same scope.

    Returns ("new", None) when nothing overlaps; ("duplicate", other) when an overlapping claim
    already counts (anything credited, or an operator record); ("supersedes", other) when an
    operator record meets a citizen's pending self-report: the operator's record wins.
    """
    superseded = None
    for other in existing:
        if not intervals_overlap(incoming.started_at, incoming.ended_at, other.started_at, other.ended_at):
            continue
        if other.status == "credited" or other.channel == "partner" or incoming.channel == "app":
            return "duplicate", other
        if other.status == "pending_review" and other.channel == "app":
            superseded = superseded or other
    return ("supersedes", superseded) if superseded else ("new", None)
