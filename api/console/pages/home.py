"""Sign-in, sign-out and the overview page."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from api.console.blueprint import blueprint
from api.console import session as console_session
from api.console.access import can, console_page, safe_next
from api.console.nav import NAV
from api.errors import status_of
from carbon_credits.domain.errors import AuthenticationFailed, PermissionDenied, RateLimited
from carbon_credits.domain.vocabulary import STAFF_ROLES
from carbon_credits.services import console_sessions


@blueprint.app_template_global("console_nav")
def console_nav():
    return [(endpoint, label) for endpoint, label in NAV if can(endpoint)]


@blueprint.route("/login", methods=["GET", "POST"])
def sign_in():
    """The sign-in form (GET) and its submission (POST): same accounts, rules and throttles as
    `POST /api/v1/auth/login`, plus: verified, and a staff role."""
    next_page = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.console_user is not None:
            return redirect(next_page or url_for("console.home"))
        return render_template("console/login.html", next_page=next_page)
    try:
        opened = console_sessions.sign_in(identifier=request.form.get("identifier", ""),
                                          password=request.form.get("password", ""),
                                          client=console_session.client_info())
    except (AuthenticationFailed, PermissionDenied, RateLimited) as error:
        status = status_of(error)
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
        return render_template("console/login.html", next_page=next_page, error=error,
                               identifier=request.form.get("identifier", "")), status, headers
    console_session.start(opened)
    return redirect(next_page or url_for("console.home"))


@blueprint.post("/logout")
def sign_out():
    """Revoke the session (not just forget the cookie) and go back to the sign-in form."""
    console_session.end()
    flash("You are signed out.", "ok")
    return redirect(url_for("console.sign_in"))


@blueprint.get("/")
@console_page(roles=STAFF_ROLES)
def home():
    return render_template("console/home.html", user=g.console_user)
