"""The public totals (open data, docs/open-data.md): credited actions, reductions and points
per month and scene (or district), with small-cell suppression, from the same actions the admin
reports count (credited ones: `credited_mg` and `points`), so they reconcile to the gram.

Read on the replica when one qualifies (services/replica.py); months are scheme months."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import distinct, func, literal_column, select

from carbon_credits.domain import disclosure, metering
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.services.replica import read_session
from carbon_credits.services.reports import period_start
from models import Action

# A scene is the methodology scope; a district the action's region (NULL: none recorded).
GROUPINGS = {"scene": Action.scope_key, "district": Action.region}
MAX_MONTHS = 36
MEASURES = ("actions", "citizens", "reduction_g", "points")


def check_months(month_from: dt.date, month_to: dt.date) -> None:
    if month_to < month_from:
        raise ValidationFailed("`to` must not be before `from`.", errors={"to": ["Before from."]})
    if metering.add_months(month_from, MAX_MONTHS - 1) < month_to:
        raise ValidationFailed(f"At most {MAX_MONTHS} months.",
                               errors={"to": [f"At most {MAX_MONTHS} months after from."]})


def public_totals(*, group_by: str, month_from: dt.date, month_to: dt.date,
                  min_citizens: int) -> dict:
    """{items: one per (month, group), totals: one per month}, suppressed where too few."""
    check_months(month_from, month_to)
    last_day = metering.add_months(month_to, 1) - dt.timedelta(days=1)
    with read_session() as session:
        dialect = session.get_bind().dialect.name
        month = period_start("month", Action.scheme_day, dialect).label("month")
        group = GROUPINGS[group_by].label("grp")
        window = (Action.status == "credited", Action.scheme_day >= month_from,
                  Action.scheme_day <= last_day)
        measures = (func.count().label("actions"),
                    func.count(distinct(Action.user_id)).label("citizens"),
                    func.coalesce(func.sum(Action.credited_mg), 0).label("credited_mg"),
                    func.coalesce(func.sum(Action.points), 0).label("points"))
        cells = session.execute(select(month, group, *measures).where(*window)
                                .group_by(literal_column("month"), literal_column("grp"))
                                .order_by(literal_column("month"), literal_column("grp"))).all()
        months = session.execute(select(month, *measures).where(*window)
                                 .group_by(literal_column("month"))
                                 .order_by(literal_column("month"))).all()

        def distinct_citizens(period, groups: set[str]) -> int:
            first = _as_date(period)
            end = metering.add_months(first, 1) - dt.timedelta(days=1)
            return session.execute(select(func.count(distinct(Action.user_id))).where(
                Action.status == "credited", Action.scheme_day >= first,
                Action.scheme_day <= end, GROUPINGS[group_by].in_(groups))).scalar_one()

        items = _items(cells, min_citizens, distinct_citizens)
    totals = [_figures({"period": metering.period_text(_as_date(row.month))}, row,
                       hidden=row.citizens < min_citizens) for row in months]
    return {"period": "month", "group_by": group_by, "from": metering.period_text(month_from),
            "to": metering.period_text(month_to), "min_citizens": min_citizens,
            "items": items, "totals": totals}


def _items(cells, min_citizens: int, distinct_citizens) -> list[dict]:
    by_month: dict = {}
    for row in cells:
        by_month.setdefault(row.month, []).append(row)
    items = []
    for period, rows in by_month.items():
        hidden = disclosure.suppressed_groups(
            (disclosure.Cell(r.grp, r.actions, r.citizens, int(r.credited_mg), int(r.points))
             for r in rows), min_citizens=min_citizens,
            distinct_citizens=lambda groups, p=period: distinct_citizens(p, groups))
        for row in rows:
            items.append(_figures({"period": metering.period_text(_as_date(period)),
                                   "group": row.grp}, row, hidden=row.grp in hidden))
    return items


def _figures(item: dict, row, *, hidden: bool) -> dict:
    if hidden:
        return {**item, **dict.fromkeys(MEASURES), "suppressed": True}
    return {**item, "actions": row.actions, "citizens": row.citizens,
            "reduction_g": mg_to_grams(int(row.credited_mg)), "points": int(row.points),
            "suppressed": False}


def _as_date(value) -> dt.date:
    """The month's first day, whatever the dialect returned (a date, or text on SQLite)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value
