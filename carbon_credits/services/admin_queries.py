"""Read-only admin listings with keyset pagination (cost independent of the page number)."""
from __future__ import annotations

import datetime as dt
import operator
import uuid

from sqlalchemy import or_, select

from carbon_credits.services.pagination import descending_key_page, newest_first_page, where_given
from models import AuditEntry, User, UserRole, db


def list_users(*, q: str | None, role: str | None, after: tuple | None, limit: int):
    query = select(User).order_by(User.created_at.desc(), User.id.desc())
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(User.email.like(like), User.phone.like(like),
                                db.func.lower(User.display_name).like(like)))
    if role:
        query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    return newest_first_page(query, User.created_at, User.id, after=after, limit=limit)


def list_audit_entries(*, object_type: str | None, object_id: str | None, action: str | None,
                       actor_user_id: uuid.UUID | None, after: tuple | None, limit: int,
                       created_from: dt.datetime | None = None,
                       created_to: dt.datetime | None = None):
    query = where_given(select(AuditEntry),
                        (AuditEntry.object_type, operator.eq, object_type),
                        (AuditEntry.object_id, operator.eq, object_id),
                        (AuditEntry.action, operator.eq, action),
                        (AuditEntry.actor_user_id, operator.eq, actor_user_id),
                        (AuditEntry.created_at, operator.ge, created_from),
                        (AuditEntry.created_at, operator.lt, created_to))
    return descending_key_page(query, AuditEntry.id, after=after, limit=limit)
