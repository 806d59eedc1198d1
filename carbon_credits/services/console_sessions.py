"""Console sessions: the people at a desk (admins, auditors, verifiers, merchant staff) sign in
with the same accounts and rules as the API, and hold a session that lives in `auth_sessions`
like any login, so `GET /me/sessions` lists it and `DELETE /me/sessions/{id}` ends it.

What differs from an API login: no tokens are issued (the session id travels in a signed,
HTTP-only cookie, api/console/session.py), the account must be verified and hold a staff role,
and a session left idle longer than CONSOLE_IDLE_TIMEOUT_SECONDS is revoked on its next use
(the server keeps the clock: a replayed old cookie is as dead as the session).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid

from sqlalchemy import update

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import AuthenticationFailed, PermissionDenied
from carbon_credits.domain.vocabulary import STAFF_ROLES
from carbon_credits.services import auth
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from models import AuthSession, User, db, utcnow

USER_AGENT_PREFIX = "console: "


@dataclasses.dataclass(frozen=True)
class ConsoleSession:
    family_id: str
    user_id: uuid.UUID


def sign_in(*, identifier: str, password: str, client: auth.Client) -> ConsoleSession:
    """Open a console session. Wrong credentials are the API's 401 (same throttles, same work);
    an unverified account or one without a staff role is refused after the password matched,
    and nothing is opened."""
    def open_session(user: User) -> ConsoleSession:
        if user.verified_at is None:
            raise PermissionDenied("Verify this account before signing in to the console.",
                                   code="account_unverified")
        if not user.role_names & set(STAFF_ROLES):
            raise PermissionDenied("The console is for the scheme's staff and merchants; "
                                   "citizens use the app.", code="console_not_for_role")
        now = utcnow()
        family_id = secrets.token_hex(16)
        db.session.add(AuthSession(
            family_id=family_id, user_id=user.id, created_at=now, last_used_at=now,
            expires_at=now + dt.timedelta(hours=get_settings().console_session_hours),
            user_agent=(USER_AGENT_PREFIX + (client.user_agent or ""))[:256],
            ip_address=(client.address or "")[:64] or None))
        record_audit(action="auth.console_sign_in", object_type="user", object_id=user.id,
                     actor_user_id=user.id)
        return ConsoleSession(family_id=family_id, user_id=user.id)

    return auth.login_with(identifier=identifier, password=password, client=client,
                           open_session=open_session)


def _live(family_id: str, user_id: uuid.UUID, now: dt.datetime) -> tuple:
    return (AuthSession.family_id == family_id, AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)


def authenticate(*, family_id: str, user_id: uuid.UUID,
                 now: dt.datetime | None = None) -> auth.AuthenticatedUser:
    """The user of a live, recently used console session, and the session touched. Idle too
    long: the session is revoked (`idle_timeout`) and 401 `session_idle`; revoked, expired or
    unknown: 401 `session_ended`; suspended or erased users fail as with a bearer token."""
    now = now or utcnow()
    idle_since = now - dt.timedelta(seconds=get_settings().console_idle_timeout_seconds)
    with unit_of_work():
        touched = db.session.execute(
            update(AuthSession).where(*_live(family_id, user_id, now),
                                      AuthSession.last_used_at > idle_since)
            .values(last_used_at=now)).rowcount
        if touched == 1:
            return auth.session_user(family_id=family_id, user_id=user_id)
        idle = db.session.execute(
            update(AuthSession).where(*_live(family_id, user_id, now))
            .values(revoked_at=now, revoked_reason="idle_timeout")).rowcount
    if idle:
        raise AuthenticationFailed("You were signed out after a period without activity.",
                                   code="session_idle")
    raise AuthenticationFailed("This console session has ended; sign in again.",
                               code="session_ended")


def sign_out(*, family_id: str, user_id: uuid.UUID) -> None:
    """Revoke the session: its cookie is worthless from now on, wherever a copy of it is."""
    now = utcnow()
    with unit_of_work():
        auth.revoke_family(family_id, now, reason="logout")
        record_audit(action="auth.console_sign_out", object_type="user", object_id=user_id,
                     actor_user_id=user_id)
