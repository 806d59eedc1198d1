"""User administration: roles and suspension, each change audited.

Roles and separation of duties (docs/roles.md): an account holds at most one of `admin`,
`auditor` and `verifier` (service 422/409 `conflicting_roles`; a partial unique index on
`user_roles`), and they are given only four-eyes: asking for them opens a pending `role_grants` row that another admin approves.
Other role changes and every removal take effect at once.

Lock order: the user's row, then their grant rows.
"""
from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import roles as role_rules
from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from carbon_credits.services.audit import record_audit
from carbon_credits.services.duties import (conflicting_roles_conflict, ensure_independent,
                                            holds_conflicting_roles, refuse_conflicting_roles)
from carbon_credits.services.pagination import newest_first_page
from carbon_credits.services.sessions import revoke_user_sessions
from carbon_credits.services.uow import unit_of_work
from carbon_credits.domain.vocabulary import ROLE_GRANT_STATUSES
from models import Partner, RoleGrant, User, UserRole, db, utcnow

GRANT_OBJECT = "role_grant"


def get_user(user_id: uuid.UUID) -> User | None:
    return db.session.get(User, user_id)


def get_user_or_raise(user_id: uuid.UUID) -> User:
    user = get_user(user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


@dataclasses.dataclass
class RoleChange:
    """What a role change did: the user as they are now, and the grants still waiting."""

    user: User
    pending_grants: list[RoleGrant]

    @property
    def is_pending(self) -> bool:
        return bool(self.pending_grants)

    def __getattr__(self, name):  # reads as the user (id, roles, ...) plus its pending grants
        if name.startswith("__") or name == "user":
            raise AttributeError(name)
        return getattr(self.user, name)


def _lock_user(user_id: uuid.UUID) -> User:
    user = db.session.execute(select(User).where(User.id == user_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()
    if user is None:
        raise NotFound("User not found.")
    return user


def _pending_grants(user_id: uuid.UUID) -> list[RoleGrant]:
    return list(db.session.scalars(
        select(RoleGrant).where(RoleGrant.user_id == user_id, RoleGrant.status == "pending")
        .order_by(RoleGrant.role).with_for_update().execution_options(populate_existing=True)))


def set_roles(*, user_id: uuid.UUID, roles: list[str], partner_id: uuid.UUID | None,
              actor_user_id: uuid.UUID) -> RoleChange:
    """Make a user's roles the given set. Removals and citizen/merchant additions apply at
    once; adding admin, auditor or verifier opens a pending grant for another admin to approve (and a
    pending grant for a role no longer asked for is cancelled). Merchant staff must name their
    merchant partner."""
    wanted = role_rules.requested_roles(roles)
    refuse_conflicting_roles(wanted)
    with unit_of_work():
        user = _lock_user(user_id)
        current = user.role_names
        plan = role_rules.plan_role_change(wanted=wanted, current=current)
        if plan.to_grant and user.id == actor_user_id:
            raise PermissionDenied("Nobody asks for admin, auditor or verifier for themselves; "
                                   "another admin must request it.", code="self_grant")
        if "merchant" in wanted:
            _attach_merchant(user, partner_id or user.partner_id)
        before = sorted(current)
        user.roles = [r for r in user.roles if r.role in plan.now] + \
            [UserRole(role=r) for r in sorted(plan.now - current)]
        pending = _settle_grants(user, wanted=wanted, to_grant=plan.to_grant,
                                 actor_user_id=actor_user_id)
        db.session.flush()
        record_audit(action="user.roles_set", object_type="user", object_id=user.id,
                     actor_user_id=actor_user_id,
                     details={"before": before, "after": sorted(plan.now),
                              "pending": sorted(g.role for g in pending),
                              "partner_id": str(user.partner_id) if user.partner_id else None})
    return RoleChange(user=user, pending_grants=sorted(pending, key=lambda g: g.role))


def _attach_merchant(user: User, partner_id: uuid.UUID | None) -> None:
    """Merchant staff work for one merchant partner."""
    partner = db.session.get(Partner, partner_id) if partner_id else None
    if partner is None or partner.kind != "merchant":
        raise ValidationFailed("Merchant staff need a merchant partner_id.",
                               errors={"partner_id": ["Must name a merchant partner."]})
    user.partner_id = partner.id


def _settle_grants(user: User, *, wanted: set[str], to_grant: frozenset[str],
                   actor_user_id: uuid.UUID) -> list[RoleGrant]:
    """Cancel the pending grants of roles no longer asked for, request the privileged roles not
    yet pending; return the grants left pending."""
    pending = []
    for grant in _pending_grants(user.id):
        if grant.role in wanted:
            pending.append(grant)
            continue
        grant.status, grant.decided_at = "cancelled", utcnow()
        record_audit(action="role_grant.cancelled", object_type=GRANT_OBJECT,
                     object_id=grant.id, actor_user_id=actor_user_id,
                     details={"user_id": str(user.id), "role": grant.role,
                              "why": "no longer asked for"})
    for role in sorted(to_grant - {g.role for g in pending}):
        grant = RoleGrant(id=uuid.uuid4(), user_id=user.id, role=role, status="pending",
                          requested_by=actor_user_id, requested_at=utcnow())
        db.session.add(grant)
        pending.append(grant)
        record_audit(action="role_grant.requested", object_type=GRANT_OBJECT,
                     object_id=grant.id, actor_user_id=actor_user_id,
                     details={"user_id": str(user.id), "role": role})
    return pending


# --- four-eyes role grants ---------------------------------------------------------------------

def get_role_grant_or_raise(grant_id: uuid.UUID) -> RoleGrant:
    grant = db.session.get(RoleGrant, grant_id)
    if grant is None:
        raise NotFound("Role grant not found.", code="role_grant_not_found")
    return grant


def list_role_grants(*, status: str | None = None, user_id: uuid.UUID | None = None,
                     after: tuple | None = None, limit: int = 50):
    """Newest first, keyset-paginated; `status=pending` is the approval queue."""
    if status is not None and status not in ROLE_GRANT_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(ROLE_GRANT_STATUSES)}.",
                               errors={"status": ["Unknown status."]})
    query = select(RoleGrant).order_by(RoleGrant.requested_at.desc(), RoleGrant.id.desc())
    if status:
        query = query.where(RoleGrant.status == status)
    if user_id:
        query = query.where(RoleGrant.user_id == user_id)
    return newest_first_page(query, RoleGrant.requested_at, RoleGrant.id, after=after, limit=limit)


def _lock_pending_grant(grant_id: uuid.UUID) -> tuple[User, RoleGrant]:
    """The grantee's row, then the grant's (the lock order of `set_roles`)."""
    found = get_role_grant_or_raise(grant_id)
    user = _lock_user(found.user_id)
    grant = db.session.scalars(select(RoleGrant).where(RoleGrant.id == grant_id).with_for_update()
                               .execution_options(populate_existing=True)).one()
    if grant.status != "pending":
        raise Conflict(f"This role grant was already {grant.status}.", code="role_grant_not_pending")
    return user, grant


def _close(grant: RoleGrant, status: str, *, decided_by: uuid.UUID | None,
           note: str | None) -> None:
    # Conditional on `pending` as well as the row lock: a grant is decided at most once.
    closed = db.session.execute(
        update(RoleGrant).where(RoleGrant.id == grant.id, RoleGrant.status == "pending")
        .values(status=status, decided_by=decided_by, decided_at=utcnow(), decision_note=note)
        .execution_options(synchronize_session="fetch")).rowcount
    if closed != 1:
        raise Conflict("This role grant was already decided.", code="role_grant_not_pending")


def approve_role_grant(*, grant_id: uuid.UUID, actor_user_id: uuid.UUID,
                       note: str | None = None) -> RoleGrant:
    """pending -> approved by an admin independent of the requester and the grantee; the role
    is added in the same transaction (409 `conflicting_roles` if it would join two of admin,
    auditor and verifier)."""
    with unit_of_work():
        user, grant = _lock_pending_grant(grant_id)
        if actor_user_id == grant.user_id:
            raise PermissionDenied("Nobody approves their own role grant.", code="four_eyes")
        ensure_independent(decider_id=actor_user_id, requester_ids=[grant.requested_by, grant.user_id],
                           role="admin", what="this role grant")
        if holds_conflicting_roles(user.role_names | {grant.role}):
            raise conflicting_roles_conflict()
        _close(grant, "approved", decided_by=actor_user_id, note=note)
        if grant.role not in user.role_names:
            user.roles.append(UserRole(role=grant.role))
            try:
                with db.session.begin_nested():
                    db.session.flush()
            except IntegrityError:  # the partial unique index: last line of defence
                raise conflicting_roles_conflict() from None
        record_audit(action="role_grant.approved", object_type=GRANT_OBJECT, object_id=grant.id,
                     actor_user_id=actor_user_id,
                     details={"user_id": str(user.id), "role": grant.role, "note": note,
                              "requested_by": str(grant.requested_by)})
    return grant


def reject_role_grant(*, grant_id: uuid.UUID, actor_user_id: uuid.UUID, note: str) -> RoleGrant:
    """pending -> rejected, with a reason, by an admin other than the requester and grantee."""
    with unit_of_work():
        _, grant = _lock_pending_grant(grant_id)
        if actor_user_id in (grant.requested_by, grant.user_id):
            raise PermissionDenied("The requester or grantee cannot decide this grant; withdraw "
                                   "it with cancel instead.", code="four_eyes")
        _close(grant, "rejected", decided_by=actor_user_id, note=note)
        record_audit(action="role_grant.rejected", object_type=GRANT_OBJECT, object_id=grant.id,
                     actor_user_id=actor_user_id,
                     details={"user_id": str(grant.user_id), "role": grant.role, "note": note})
    return grant


def cancel_role_grant(*, grant_id: uuid.UUID, actor_user_id: uuid.UUID) -> RoleGrant:
    """pending -> cancelled, by its requester only (withdrawing a request grants nothing)."""
    with unit_of_work():
        _, grant = _lock_pending_grant(grant_id)
        if actor_user_id != grant.requested_by:
            raise PermissionDenied("Only the admin who requested this grant can withdraw it; "
                                   "others reject it.", code="not_requester")
        _close(grant, "cancelled", decided_by=None, note=None)
        record_audit(action="role_grant.cancelled", object_type=GRANT_OBJECT, object_id=grant.id,
                     actor_user_id=actor_user_id,
                     details={"user_id": str(grant.user_id), "role": grant.role})
    return grant


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
        if suspended:
            revoke_user_sessions(user.id, reason="suspended")
        record_audit(action="user.suspended" if suspended else "user.reinstated",
                     object_type="user", object_id=user.id, actor_user_id=actor_user_id,
                     details={"reason": reason})
    return user
