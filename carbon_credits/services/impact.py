"""A citizen's own impact: totals by action type, this month against last, and equivalents.

The impact page's aggregate may be read on the read replica (services/replica.py): it tolerates
seconds of lag, unlike the balance."""
from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

from sqlalchemy import and_, case, func, select

from carbon_credits.config import get_settings
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.domain.impact import equivalents_for
from carbon_credits.domain.vocabulary import ACTION_TYPES
from carbon_credits.services.replica import read_session
from models import Action, db, utcnow


def month_bounds(today: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """(first day of last month, first day of this month, first day of next month)."""
    this_start = today.replace(day=1)
    last_start = (this_start - dt.timedelta(days=1)).replace(day=1)
    next_start = (this_start + dt.timedelta(days=32)).replace(day=1)
    return last_start, this_start, next_start


def get_total_reduction_g(*, user_id: uuid.UUID):
    """Lifetime credited reduction (grams, 3 decimals) of the citizen's credited actions."""
    total = db.session.scalar(select(func.coalesce(func.sum(Action.credited_mg), 0))
                              .where(Action.user_id == user_id, Action.status == "credited"))
    return mg_to_grams(int(total))


def get_impact(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> dict:
    """Credited reduction and points by action type, this month vs last (scheme time zone)."""
    settings = get_settings()
    today = (now or utcnow()).astimezone(zoneinfo.ZoneInfo(settings.scheme_timezone)).date()
    last_start, this_start, next_start = month_bounds(today)

    def within(start, end, column):
        return func.coalesce(func.sum(case((and_(Action.scheme_day >= start,
                                                  Action.scheme_day < end), column), else_=0)), 0)

    with read_session() as session:
        rows = session.execute(
            select(Action.action_type, func.count().label("actions"),
                   func.coalesce(func.sum(Action.credited_mg), 0).label("credited_mg"),
                   func.coalesce(func.sum(Action.points), 0).label("points"),
                   within(this_start, next_start, Action.credited_mg).label("this_mg"),
                   within(this_start, next_start, 1).label("this_actions"),
                   within(last_start, this_start, Action.credited_mg).label("last_mg"),
                   within(last_start, this_start, 1).label("last_actions"))
            .where(Action.user_id == user_id, Action.status == "credited")
            .group_by(Action.action_type)).mappings().all()
    found = {row["action_type"]: {k: int(v) for k, v in row.items() if k != "action_type"}
             for row in rows}
    zero = dict.fromkeys(("actions", "credited_mg", "points", "this_mg", "this_actions",
                          "last_mg", "last_actions"), 0)
    by_type = [{"action_type": t, **found.get(t, zero)} for t in ACTION_TYPES]
    total = {k: sum(item[k] for item in by_type) for k in zero}
    this_g, last_g = mg_to_grams(total["this_mg"]), mg_to_grams(total["last_mg"])
    return {
        "timezone": settings.scheme_timezone,
        "total": {"actions": total["actions"], "reduction_g": mg_to_grams(total["credited_mg"]),
                  "points": total["points"]},
        "by_action_type": [{"action_type": item["action_type"], "actions": item["actions"],
                            "reduction_g": mg_to_grams(item["credited_mg"]),
                            "points": item["points"],
                            "this_month_g": mg_to_grams(item["this_mg"]),
                            "last_month_g": mg_to_grams(item["last_mg"])} for item in by_type],
        "this_month": {"month": this_start.strftime("%Y-%m"), "actions": total["this_actions"],
                       "reduction_g": this_g},
        "last_month": {"month": last_start.strftime("%Y-%m"), "actions": total["last_actions"],
                       "reduction_g": last_g},
        "change_g": this_g - last_g,
        "equivalents": equivalents_for(mg_to_grams(total["credited_mg"])),
    }
