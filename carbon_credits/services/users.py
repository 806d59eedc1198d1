"""User administration: roles and suspension, each change audited."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from models import ROLES, Partner, User, UserRole, db, utcnow


def get_user(user_id: uuid.UUID) -> User | None:
    return db.session.get(User, user_id)


def get_user_or_raise(user_id: uuid.UUID) -> User:
    user = get_user(user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def set_roles(*, user_id: uuid.UUID, roles: list[str], partner_id: uuid.UUID | None,
              actor_user_id: uuid.UUID) -> User:
    """Replace a user's roles. Merchant staff must name their merchant partner."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValidationFailed("roles must be a non-empty subset of " + ", ".join(ROLES),
                               errors={"roles": ["Unknown or empty role list."]})
    with unit_of_work():
        user = db.session.execute(select(User).where(User.id == user_id).with_for_update()
                                  ).scalar_one_or_none()
        if user is None:
            raise NotFound("User not found.")
        if "merchant" in roles:
            partner_id = partner_id or user.partner_id
            partner = db.session.get(Partner, partner_id) if partner_id else None
            if partner is None or partner.kind != "merchant":
                raise ValidationFailed("Merchant staff need a merchant partner_id.",
                                       errors={"partner_id": ["Must name a merchant partner."]})
            user.partner_id = partner.id
        before = sorted(user.role_names)
        user.roles = [UserRole(role=r) for r in sorted(set(roles))]
        record_audit(action="user.roles_set", object_type="user", object_id=user.id,
                     actor_user_id=actor_user_id,
                     details={"before": before, "after": sorted(set(roles)),
                              "partner_id": str(user.partner_id) if user.partner_id else None})
    return user


def set_suspended(*, user_id: uuid.UUID, suspended: bool, reason: str | None,
                  actor_user_id: uuid.UUID) -> User:
    """Suspend (tokens stop working on the next request) or reinstate a user."""
    with unit_of_work():
        user = db.session.execute(select(User).where(User.id == user_id).with_for_update()
                                  ).scalar_one_or_none()
        if user is None:
            raise NotFound("User not found.")
        if user.id == actor_user_id and suspended:
            raise Conflict("You cannot suspend yourself.", code="self_suspension")
        user.suspended_at = utcnow() if suspended else None
        record_audit(action="user.suspended" if suspended else "user.reinstated",
                     object_type="user", object_id=user.id, actor_user_id=actor_user_id,
                     details={"reason": reason})
    return user
