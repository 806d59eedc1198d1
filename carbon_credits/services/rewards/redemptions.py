"""A citizen's redemption, from reservation to voucher: reserve (stock, claim and a ledger hold,
with a fresh voucher code), cancel by the owner, confirm by the merchant's staff; the citizen's
own redemptions. Also the steps expiry shares: the status transition, giving back stock and
claim.

Lock order: the redemption row, then the reward row, then the citizen's claim counter, then the
ledger. Redeeming starts at the reward row (its redemption does not exist yet)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.config import get_settings
from carbon_credits.domain import vouchers
from carbon_credits.domain.errors import Conflict, NotFound
from carbon_credits.domain.vocabulary import MAX_STOCK
from carbon_credits.services import ledger
from carbon_credits.services.accounts import require_verified
from carbon_credits.services.audit import record_audit
from carbon_credits.services.webhooks.payloads import emit_redemption
from carbon_credits.services.pagination import newest_first_page
from carbon_credits.services.rewards.catalogue import (available_now, live_merchants,
                                                       merchant_partner_id)
from carbon_credits.services.uow import unit_of_work
from models import Partner, Redemption, Reward, RewardClaim, User, db, utcnow

VOUCHER_ATTEMPTS = 5


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- steps shared with expiry ---------------------------------------------------------------

def transition(redemption_id: uuid.UUID, *, to: str, now: dt.datetime, **where_and_values):
    """reserved -> `to`, at most once: a conditional update on the current status."""
    extra_where = where_and_values.pop("where", ())
    values = {"status": to, f"{to}_at": now, **where_and_values}
    return db.session.execute(
        update(Redemption).where(Redemption.id == redemption_id,
                                 Redemption.status == "reserved", *extra_where)
        .values(**values).execution_options(synchronize_session=False)).rowcount == 1


def refreshed(redemption_id: uuid.UUID) -> Redemption:
    return db.session.get(Redemption, redemption_id, populate_existing=True)


def give_back(redemption: Redemption) -> None:
    """Return the unit of stock and the citizen's claim (cancel and expiry)."""
    db.session.execute(
        update(Reward).where(Reward.id == redemption.reward_id)
        .values(stock=case((Reward.stock < MAX_STOCK, Reward.stock + 1), else_=Reward.stock))
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(RewardClaim)
        .where(RewardClaim.reward_id == redemption.reward_id,
               RewardClaim.user_id == redemption.user_id, RewardClaim.live > 0)
        .values(live=RewardClaim.live - 1).execution_options(synchronize_session=False))


# --- reserving ------------------------------------------------------------------------------

def _take_claim(reward_id: uuid.UUID, user_id: uuid.UUID, limit: int) -> None:
    """Count one more live redemption for this citizen, refusing past the reward's limit.

    The conditional update serialises one citizen's concurrent redemptions on the claim row; the
    second re-reads `live` after the first commits (READ COMMITTED) and is refused if full."""
    db.session.execute(_insert()(RewardClaim).values(reward_id=reward_id, user_id=user_id, live=0)
                       .on_conflict_do_nothing(index_elements=["reward_id", "user_id"]))
    taken = db.session.execute(
        update(RewardClaim)
        .where(RewardClaim.reward_id == reward_id, RewardClaim.user_id == user_id,
               RewardClaim.live < limit)
        .values(live=RewardClaim.live + 1)
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        raise Conflict(f"You already hold this reward's limit of {limit} per citizen.",
                       code="per_citizen_limit_reached")


def _unavailable(reward_id: uuid.UUID, now: dt.datetime) -> Exception:
    """Why a reward could not be taken: gone (404), out of its window or sold out (409)."""
    reward = db.session.get(Reward, reward_id, populate_existing=True)
    if reward is None or not reward.active or db.session.scalar(
            live_merchants().where(Partner.id == reward.partner_id)) is None:
        return NotFound("Reward not found.")
    if not reward.valid_from <= now < reward.valid_until:
        return Conflict("This reward is not available at this time.", code="reward_unavailable")
    return Conflict("This reward is out of stock.", code="out_of_stock")


def _insert_with_fresh_voucher(**values) -> None:
    """Insert the redemption under a new voucher code, drawing again on a (rare) collision."""
    for _ in range(VOUCHER_ATTEMPTS):
        inserted = db.session.execute(
            _insert()(Redemption).values(voucher_code=vouchers.new_code(), **values)
            .on_conflict_do_nothing(index_elements=["voucher_code"])
            .returning(Redemption.id)).first()
        if inserted is not None:
            return
    # five collisions in a 2^50 space means something else is wrong
    raise RuntimeError("could not allocate a unique voucher code")


def redeem_reward(*, user_id: uuid.UUID, reward_id: uuid.UUID,
                  now: dt.datetime | None = None) -> Redemption:
    """Reserve a reward: one unit of stock, one claim of the citizen's limit and a ledger hold
    of its points cost, all in one transaction, with a fresh voucher code."""
    now = now or utcnow()
    with unit_of_work():
        require_verified(user_id)
        # The conditional decrement is the stock rule: concurrent redeemers queue on the row and
        # each re-checks `stock > 0` once the one before commits; stock never goes below zero.
        taken = db.session.execute(
            update(Reward).where(Reward.id == reward_id, *available_now(now))
            .values(stock=Reward.stock - 1)
            .returning(Reward.points_cost, Reward.partner_id, Reward.valid_until,
                       Reward.per_citizen_limit)
            .execution_options(synchronize_session=False)).first()
        if taken is None:
            raise _unavailable(reward_id, now)
        _take_claim(reward_id, user_id, taken.per_citizen_limit)
        redemption_id = uuid.uuid4()
        expires_at = vouchers.reservation_expires_at(now, get_settings().hold_ttl_minutes,
                                                     taken.valid_until)
        hold = ledger.reserve(user_id=user_id, amount=taken.points_cost,
                              external_ref=f"redemption:{redemption_id}",
                              redemption_id=redemption_id, expires_at=expires_at, now=now)
        _insert_with_fresh_voucher(
            id=redemption_id, reward_id=reward_id, partner_id=taken.partner_id, user_id=user_id,
            points=taken.points_cost, status="reserved", hold_id=hold.id, expires_at=expires_at,
            reserved_at=now)
        redemption = db.session.get(Redemption, redemption_id)
        record_audit(action="redemption.reserve", object_type="redemption",
                     object_id=redemption_id, actor_user_id=user_id,
                     details={"reward_id": str(reward_id), "points": taken.points_cost,
                              "hold_id": str(hold.id), "expires_at": expires_at.isoformat()})
        emit_redemption("voucher.reserved", redemption)
    return redemption


# --- the citizen's redemptions --------------------------------------------------------------

def get_redemption_or_raise(*, user_id: uuid.UUID, redemption_id: uuid.UUID) -> Redemption:
    """One of the citizen's own redemptions; anyone else's is a 404."""
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None or redemption.user_id != user_id:
        raise NotFound("Redemption not found.")
    return redemption


def list_redemptions(*, user_id: uuid.UUID, after: tuple | None, limit: int):
    query = (select(Redemption).where(Redemption.user_id == user_id)
             .order_by(Redemption.reserved_at.desc(), Redemption.id.desc()))
    return newest_first_page(query, Redemption.reserved_at, Redemption.id, after=after, limit=limit)


def cancel_redemption(*, user_id: uuid.UUID, redemption_id: uuid.UUID,
                      now: dt.datetime | None = None) -> Redemption:
    """The owner gives back a reservation: points return to available, stock to the reward."""
    now = now or utcnow()
    with unit_of_work():
        redemption = get_redemption_or_raise(user_id=user_id, redemption_id=redemption_id)
        if not transition(redemption_id, to="cancelled", now=now):
            current = refreshed(redemption_id)
            raise Conflict(f"This redemption is {current.status}; only a reserved one can be "
                           "cancelled.", code="redemption_not_reserved")
        redemption = refreshed(redemption_id)
        give_back(redemption)
        ledger.void_hold(hold_id=redemption.hold_id, now=now)
        record_audit(action="redemption.cancel", object_type="redemption",
                     object_id=redemption_id, actor_user_id=user_id,
                     details={"reward_id": str(redemption.reward_id), "points": redemption.points})
    return redemption


# --- the merchant honours a voucher ---------------------------------------------------------

def confirm_redemption(*, voucher_code: str, merchant_user: User,
                       now: dt.datetime | None = None) -> Redemption:
    """Merchant staff honour a voucher: reserved -> redeemed, the hold paid to their merchant.

    Only staff of the reward's merchant find the voucher; for everyone else it does not exist
    (404), so codes cannot be probed across merchants."""
    now = now or utcnow()
    code = vouchers.normalise(voucher_code)
    with unit_of_work():
        partner_id = merchant_partner_id(merchant_user)
        redemption_id = None if code is None else db.session.scalar(
            select(Redemption.id).where(Redemption.voucher_code == code,
                                        Redemption.partner_id == partner_id))
        if redemption_id is None:
            raise NotFound("Voucher not found.", code="voucher_not_found")
        # Not expired (vouchers.is_expired), stated in SQL: expires_at > now.
        if not transition(redemption_id, to="redeemed", now=now, confirmed_by=merchant_user.id,
                          where=(Redemption.expires_at > now,)):
            current = refreshed(redemption_id)
            if current.status == "redeemed":
                raise Conflict("This voucher has already been redeemed.", code="already_redeemed")
            if current.status == "cancelled":
                raise Conflict("This voucher was cancelled.", code="voucher_cancelled")
            raise Conflict("This voucher has expired.", code="voucher_expired")
        redemption = refreshed(redemption_id)
        ledger.post_hold(hold_id=redemption.hold_id, merchant_partner_id=partner_id, now=now)
        record_audit(action="redemption.confirm", object_type="redemption",
                     object_id=redemption_id, actor_user_id=merchant_user.id,
                     details={"reward_id": str(redemption.reward_id), "points": redemption.points,
                              "partner_id": str(partner_id)})
        emit_redemption("voucher.redeemed", redemption)
    return redemption
