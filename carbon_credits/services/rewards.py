"""The rewards marketplace: merchants' catalog, citizens' redemptions (vouchers), merchant
confirmation, expiry and settlement. Rules and how each is proven: docs/rewards.md.

Lock order, the same in every use case so no two can deadlock: the redemption row, then the
reward row, then the citizen's claim counter, then the ledger (which locks the citizen's account,
then the merchant's). Redeeming starts at the reward row (its redemption does not exist yet).
"""
from __future__ import annotations

import collections
import datetime as dt
import hashlib
import uuid
import zoneinfo

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.config import get_settings
from carbon_credits.domain import vouchers
from carbon_credits.domain.errors import (Conflict, NotFound, PermissionDenied, StaleRevision,
                                          ValidationFailed)
from carbon_credits.services import ledger
from carbon_credits.services.accounts import require_verified
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import keyset_after, take_page
from carbon_credits.services.uow import unit_of_work
from models import (LedgerHold, Partner, Redemption, Reward, RewardClaim, User, db, utcnow)
from carbon_credits.domain.vocabulary import MAX_STOCK

REWARD_FIELDS = ("title", "description", "points_cost", "stock", "valid_from", "valid_until",
                 "per_citizen_limit", "active")
VOUCHER_ATTEMPTS = 5
MAX_SETTLEMENT_DAYS = 366


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------------------------
# Merchant staff and their catalog


def merchant_partner_id(user: User) -> uuid.UUID:
    """The merchant a staff user acts for; staff without one, or of a suspended or non-merchant
    partner, may do nothing here (403)."""
    partner = db.session.get(Partner, user.partner_id) if user.partner_id else None
    if partner is None or partner.kind != "merchant":
        raise PermissionDenied("Your account is not linked to a merchant.",
                               code="merchant_unbound")
    if partner.is_suspended:
        raise PermissionDenied("Your merchant is suspended.", code="merchant_suspended")
    return partner.id


def _check_window(valid_from: dt.datetime, valid_until: dt.datetime) -> None:
    if valid_until <= valid_from:
        raise ValidationFailed("valid_until must be after valid_from.",
                               errors={"valid_until": ["Must be after valid_from."]})


def create_reward(*, merchant_user: User, title: str, description: str = "", points_cost: int,
                  stock: int, valid_from: dt.datetime, valid_until: dt.datetime,
                  per_citizen_limit: int = 1, active: bool = True) -> Reward:
    """A new reward of the staff user's own merchant."""
    _check_window(valid_from, valid_until)
    with unit_of_work():
        partner_id = merchant_partner_id(merchant_user)
        now = utcnow()
        reward = Reward(id=uuid.uuid4(), partner_id=partner_id, title=title,
                        description=description, points_cost=points_cost, stock=stock,
                        valid_from=valid_from, valid_until=valid_until,
                        per_citizen_limit=per_citizen_limit, active=active, created_at=now,
                        updated_at=now)
        db.session.add(reward)
        db.session.flush()
        record_audit(action="reward.create", object_type="reward", object_id=reward.id,
                     actor_user_id=merchant_user.id,
                     details={field: _jsonable(getattr(reward, field)) for field in REWARD_FIELDS})
    return reward


def _own_reward(merchant_user: User, reward_id: uuid.UUID, *, lock: bool = False) -> Reward:
    partner_id = merchant_partner_id(merchant_user)
    query = select(Reward).where(Reward.id == reward_id, Reward.partner_id == partner_id)
    if lock:
        query = query.with_for_update()
    reward = db.session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    if reward is None:  # another merchant's reward looks exactly like a missing one
        raise NotFound("Reward not found.")
    return reward


def get_merchant_reward_or_raise(*, merchant_user: User, reward_id: uuid.UUID) -> Reward:
    return _own_reward(merchant_user, reward_id)


def reward_etag(reward: Reward) -> str:
    """Changes whenever the reward or its remaining stock changes (a redemption included)."""
    state = f"{reward.id}|{reward.stock}|{reward.updated_at.isoformat() if reward.updated_at else ''}"
    return '"' + hashlib.sha256(state.encode()).hexdigest()[:32] + '"'


def update_reward(*, merchant_user: User, reward_id: uuid.UUID, changes: dict,
                  if_match: str | None = None) -> Reward:
    """Edit one of the merchant's own rewards; `stock` sets what is left to reserve. With
    `If-Match`, an edit based on a stale read (e.g. stock taken meanwhile) is refused with 412."""
    unknown = set(changes) - set(REWARD_FIELDS)
    if unknown:
        raise ValidationFailed("Unknown fields.", errors={f: ["Unknown field."] for f in unknown})
    with unit_of_work():
        reward = _own_reward(merchant_user, reward_id, lock=True)
        if if_match is not None and if_match.strip() not in (reward_etag(reward), "*"):
            raise StaleRevision("The reward changed since you read it (stock may have been "
                                "taken); reload and retry.")
        _check_window(changes.get("valid_from", reward.valid_from),
                      changes.get("valid_until", reward.valid_until))
        before, after = {}, {}
        for field, value in changes.items():
            if getattr(reward, field) != value:
                before[field] = _jsonable(getattr(reward, field))
                after[field] = _jsonable(value)
                setattr(reward, field, value)
        if after:
            reward.updated_at = utcnow()
            record_audit(action="reward.update", object_type="reward", object_id=reward.id,
                         actor_user_id=merchant_user.id, details={"before": before, "after": after})
    return reward


def list_merchant_rewards(*, merchant_user: User, after: tuple | None, limit: int):
    partner_id = merchant_partner_id(merchant_user)
    query = (select(Reward).where(Reward.partner_id == partner_id)
             .order_by(Reward.created_at.desc(), Reward.id.desc()))
    if after:
        query = query.where(keyset_after([Reward.created_at, Reward.id], after))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda r: (r.created_at.isoformat(), r.id))


# ---------------------------------------------------------------------------------------------
# Public catalog


def _live_merchants():
    return select(Partner.id).where(Partner.kind == "merchant", Partner.suspended_at.is_(None))


def _available(now: dt.datetime):
    """Rewards a citizen can reserve right now."""
    return (Reward.active.is_(True), Reward.stock > 0, Reward.valid_from <= now,
            Reward.valid_until > now, Reward.partner_id.in_(_live_merchants()))


def list_catalog(*, after: tuple | None, limit: int, now: dt.datetime | None = None):
    """Active, in-stock, in-window rewards of active merchants, newest first."""
    query = (select(Reward).where(*_available(now or utcnow()))
             .order_by(Reward.created_at.desc(), Reward.id.desc()))
    if after:
        query = query.where(keyset_after([Reward.created_at, Reward.id], after))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda r: (r.created_at.isoformat(), r.id))


def get_catalog_reward_or_raise(reward_id: uuid.UUID) -> Reward:
    """An active reward of an active merchant (sold out or not yet open still shows)."""
    reward = db.session.scalars(select(Reward).where(
        Reward.id == reward_id, Reward.active.is_(True),
        Reward.partner_id.in_(_live_merchants()))).one_or_none()
    if reward is None:
        raise NotFound("Reward not found.")
    return reward


# ---------------------------------------------------------------------------------------------
# Redemption lifecycle


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


def _give_back(redemption: Redemption) -> None:
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


def _unavailable(reward_id: uuid.UUID, now: dt.datetime) -> Exception:
    """Why a reward could not be taken: gone (404), out of its window or sold out (409)."""
    reward = db.session.get(Reward, reward_id, populate_existing=True)
    if reward is None or not reward.active or db.session.scalar(
            _live_merchants().where(Partner.id == reward.partner_id)) is None:
        return NotFound("Reward not found.")
    if not reward.valid_from <= now < reward.valid_until:
        return Conflict("This reward is not available at this time.", code="reward_unavailable")
    return Conflict("This reward is out of stock.", code="out_of_stock")


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
            update(Reward).where(Reward.id == reward_id, *_available(now))
            .values(stock=Reward.stock - 1)
            .returning(Reward.points_cost, Reward.partner_id, Reward.valid_until,
                       Reward.per_citizen_limit)
            .execution_options(synchronize_session=False)).first()
        if taken is None:
            raise _unavailable(reward_id, now)
        _take_claim(reward_id, user_id, taken.per_citizen_limit)
        redemption_id = uuid.uuid4()
        expires_at = min(now + dt.timedelta(minutes=get_settings().hold_ttl_minutes),
                         taken.valid_until)
        hold = ledger.reserve(user_id=user_id, amount=taken.points_cost,
                              external_ref=f"redemption:{redemption_id}",
                              redemption_id=redemption_id, expires_at=expires_at, now=now)
        for _ in range(VOUCHER_ATTEMPTS):
            inserted = db.session.execute(
                _insert()(Redemption).values(
                    id=redemption_id, reward_id=reward_id, partner_id=taken.partner_id,
                    user_id=user_id, points=taken.points_cost, status="reserved",
                    voucher_code=vouchers.new_code(), hold_id=hold.id, expires_at=expires_at,
                    reserved_at=now)
                .on_conflict_do_nothing(index_elements=["voucher_code"])
                .returning(Redemption.id)).first()
            if inserted is not None:
                break
        else:  # five collisions in a 2^50 space means something else is wrong
            raise RuntimeError("could not allocate a unique voucher code")
        redemption = db.session.get(Redemption, redemption_id)
        record_audit(action="redemption.reserve", object_type="redemption",
                     object_id=redemption_id, actor_user_id=user_id,
                     details={"reward_id": str(reward_id), "points": taken.points_cost,
                              "hold_id": str(hold.id), "expires_at": expires_at.isoformat()})
    return redemption


def _transition(redemption_id: uuid.UUID, *, to: str, now: dt.datetime, **where_and_values):
    """reserved -> `to`, at most once: a conditional update on the current status."""
    extra_where = where_and_values.pop("where", ())
    values = {"status": to, f"{to}_at": now, **where_and_values}
    return db.session.execute(
        update(Redemption).where(Redemption.id == redemption_id,
                                 Redemption.status == "reserved", *extra_where)
        .values(**values).execution_options(synchronize_session=False)).rowcount == 1


def _refreshed(redemption_id: uuid.UUID) -> Redemption:
    return db.session.get(Redemption, redemption_id, populate_existing=True)


def get_redemption_or_raise(*, user_id: uuid.UUID, redemption_id: uuid.UUID) -> Redemption:
    """One of the citizen's own redemptions; anyone else's is a 404."""
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None or redemption.user_id != user_id:
        raise NotFound("Redemption not found.")
    return redemption


def list_redemptions(*, user_id: uuid.UUID, after: tuple | None, limit: int):
    query = (select(Redemption).where(Redemption.user_id == user_id)
             .order_by(Redemption.reserved_at.desc(), Redemption.id.desc()))
    if after:
        query = query.where(keyset_after([Redemption.reserved_at, Redemption.id], after))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda r: (r.reserved_at.isoformat(), r.id))


def cancel_redemption(*, user_id: uuid.UUID, redemption_id: uuid.UUID,
                      now: dt.datetime | None = None) -> Redemption:
    """The owner gives back a reservation: points return to available, stock to the reward."""
    now = now or utcnow()
    with unit_of_work():
        redemption = get_redemption_or_raise(user_id=user_id, redemption_id=redemption_id)
        if not _transition(redemption_id, to="cancelled", now=now):
            current = _refreshed(redemption_id)
            raise Conflict(f"This redemption is {current.status}; only a reserved one can be "
                           "cancelled.", code="redemption_not_reserved")
        redemption = _refreshed(redemption_id)
        _give_back(redemption)
        ledger.void_hold(hold_id=redemption.hold_id, now=now)
        record_audit(action="redemption.cancel", object_type="redemption",
                     object_id=redemption_id, actor_user_id=user_id,
                     details={"reward_id": str(redemption.reward_id), "points": redemption.points})
    return redemption


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
        if not _transition(redemption_id, to="redeemed", now=now, confirmed_by=merchant_user.id,
                           where=(Redemption.expires_at > now,)):
            current = _refreshed(redemption_id)
            if current.status == "redeemed":
                raise Conflict("This voucher has already been redeemed.", code="already_redeemed")
            if current.status == "cancelled":
                raise Conflict("This voucher was cancelled.", code="voucher_cancelled")
            raise Conflict("This voucher has expired.", code="voucher_expired")
        redemption = _refreshed(redemption_id)
        ledger.post_hold(hold_id=redemption.hold_id, merchant_partner_id=partner_id, now=now)
        record_audit(action="redemption.confirm", object_type="redemption",
                     object_id=redemption_id, actor_user_id=merchant_user.id,
                     details={"reward_id": str(redemption.reward_id), "points": redemption.points,
                              "partner_id": str(partner_id)})
    return redemption


def release_expired_reservations(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Expire reservations past `expires_at`: hold released, stock and claim returned. Each in
    its own transaction (the lock order of a cancel); safe on several workers at once: a row
    another worker holds is skipped, and the conditional update lets each expire only once."""
    now = now or utcnow()
    due = list(db.session.scalars(
        select(Redemption.id).where(Redemption.status == "reserved", Redemption.expires_at <= now)
        .order_by(Redemption.expires_at).limit(batch)))
    released = 0
    for redemption_id in due:
        with unit_of_work():
            lock = select(Redemption.id).where(Redemption.id == redemption_id,
                                               Redemption.status == "reserved")
            if _is_postgres() and db.session.scalar(lock.with_for_update(skip_locked=True)) is None:
                continue
            if not _transition(redemption_id, to="expired", now=now,
                               where=(Redemption.expires_at <= now,)):
                continue
            redemption = _refreshed(redemption_id)
            _give_back(redemption)
            ledger.void_hold(hold_id=redemption.hold_id, expired=True, now=now)
            record_audit(action="redemption.expire", object_type="redemption",
                         object_id=redemption_id, actor_user_id=None,
                         details={"reward_id": str(redemption.reward_id),
                                  "points": redemption.points})
            released += 1
    return released


def cancel_open_redemptions(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> int:
    """Erasure (DELETE /me): cancel every reserved voucher of the citizen (overdue ones expire
    instead), inside the caller's unit of work; returns how many. Several at once keep the lock
    order of a single cancel: all the redemption rows (by id), then the rewards and claims, then
    the ledger. One a merchant confirmed first stays redeemed (the conditional update lets
    exactly one win); one reserved meanwhile leaves points reserved, which the caller detects."""
    now = now or utcnow()
    with unit_of_work():
        query = (select(Redemption.id).where(Redemption.user_id == user_id,
                                             Redemption.status == "reserved")
                 .order_by(Redemption.id))
        if _is_postgres():
            query = query.with_for_update()
        closed = []
        for redemption_id in list(db.session.scalars(query)):
            redemption = _refreshed(redemption_id)
            to = "expired" if redemption.expires_at <= now else "cancelled"
            if _transition(redemption_id, to=to, now=now):
                closed.append((_refreshed(redemption_id), to))
        for redemption, _ in sorted(closed, key=lambda c: (str(c[0].reward_id), str(c[0].id))):
            _give_back(redemption)
        for redemption, to in closed:
            ledger.void_hold(hold_id=redemption.hold_id, expired=to == "expired", now=now)
            record_audit(action="redemption.cancel" if to == "cancelled" else "redemption.expire",
                         object_type="redemption", object_id=redemption.id,
                         actor_user_id=user_id if to == "cancelled" else None,
                         details={"reward_id": str(redemption.reward_id),
                                  "points": redemption.points})
    return len(closed)


# ---------------------------------------------------------------------------------------------
# Settlement


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


# ---------------------------------------------------------------------------------------------
# Invariants (run by `ledger verify` and after every test)


def check_rewards() -> list[str]:
    """Claim counters match live redemptions; every redemption's hold agrees with its status."""
    problems = []
    live = dict(((r, u), n) for r, u, n in db.session.execute(
        select(Redemption.reward_id, Redemption.user_id, func.count())
        .where(Redemption.status.in_(("reserved", "redeemed")))
        .group_by(Redemption.reward_id, Redemption.user_id)).all())
    for reward_id, user_id, count in db.session.execute(
            select(RewardClaim.reward_id, RewardClaim.user_id, RewardClaim.live)).all():
        if live.pop((reward_id, user_id), 0) != count:
            problems.append(f"reward {reward_id}: claim counter of user {user_id} is {count}, "
                            f"live redemptions differ")
    for (reward_id, user_id), count in live.items():
        problems.append(f"reward {reward_id}: {count} live redemptions of user {user_id} "
                        f"without a claim counter")
    allowed = {"reserved": ("pending", "expired"), "redeemed": ("posted",),
               "cancelled": ("voided",), "expired": ("expired", "voided")}
    for rid, status, points, hold_status, hold_amount in db.session.execute(
            select(Redemption.id, Redemption.status, Redemption.points, LedgerHold.status,
                   LedgerHold.amount).join(LedgerHold, LedgerHold.id == Redemption.hold_id)):
        if hold_status not in allowed[status] or hold_amount != points:
            problems.append(f"redemption {rid} ({status}, {points} points): hold is "
                            f"{hold_status} for {hold_amount}")
    return problems

