"""Merchant settlement: vouchers confirmed and points redeemed per scheme day and reward, for the
merchant's staff and for admins and auditors."""
from __future__ import annotations

import collections
import datetime as dt
import uuid
import zoneinfo

from sqlalchemy import select

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import NotFound, ValidationFailed
from carbon_credits.services.rewards.catalogue import merchant_partner_id
from models import Partner, Redemption, Reward, User, db

MAX_SETTLEMENT_DAYS = 366


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


def get_partner_settlement(*, partner_id: uuid.UUID, date_from: dt.date, date_to: dt.date) -> dict:
    """Admin and auditor view of any merchant's settlement."""
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.kind != "merchant":
        raise NotFound("Merchant not found.")
    return get_settlement(partner_id=partner_id, date_from=date_from, date_to=date_to)
