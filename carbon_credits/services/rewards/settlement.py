"""Merchant settlement: vouchers confirmed and points redeemed per scheme day and reward, and the
per-voucher lines they add up from, for the merchant's staff and for admins and auditors."""
from __future__ import annotations

import collections
import datetime as dt
import uuid
import zoneinfo

from sqlalchemy import func, select

from carbon_credits.config import get_settings
from carbon_credits.domain import vouchers
from carbon_credits.domain.errors import NotFound, ValidationFailed
from carbon_credits.domain.merchants import mask_holder
from carbon_credits.services.rewards.catalogue import merchant_partner_id
from carbon_credits.services.pagination import keyset_after, take_page
from models import Partner, Redemption, Reward, User, db

MAX_SETTLEMENT_DAYS = 366
# One CSV download of lines: about three months of a merchant confirming 1,000 vouchers a day.
MAX_CSV_LINES = 100_000


def settlement_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `date_from`, start of the day after `date_to`) in the scheme's time zone, UTC."""
    if date_to < date_from:
        raise ValidationFailed("`to` must not be before `from`.", errors={"to": ["Before from."]})
    if (date_to - date_from).days >= MAX_SETTLEMENT_DAYS:
        raise ValidationFailed(f"At most {MAX_SETTLEMENT_DAYS} days per settlement.",
                               errors={"to": [f"At most {MAX_SETTLEMENT_DAYS} days after from."]})
    tz = zoneinfo.ZoneInfo(get_settings().scheme_timezone)
    start = dt.datetime.combine(date_from, dt.time(), tz)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def get_settlement(*, partner_id: uuid.UUID, date_from: dt.date, date_to: dt.date) -> dict:
    """Vouchers confirmed and points redeemed per scheme day and reward for one merchant."""
    start, end = settlement_bounds(date_from, date_to)
    tz = zoneinfo.ZoneInfo(get_settings().scheme_timezone)
    rows = db.session.execute(
        select(Redemption.redeemed_at, Redemption.reward_id, Redemption.points, Reward.title)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.partner_id == partner_id, Redemption.status == "redeemed",
               Redemption.redeemed_at >= start, Redemption.redeemed_at < end)
        .execution_options(yield_per=2000))
    totals: dict = collections.defaultdict(lambda: [0, 0])
    titles: dict = {}
    for redeemed_at, reward_id, points, title in rows:
        key = (redeemed_at.astimezone(tz).date(), reward_id)
        totals[key][0] += 1
        totals[key][1] += points
        titles[reward_id] = title
    items = [{"date": day, "reward_id": reward_id, "reward_title": titles[reward_id],
              "vouchers_confirmed": count, "points_redeemed": points}
             for (day, reward_id), (count, points)
             in sorted(totals.items(), key=lambda kv: (kv[0][0], titles[kv[0][1]], str(kv[0][1])))]
    return {"partner_id": partner_id, "from": date_from, "to": date_to,
            "timezone": get_settings().scheme_timezone, "items": items,
            "total_vouchers_confirmed": sum(i["vouchers_confirmed"] for i in items),
            "total_points_redeemed": sum(i["points_redeemed"] for i in items)}


def get_merchant_settlement(*, merchant_user: User, date_from: dt.date, date_to: dt.date) -> dict:
    return get_settlement(partner_id=merchant_partner_id(merchant_user), date_from=date_from,
                          date_to=date_to)


def _known_merchant(partner_id: uuid.UUID) -> uuid.UUID:
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.kind != "merchant":
        raise NotFound("Merchant not found.")
    return partner.id


def get_partner_settlement(*, partner_id: uuid.UUID, date_from: dt.date, date_to: dt.date) -> dict:
    """Admin and auditor view of any merchant's settlement."""
    return get_settlement(partner_id=_known_merchant(partner_id), date_from=date_from,
                          date_to=date_to)


# --- per-voucher lines ----------------------------------------------------------------------

def _redeemed_in(partner_id: uuid.UUID, start: dt.datetime, end: dt.datetime) -> tuple:
    return (Redemption.partner_id == partner_id, Redemption.status == "redeemed",
            Redemption.redeemed_at >= start, Redemption.redeemed_at < end)


def _line(row) -> dict:
    return {"redemption_id": row.id, "voucher_code": vouchers.display(row.voucher_code),
            "reward_id": row.reward_id, "reward_title": row.title, "points": row.points,
            "redeemed_at": row.redeemed_at, "confirmed_by": row.confirmed_by,
            "holder": mask_holder(row.display_name)}


def _lines_query(partner_id: uuid.UUID, start: dt.datetime, end: dt.datetime):
    return (select(Redemption.id, Redemption.voucher_code, Redemption.reward_id, Reward.title,
                   Redemption.points, Redemption.redeemed_at, Redemption.confirmed_by,
                   User.display_name)
            .join(Reward, Reward.id == Redemption.reward_id)
            .join(User, User.id == Redemption.user_id)
            .where(*_redeemed_in(partner_id, start, end))
            .order_by(Redemption.redeemed_at, Redemption.id))


def get_settlement_lines(*, partner_id: uuid.UUID, date_from: dt.date, date_to: dt.date,
                         after: tuple | None = None, limit: int = 200,
                         whole_period: bool = False) -> dict:
    """One line per voucher confirmed in the period, oldest first: a page of `limit` after the
    cursor `after` (redeemed_at, id), or with `whole_period` every line (a CSV download; more
    than MAX_CSV_LINES is a 422, ask for a shorter period); and the period's totals, which the
    lines add up to."""
    start, end = settlement_bounds(date_from, date_to)
    count, points = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Redemption.points), 0))
        .where(*_redeemed_in(partner_id, start, end))).one()
    query = _lines_query(partner_id, start, end)
    if whole_period:
        if count > MAX_CSV_LINES:
            raise ValidationFailed(f"More than {MAX_CSV_LINES} lines; ask for a shorter period.",
                                   code="too_many_lines",
                                   errors={"to": [f"At most {MAX_CSV_LINES} lines at once."]})
        rows, last = db.session.execute(query.execution_options(yield_per=2000)).all(), None
    else:
        if after:
            query = query.where(keyset_after([Redemption.redeemed_at, Redemption.id], after,
                                             descending=False))
        rows, last = take_page(db.session.execute(query.limit(limit + 1)).all(), limit,
                               lambda row: (row.redeemed_at.isoformat(), row.id))
    return {"partner_id": partner_id, "from": date_from, "to": date_to,
            "timezone": get_settings().scheme_timezone, "items": [_line(r) for r in rows],
            "next_cursor": last, "total_vouchers_confirmed": count,
            "total_points_redeemed": int(points)}


def get_merchant_settlement_lines(*, merchant_user: User, **period) -> dict:
    return get_settlement_lines(partner_id=merchant_partner_id(merchant_user), **period)


def get_partner_settlement_lines(*, partner_id: uuid.UUID, **period) -> dict:
    """Admin and auditor view of any merchant's lines."""
    return get_settlement_lines(partner_id=_known_merchant(partner_id), **period)
