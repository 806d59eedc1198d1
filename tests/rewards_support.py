"""Helpers shared by the rewards tests (HTTP, integration and races)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

UTC = dt.timezone.utc
REWARDS = "/api/v1/merchant/rewards"
REDEMPTIONS = "/api/v1/redemptions"
CONFIRM = "/api/v1/merchant/redemptions/confirm"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def merchant(actors):
    """A merchant partner and one of its staff."""
    partner = actors.partner("merchant")
    return partner, actors.user("merchant", partner_id=partner.id)


def reward_body(**overrides) -> dict:
    body = {"title": "Oat latte", "description": "One medium oat latte", "points_cost": 100,
            "stock": 10, "valid_from": iso(now() - dt.timedelta(hours=1)),
            "valid_until": iso(now() + dt.timedelta(days=30)), "per_citizen_limit": 1}
    body.update(overrides)
    return body


def create_reward(client, staff, **overrides) -> dict:
    r = client.post(REWARDS, json=reward_body(**overrides), headers=staff.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def give_points(app, user_ids, amount: int) -> None:
    from carbon_credits.services import ledger
    from carbon_credits.services.ledger import EarnEntry
    from models import db
    with app.app_context():
        ledger.post_earns([EarnEntry(user_id=uid, amount=amount, external_ref=f"test:{uuid.uuid4()}",
                                     action_id=None, reason="action_credited", event_time=now())
                           for uid in user_ids])
        db.session.remove()


def citizen_with_points(actors, app, points: int = 1000):
    citizen = actors.user("citizen")
    give_points(app, [citizen.id], points)
    return citizen


def balance(app, user_id):
    from carbon_credits.services import ledger
    from models import db
    with app.app_context():
        result = ledger.get_balance(user_id=user_id)
        db.session.remove()
    return result.available, result.reserved


def merchant_balance(app, partner_id) -> int:
    from models import LedgerAccount, db
    with app.app_context():
        value = db.session.scalar(select(LedgerAccount.balance)
                                  .where(LedgerAccount.partner_id == partner_id))
        db.session.remove()
    return value or 0


def reward_row(app, reward_id):
    from models import Reward, db
    with app.app_context():
        row = db.session.get(Reward, uuid.UUID(str(reward_id)))
        values = {"stock": row.stock, "active": row.active, "title": row.title}
        db.session.remove()
    return values


def redemption_row(app, redemption_id):
    from models import Redemption, db
    with app.app_context():
        row = db.session.get(Redemption, uuid.UUID(str(redemption_id)))
        values = {"status": row.status, "hold_id": row.hold_id, "points": row.points,
                  "voucher_code": row.voucher_code}
        db.session.remove()
    return values


def backdate_reservations(app, seconds: int = 60) -> None:
    """Move every live reservation (and its hold) `seconds` into the past, as if time passed."""
    from sqlalchemy import update
    from models import LedgerHold, Redemption, db
    past = now() - dt.timedelta(seconds=seconds)
    with app.app_context():
        hold_ids = list(db.session.scalars(select(Redemption.hold_id)
                                           .where(Redemption.status == "reserved")))
        db.session.execute(update(Redemption).where(Redemption.status == "reserved")
                           .values(expires_at=past))
        db.session.execute(update(LedgerHold).where(LedgerHold.id.in_(hold_ids))
                           .values(expires_at=past))
        db.session.commit()
        db.session.remove()
