"""Daily check-ins, streaks, levels and badges (docs/engagement.md).

A check-in is one row per citizen per scheme day (the primary key): a second one that day
changes nothing. It earns nothing by itself; only a `check_in_streak` campaign pays for a run
of them, through a claim. Levels and badges are computed on read from the citizen's credited
actions: nothing is stored that could drift from them.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import and_, func, select

from carbon_credits.domain import engagement as rules
from carbon_credits.services.ledger.core import dialect_insert
from carbon_credits.services.leaderboards import scheme_today
from carbon_credits.services.uow import unit_of_work
from models import Action, CheckIn, db, utcnow


@dataclasses.dataclass(frozen=True)
class CheckInResult:
    day: dt.date
    created: bool           # False: the citizen had checked in that day already
    current_streak: int
    longest_streak: int


def check_in(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> CheckInResult:
    """Check in for today (scheme day); idempotent within the day."""
    now = now or utcnow()
    today = scheme_today(now)
    with unit_of_work():
        inserted = db.session.execute(
            dialect_insert()(CheckIn.__table__)
            .values(user_id=user_id, day=today, created_at=now)
            .on_conflict_do_nothing(index_elements=["user_id", "day"])
            .returning(CheckIn.day)).first() is not None
        days = _check_in_days(user_id)
    return CheckInResult(day=today, created=inserted,
                         current_streak=rules.current_streak(days, today=today),
                         longest_streak=rules.longest_streak(days))


def _check_in_days(user_id: uuid.UUID) -> list[dt.date]:
    return list(db.session.scalars(select(CheckIn.day).where(CheckIn.user_id == user_id)))


def _action_facts(user_id: uuid.UUID):
    credited = (Action.user_id == user_id, Action.status == "credited")
    metro = and_(Action.action_type == "transit", Action.mode == "metro")
    totals = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Action.credited_mg), 0),
               func.count().filter(metro)).where(*credited)).one()
    days = list(db.session.scalars(select(Action.scheme_day).where(*credited).distinct()))
    return totals, days


def get_achievements(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> dict:
    """Level, badges and streaks, from the citizen's credited actions and check-ins."""
    today = scheme_today(now)
    (count, lifetime_mg, metro), action_days = _action_facts(user_id)
    check_in_days = _check_in_days(user_id)
    facts = rules.AchievementFacts(
        credited_actions=count, lifetime_mg=int(lifetime_mg), metro_trips=metro,
        longest_action_streak=rules.longest_streak(action_days),
        longest_check_in_streak=rules.longest_streak(check_in_days))
    return {"lifetime_mg": facts.lifetime_mg, "credited_actions": count,
            "level": rules.level_for(facts.lifetime_mg), "badges": rules.badges(facts),
            "action_streak": {"current": rules.current_streak(action_days, today=today),
                              "longest": facts.longest_action_streak},
            "check_in_streak": {"current": rules.current_streak(check_in_days, today=today),
                                "longest": facts.longest_check_in_streak},
            "checked_in_today": today in set(check_in_days)}
