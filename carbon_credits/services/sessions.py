"""Sessions: one per login, covering its refresh-token family and the access tokens issued with
it (claim `fam`). Revoking a session ends both at once (docs/accounts.md)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update

from models import AuthSession, RefreshToken, db, utcnow

REVOKE_REASONS = ("logout", "refresh_reuse", "password_changed", "password_reset",
                  "revoked_by_user", "erased", "suspended", "verified_elsewhere",
                  "idle_timeout")


def revoke_user_sessions(user_id: uuid.UUID, *, reason: str,
                         keep_session_id: uuid.UUID | None = None,
                         now: dt.datetime | None = None) -> int:
    """Revoke every live session of `user_id` (but `keep_session_id`) and their refresh tokens,
    inside the caller's unit of work. Returns how many sessions were revoked."""
    if reason not in REVOKE_REASONS:
        raise ValueError(f"unknown revoke reason {reason!r}")
    now = now or utcnow()
    live = (AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep_session_id is not None:
        live += (AuthSession.id != keep_session_id,)
    families = db.session.scalars(
        update(AuthSession).where(*live).values(revoked_at=now, revoked_reason=reason)
        .returning(AuthSession.family_id)).all()
    if families:
        db.session.execute(update(RefreshToken).where(RefreshToken.family_id.in_(families),
                                                      RefreshToken.revoked_at.is_(None))
                           .values(revoked_at=now))
    return len(families)
