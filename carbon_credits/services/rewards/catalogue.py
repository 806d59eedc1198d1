"""Rewards and who may offer them: merchant staff's own catalogue (create, edit with ETags,
list) and the public catalogue of rewards a citizen can reserve now."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from carbon_credits.domain.merchants import reward_category, reward_image_url
from carbon_credits.domain.errors import NotFound, PermissionDenied, StaleRevision, ValidationFailed
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import newest_first_page
from carbon_credits.services.uow import unit_of_work
from models import Partner, Reward, User, db, utcnow

REWARD_FIELDS = ("title", "description", "points_cost", "stock", "valid_from", "valid_until",
                 "per_citizen_limit", "active", "category", "image_url")
# How each field a merchant sends is checked and stored (None: as the HTTP schema loaded it).
_FIELD_RULES = {"category": reward_category, "image_url": reward_image_url}


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


# --- merchant staff and their catalogue -----------------------------------------------------

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


def _checked(changes: dict) -> dict:
    return {field: _FIELD_RULES[field](value) if field in _FIELD_RULES else value
            for field, value in changes.items()}


def create_reward(*, merchant_user: User, title: str, description: str = "", points_cost: int,
                  stock: int, valid_from: dt.datetime, valid_until: dt.datetime,
                  per_citizen_limit: int = 1, active: bool = True, category: str | None = None,
                  image_url: str | None = None) -> Reward:
    """A new reward of the staff user's own merchant."""
    _check_window(valid_from, valid_until)
    category, image_url = reward_category(category), reward_image_url(image_url)
    with unit_of_work():
        partner_id = merchant_partner_id(merchant_user)
        now = utcnow()
        reward = Reward(id=uuid.uuid4(), partner_id=partner_id, title=title,
                        description=description, points_cost=points_cost, stock=stock,
                        valid_from=valid_from, valid_until=valid_until,
                        per_citizen_limit=per_citizen_limit, active=active, category=category,
                        image_url=image_url, created_at=now, updated_at=now)
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
    changes = _checked(changes)
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
             .options(joinedload(Reward.merchant, innerjoin=True))
             .order_by(Reward.created_at.desc(), Reward.id.desc()))
    return newest_first_page(query, Reward.created_at, Reward.id, after=after, limit=limit)


# --- public catalogue -----------------------------------------------------------------------

def live_merchants():
    """Ids of merchants not suspended (a subquery)."""
    return select(Partner.id).where(Partner.kind == "merchant", Partner.suspended_at.is_(None))


def available_now(now: dt.datetime):
    """Rewards a citizen can reserve right now."""
    return (Reward.active.is_(True), Reward.stock > 0, Reward.valid_from <= now,
            Reward.valid_until > now, Reward.partner_id.in_(live_merchants()))


def list_catalog(*, after: tuple | None, limit: int, now: dt.datetime | None = None,
                 category: str | None = None):
    """Active, in-stock, in-window rewards of active merchants, newest first, with their
    merchant's name (one query); `category` narrows to one category."""
    query = select(Reward).where(*available_now(now or utcnow()))
    if category is not None:
        query = query.where(Reward.category == reward_category(category))
    query = (query.options(joinedload(Reward.merchant, innerjoin=True))
             .order_by(Reward.created_at.desc(), Reward.id.desc()))
    return newest_first_page(query, Reward.created_at, Reward.id, after=after, limit=limit)


def get_catalog_reward_or_raise(reward_id: uuid.UUID) -> Reward:
    """An active reward of an active merchant (sold out or not yet open still shows)."""
    reward = db.session.scalars(select(Reward).where(
        Reward.id == reward_id, Reward.active.is_(True),
        Reward.partner_id.in_(live_merchants()))
        .options(joinedload(Reward.merchant, innerjoin=True))).one_or_none()
    if reward is None:
        raise NotFound("Reward not found.")
    return reward
