"""The console's session: a signed cookie (Flask's session, `cc_console`, Path=/console,
HttpOnly, SameSite=Lax, Secure in production) that names a row of `auth_sessions`. The row is
the authority: sign-out, idle timeout, suspension or `DELETE /me/sessions/{id}` revoke it, and
the cookie is then worthless (carbon_credits/services/console_sessions.py).

Every request that changes something carries a CSRF token (Flask-WTF's, bound to the session):
the hidden `csrf_token` field of each form, or the `X-CSRFToken` header htmx sends.
"""
from __future__ import annotations

import uuid

from flask import flash, g, request, session
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from api.console.forms import guard_form_body
from carbon_credits.domain.errors import AuthenticationFailed, DomainError
from carbon_credits.services import auth as auth_service
from carbon_credits.services import console_sessions

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class CsrfRefused(DomainError):
    code = "csrf_failed"
    title = "The form has expired"
    http_status = 400


def client_info() -> auth_service.Client:
    return auth_service.Client(address=request.remote_addr,
                               user_agent=request.user_agent.string or None)


def load_console_user() -> None:
    """before_request: check the body and CSRF token of a state-changing request, then find the
    user of the session cookie (g.console_user, and g.user so the API's helpers apply), or
    nobody."""
    if request.method not in SAFE_METHODS:
        guard_form_body()
        check_csrf()
    g.console_user = None
    family_id, user_id = session.get("sid"), session.get("uid")
    if not family_id or not user_id:
        return
    try:
        user = console_sessions.authenticate(family_id=family_id, user_id=uuid.UUID(user_id))
    except (AuthenticationFailed, ValueError) as error:
        session.clear()
        flash(getattr(error, "detail", "Sign in again."), "error")
        return
    g.console_user = g.user = user
    g.principal = f"user:{user.id}"


def check_csrf() -> None:
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except ValidationError:
        raise CsrfRefused("The form has expired or did not come from this console; reload the "
                          "page and try again.") from None


def start(opened: console_sessions.ConsoleSession) -> None:
    """After a sign-in: a fresh cookie (no fixation: nothing of the anonymous one survives).
    A session the cookie named before is revoked, not orphaned."""
    end()
    session.permanent = True
    session["sid"] = opened.family_id
    session["uid"] = str(opened.user_id)
    generate_csrf()  # a new token for the new session


def end() -> None:
    user = g.get("console_user")
    if user is not None:
        console_sessions.sign_out(family_id=session["sid"], user_id=user.id)
    session.clear()
