"""A merchant's staff, managed by the merchant's own lead (docs/merchants.md): list them, add a
staff account for the lead's merchant, suspend, reinstate or remove one. An admin makes (and
unmakes) a lead. Each change is audited in its unit of work.

What a lead can never do (domain/merchants.py, `lead_may_manage`): touch anyone outside their
merchant (404, as if unknown), themselves, another lead, or an account holding admin, auditor or
verifier; give any role but `merchant`, or a merchant but their own (the add takes no role and
no partner). Suspending or removing someone revokes their sessions at once, so their tokens and
console cookie stop working on the next request.

Lock order: the lead's and the staff member's user rows together, in id order (so two leads
acting on each other at once cannot deadlock); adding staff holds the lead's row shared."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from carbon_credits.domain.merchants import lead_may_manage
from carbon_credits.domain.vocabulary import PRIVILEGED_ROLES
from carbon_credits.services import auth
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import newest_first_page
from carbon_credits.services.rewards.catalogue import merchant_partner_id
from carbon_credits.services.sessions import revoke_user_sessions
from carbon_credits.services.uow import unit_of_work
from models import User, UserRole, db, utcnow

OBJECT = "user"
_REFUSALS = {
    "self_management": (Conflict, "Leads do not change their own staff account; ask an admin."),
    "lead_managed_by_admin": (PermissionDenied, "Another lead is managed by an admin."),
    "privileged_target": (PermissionDenied, "This account holds a scheme role; only an admin "
                                            "manages it."),
}


def _lead_partner_id(lead: User) -> uuid.UUID:
    """The lead's merchant; 403 `lead_required` for staff who are not its lead."""
    partner_id = merchant_partner_id(lead)
    if not lead.merchant_lead or "merchant" not in lead.role_names:
        raise PermissionDenied("Only your merchant's lead manages its staff.",
                               code="lead_required")
    return partner_id


def _current_lead(lead_user_id: uuid.UUID, *, lock: bool = False) -> tuple[User, uuid.UUID]:
    """The lead as committed now; `lock` holds their row (FOR SHARE) until the unit of work ends,
    so an admin cannot unmake them halfway through what they do as lead."""
    query = select(User).where(User.id == lead_user_id)
    if lock:
        query = query.with_for_update(read=True)
    lead = db.session.execute(query.execution_options(populate_existing=True)).scalar_one()
    return lead, _lead_partner_id(lead)


def _lock_lead_and_staff(lead_user_id: uuid.UUID, staff_user_id: uuid.UUID):
    """Both rows locked in id order; the lead checked again under the lock, then the target."""
    rows = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({lead_user_id, staff_user_id})).order_by(User.id)
        .with_for_update().execution_options(populate_existing=True))}
    lead = rows[lead_user_id]
    partner_id = _lead_partner_id(lead)
    staff = rows.get(staff_user_id)
    refusal = "not_found" if staff is None else lead_may_manage(
        lead_id=lead.id, lead_partner_id=partner_id, target_id=staff.id,
        target_partner_id=staff.partner_id, target_roles=staff.role_names,
        target_is_lead=staff.merchant_lead)
    if refusal == "not_found":
        raise NotFound("Staff member not found.")
    if refusal:
        error, detail = _REFUSALS[refusal]
        raise error(detail, code=refusal)
    return lead, staff, partner_id


def list_merchant_staff(*, lead_user_id: uuid.UUID, after: tuple | None, limit: int):
    """The staff of the lead's merchant (the lead included), newest first."""
    _, partner_id = _current_lead(lead_user_id)
    query = (select(User).where(User.partner_id == partner_id,
                                User.roles.any(UserRole.role == "merchant"))
             .order_by(User.created_at.desc(), User.id.desc()))
    return newest_first_page(query, User.created_at, User.id, after=after, limit=limit)


def add_merchant_staff(*, lead_user_id: uuid.UUID, email: str, display_name: str,
                       password: str) -> User:
    """A new staff account of the lead's merchant, role `merchant` only (409 if the email is
    taken: an existing account is never pulled into a merchant by a lead)."""
    with unit_of_work():
        _, partner_id = _current_lead(lead_user_id, lock=True)
        staff = auth.register_user(email=email, phone=None, password=password,
                                   display_name=display_name, roles=("merchant",),
                                   partner_id=partner_id, actor_user_id=lead_user_id)
        record_audit(action="merchant_staff.added", object_type=OBJECT, object_id=staff.id,
                     actor_user_id=lead_user_id, details={"partner_id": str(partner_id)})
    return staff


def set_staff_suspended(*, lead_user_id: uuid.UUID, staff_user_id: uuid.UUID, suspended: bool,
                        reason: str | None = None) -> User:
    """Suspend (sessions revoked at once) or reinstate a staff member of the lead's merchant."""
    with unit_of_work():
        _, staff, partner_id = _lock_lead_and_staff(lead_user_id, staff_user_id)
        if staff.is_suspended != suspended:
            staff.suspended_at = utcnow() if suspended else None
            if suspended:
                revoke_user_sessions(staff.id, reason="suspended")
            record_audit(action="merchant_staff.suspended" if suspended
                         else "merchant_staff.reinstated", object_type=OBJECT,
                         object_id=staff.id, actor_user_id=lead_user_id,
                         details={"partner_id": str(partner_id), "reason": reason})
    return staff


def remove_merchant_staff(*, lead_user_id: uuid.UUID, staff_user_id: uuid.UUID) -> None:
    """Take a staff member off the lead's merchant: the `merchant` role and the merchant link
    go, their sessions are revoked; the account (and any citizen role) stays."""
    with unit_of_work():
        _, staff, partner_id = _lock_lead_and_staff(lead_user_id, staff_user_id)
        staff.roles = [r for r in staff.roles if r.role != "merchant"]
        staff.partner_id = None
        revoke_user_sessions(staff.id, reason="suspended")
        record_audit(action="merchant_staff.removed", object_type=OBJECT, object_id=staff.id,
                     actor_user_id=lead_user_id, details={"partner_id": str(partner_id)})


def set_merchant_lead(*, user_id: uuid.UUID, lead: bool, actor_user_id: uuid.UUID) -> User:
    """An admin makes a merchant's staff member its lead, or no longer (several leads are
    allowed). Only plain merchant staff of a merchant can lead."""
    with unit_of_work():
        user = db.session.execute(select(User).where(User.id == user_id).with_for_update()
                                  .execution_options(populate_existing=True)).scalar_one_or_none()
        if user is None:
            raise NotFound("User not found.")
        if user.id == actor_user_id:
            raise PermissionDenied("Nobody makes themselves a lead.", code="self_grant")
        if lead and ("merchant" not in user.role_names or user.partner_id is None
                     or user.role_names & set(PRIVILEGED_ROLES)):
            raise ValidationFailed("Only merchant staff (no admin, auditor or verifier role) "
                                   "can lead their merchant.", code="not_merchant_staff",
                                   errors={"user_id": ["Not plain merchant staff."]})
        if user.merchant_lead != lead:
            user.merchant_lead = lead
            record_audit(action="user.merchant_lead_set", object_type=OBJECT, object_id=user.id,
                         actor_user_id=actor_user_id,
                         details={"lead": lead, "partner_id": str(user.partner_id)})
    return user
