"""Audit rows are written inside the caller's unit of work, so they commit with the change."""
from __future__ import annotations

import uuid

from carbon_credits.context import current_request_id
from models import AuditEntry, db


def record_audit(*, action: str, object_type: str, object_id, actor_user_id: uuid.UUID | None = None,
                 actor_partner_id: uuid.UUID | None = None, details: dict | None = None) -> AuditEntry:
    entry = AuditEntry(
        actor_user_id=actor_user_id,
        actor_partner_id=actor_partner_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
        request_id=current_request_id.get(),
    )
    db.session.add(entry)
    return entry
