"""Read-only admin listings with keyset pagination (cost independent of the page number)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select

from carbon_credits.services.pagination import keyset_after, take_page
from models import AuditEntry, User, UserRole, db


def list_users(*, q: str | None, role: str | None, after: tuple | None, limit: int):
    query = select(User).order_by(User.created_at.desc(), User.id.desc())
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(User.email.like(like), User.phone.like(like),
                                db.func.lower(User.display_name).like(like)))
    if role:
        query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if after:
        query = query.where(keyset_after([User.created_at, User.id], after))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda u: (u.created_at.isoformat(), u.id))


def list_audit_entries(*, object_type: str | None, object_id: str | None, action: str | None,
                       actor_user_id: uuid.UUID | None, after: tuple | None, limit: int,
                       created_from: dt.datetime | None = None,
                       created_to: dt.datetime | None = None):
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor_user_id:
        query = query.where(AuditEntry.actor_user_id == actor_user_id)
    if created_from:
        query = query.where(AuditEntry.created_at >= created_from)
    if created_to:
        query = query.where(AuditEntry.created_at < created_to)
    if after:
        query = query.where(AuditEntry.id < after[0])
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda e: (e.id,))
