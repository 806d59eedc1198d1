"""A household's members: created by one citizen (its holder), joined by others with a one-time
code the holder hands them (each member consents by typing it), left at will. The holder sets
the split of the household's credit: equal, or by shares. A citizen lives in one household at a
time (a unique index), so nobody collects a share of several homes."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
import uuid

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import partners as partner_rules
from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from carbon_credits.domain.vocabulary import HOUSEHOLD_SPLITS
from carbon_credits.services import keys
from carbon_credits.services.accounts import require_verified
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from models import Household, HouseholdMember, User, db, utcnow

INVITATION_TTL = dt.timedelta(hours=24)
MAX_MEMBERS = 12


@dataclasses.dataclass(frozen=True)
class HouseholdView:
    household: Household
    members: list[tuple[HouseholdMember, str]]  # (membership, display name)


def _invitation_hash(household_id: uuid.UUID, code: str) -> str:
    return keys.keyed_hash("household-invitations", f"{household_id}:{code}")


def _current(household_id: uuid.UUID) -> list[HouseholdMember]:
    return list(db.session.scalars(
        select(HouseholdMember).where(HouseholdMember.household_id == household_id,
                                      HouseholdMember.left_at.is_(None))
        .order_by(HouseholdMember.joined_at, HouseholdMember.id)))


def _lock(household_id: uuid.UUID) -> Household:
    household = db.session.execute(select(Household).where(Household.id == household_id)
                                   .with_for_update()).scalar_one_or_none()
    if household is None:
        raise NotFound("Household not found.")
    return household


def require_member(household_id: uuid.UUID, user_id: uuid.UUID) -> HouseholdMember:
    """The citizen's current membership of the household; 404 if they are not in it."""
    member = db.session.scalar(select(HouseholdMember).where(
        HouseholdMember.household_id == household_id, HouseholdMember.user_id == user_id,
        HouseholdMember.left_at.is_(None)))
    if member is None:
        raise NotFound("Household not found.")
    return member


def _require_holder(household: Household, user_id: uuid.UUID) -> None:
    require_member(household.id, user_id)
    if household.holder_id != user_id:
        raise PermissionDenied("Only the household's holder may do this.",
                               code="not_household_holder")


def _add_member(household_id: uuid.UUID, user_id: uuid.UUID, now: dt.datetime) -> None:
    db.session.add(HouseholdMember(household_id=household_id, user_id=user_id, share=1,
                                   joined_at=now))
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("You already belong to a household; leave it first.",
                       code="already_in_household") from None


def create_household(*, user_id: uuid.UUID, name: str) -> Household:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name must not be blank.", errors={"name": ["Must not be blank."]})
    with unit_of_work():
        require_verified(user_id)
        now = utcnow()
        household = Household(id=uuid.uuid4(), name=name, holder_id=user_id,
                              split_rule="equal", created_at=now)
        db.session.add(household)
        db.session.flush()
        _add_member(household.id, user_id, now)
        record_audit(action="household.create", object_type="household", object_id=household.id,
                     actor_user_id=user_id)
    return household


def invite(*, user_id: uuid.UUID, household_id: uuid.UUID) -> tuple[str, dt.datetime]:
    """A one-time join code (shown once) for the next member; a new one replaces the last."""
    code = "".join(secrets.choice(partner_rules.CONFIRMATION_CODE_ALPHABET)
                   for _ in range(partner_rules.CONFIRMATION_CODE_LENGTH))
    with unit_of_work():
        household = _lock(household_id)
        _require_holder(household, user_id)
        household.invitation_hash = _invitation_hash(household.id, code)
        household.invitation_expires_at = utcnow() + INVITATION_TTL
        record_audit(action="household.invite", object_type="household",
                     object_id=household.id, actor_user_id=user_id)
    return code, household.invitation_expires_at


def join(*, user_id: uuid.UUID, household_id: uuid.UUID, code: str) -> Household:
    """Join with the holder's code: the citizen's consent to share the household's credit.
    A wrong or expired code changes nothing (422), and a used code is spent."""
    typed = partner_rules.normalise_confirmation_code(code or "")
    with unit_of_work():
        require_verified(user_id)
        household = _lock(household_id)
        now = utcnow()
        valid = (household.invitation_hash is not None
                 and household.invitation_expires_at > now
                 and hmac.compare_digest(household.invitation_hash,
                                         _invitation_hash(household.id, typed)))
        if not valid:
            raise ValidationFailed("The code is wrong, has expired or was already used.",
                                   code="invitation_invalid",
                                   errors={"code": ["Not valid for this household."]})
        if len(_current(household.id)) >= MAX_MEMBERS:
            raise Conflict(f"A household has at most {MAX_MEMBERS} members.",
                           code="household_full")
        household.invitation_hash = household.invitation_expires_at = None
        _add_member(household.id, user_id, now)
        record_audit(action="household.join", object_type="household", object_id=household.id,
                     actor_user_id=user_id)
    return household


def leave(*, user_id: uuid.UUID, household_id: uuid.UUID) -> None:
    """Leave now: no share of any reading credited after this instant. The holder leaves last."""
    with unit_of_work():
        household = _lock(household_id)
        member = require_member(household.id, user_id)
        if household.holder_id == user_id and len(_current(household.id)) > 1:
            raise Conflict("The holder leaves last: the others leave first.",
                           code="holder_leaves_last")
        member.left_at = utcnow()
        record_audit(action="household.leave", object_type="household", object_id=household.id,
                     actor_user_id=user_id)


def set_split(*, user_id: uuid.UUID, household_id: uuid.UUID, rule: str,
              shares: dict[uuid.UUID, int] | None) -> Household:
    """`equal`, or `shares` with a whole weight (1-100) for every current member."""
    if rule not in HOUSEHOLD_SPLITS:
        raise ValidationFailed("rule must be equal or shares.", errors={"rule": ["Unknown rule."]})
    with unit_of_work():
        household = _lock(household_id)
        _require_holder(household, user_id)
        members = _current(household.id)
        if rule == "shares":
            if shares is None or set(shares) != {m.user_id for m in members}:
                raise ValidationFailed("shares must give every current member a weight.",
                                       errors={"shares": ["One weight per current member."]})
            for member in members:
                member.share = shares[member.user_id]
        else:
            for member in members:
                member.share = 1
        household.split_rule = rule
        record_audit(action="household.split", object_type="household", object_id=household.id,
                     actor_user_id=user_id, details={"rule": rule, "shares": {
                         str(m.user_id): m.share for m in members}})
    return household


def get_my_household(*, user_id: uuid.UUID) -> HouseholdView:
    membership = db.session.scalar(select(HouseholdMember).where(
        HouseholdMember.user_id == user_id, HouseholdMember.left_at.is_(None)))
    if membership is None:
        raise NotFound("You belong to no household.")
    household = db.session.get(Household, membership.household_id)
    rows = db.session.execute(
        select(HouseholdMember, User.display_name).join(User, User.id == HouseholdMember.user_id)
        .where(HouseholdMember.household_id == household.id, HouseholdMember.left_at.is_(None))
        .order_by(HouseholdMember.joined_at, HouseholdMember.id)).all()
    return HouseholdView(household, [(m, name) for m, name in rows])


def leave_on_erasure(*, user_id: uuid.UUID, now: dt.datetime) -> None:
    """An erased citizen leaves their household; if they held it, the longest-standing
    remaining member holds it now (an empty household simply stays empty)."""
    member = db.session.scalar(select(HouseholdMember).where(
        HouseholdMember.user_id == user_id, HouseholdMember.left_at.is_(None)).with_for_update())
    if member is None:
        return
    household = _lock(member.household_id)
    member.left_at = now
    if household.holder_id == user_id:
        remaining = [m for m in _current(household.id) if m.user_id != user_id]
        if remaining:
            household.holder_id = remaining[0].user_id
        household.invitation_hash = household.invitation_expires_at = None


def members_at(household_id: uuid.UUID, instant: dt.datetime) -> list[HouseholdMember]:
    """The members at `instant` (joined at or before it, not left by then), in a fixed order."""
    return list(db.session.scalars(
        select(HouseholdMember).where(
            HouseholdMember.household_id == household_id, HouseholdMember.joined_at <= instant,
            or_(HouseholdMember.left_at.is_(None), HouseholdMember.left_at > instant))
        .order_by(HouseholdMember.user_id)))
