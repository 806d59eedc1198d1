"""What a merchant's staff see at the till: one of their vouchers before they confirm it, and the
vouchers they confirmed today. Read-only: nothing here writes, locks or audits.

A voucher is found exactly as `confirm_redemption` finds it (vouchers.normalise, then the
canonical code within the staff member's own merchant), so the desk never shows a voucher the
confirmation would not reach, and another merchant's voucher is as unknown as a made-up code."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from carbon_credits.config import get_settings
from carbon_credits.domain import vouchers
from carbon_credits.domain.actions import scheme_day
from carbon_credits.domain.errors import NotFound, ValidationFailed
from carbon_credits.domain.merchants import mask_holder
from carbon_credits.services.rewards.catalogue import merchant_partner_id
from carbon_credits.services.rewards.settlement import get_settlement, settlement_bounds
from models import Redemption, User, db, utcnow

TODAY_LIMIT = 200
MALFORMED = "Not a voucher code (10 characters, e.g. ABCDE-12345)."
# Why confirm_redemption would refuse a voucher: its 409 codes and messages, told before trying.
REFUSALS = {
    "already_redeemed": "This voucher has already been redeemed.",
    "voucher_cancelled": "This voucher was cancelled.",
    "voucher_expired": "This voucher has expired.",
}


def refusal_of(redemption: Redemption, now: dt.datetime) -> str | None:
    """The code confirm_redemption would refuse this voucher with right now, or None."""
    if redemption.status == "redeemed":
        return "already_redeemed"
    if redemption.status == "cancelled":
        return "voucher_cancelled"
    # A reservation past its expires_at is expired before the expiry job marks it so.
    if redemption.status == "expired" or vouchers.is_expired(redemption.expires_at, now):
        return "voucher_expired"
    return None


def lookup_voucher(*, voucher_code: str, merchant_user: User,
                   now: dt.datetime | None = None) -> dict:
    """One of the merchant's vouchers as the till shows it: reward, points, status, valid until,
    the holder masked, and whether it can be confirmed now (if not, why)."""
    now = now or utcnow()
    code = vouchers.normalise(voucher_code)
    if code is None:
        raise ValidationFailed(MALFORMED, errors={"voucher_code": [MALFORMED]})
    partner_id = merchant_partner_id(merchant_user)
    found = db.session.execute(
        select(Redemption, User.display_name).join(User, User.id == Redemption.user_id)
        .where(Redemption.voucher_code == code, Redemption.partner_id == partner_id)).first()
    if found is None:
        raise NotFound("Voucher not found.", code="voucher_not_found")
    redemption, holder_name = found
    refusal = refusal_of(redemption, now)
    return {
        "id": redemption.id, "voucher_code": vouchers.display(redemption.voucher_code),
        "reward_id": redemption.reward_id, "reward_title": redemption.reward.title,
        "points": redemption.points, "status": redemption.status,
        "holder": mask_holder(holder_name), "expires_at": redemption.expires_at,
        "reserved_at": redemption.reserved_at, "redeemed_at": redemption.redeemed_at,
        "confirmable": refusal is None, "refusal_code": refusal,
        "refusal_detail": REFUSALS.get(refusal),
    }


def list_confirmed_today(*, merchant_user: User, now: dt.datetime | None = None,
                         limit: int = TODAY_LIMIT) -> dict:
    """The vouchers the merchant confirmed today (the scheme's day), newest first, at most
    `limit` of them; the day's totals are the settlement's, so the two always agree."""
    partner_id = merchant_partner_id(merchant_user)
    today = scheme_day(now or utcnow(), get_settings().scheme_timezone)
    start, end = settlement_bounds(today, today)
    rows = db.session.scalars(
        select(Redemption)
        .where(Redemption.partner_id == partner_id, Redemption.status == "redeemed",
               Redemption.redeemed_at >= start, Redemption.redeemed_at < end)
        .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc()).limit(limit)).all()
    totals = get_settlement(partner_id=partner_id, date_from=today, date_to=today)
    return {
        "date": today,
        "items": [{"voucher_code": vouchers.display(r.voucher_code),
                   "reward_title": r.reward.title, "points": r.points,
                   "redeemed_at": r.redeemed_at} for r in rows],
        "total_vouchers_confirmed": totals["total_vouchers_confirmed"],
        "total_points_redeemed": totals["total_points_redeemed"],
    }
