"""The console's blueprint and what every page shares: the session and CSRF check before,
the security headers after, errors rendered as pages (docs/console.md)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from api.console import session as console_session
from api.console.access import NotSignedIn, can, safe_next
from api.errors import status_of
from api.pages import harden_page, is_fragment_request
from carbon_credits.domain.errors import DomainError

blueprint = Blueprint("console", __name__, url_prefix="/console")
blueprint.before_request(console_session.load_console_user)
blueprint.after_request(harden_page)


@blueprint.after_request
def _private(response):
    # Pages show personal and unpublished data: never cached, by browsers or proxies.
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    return response


@blueprint.context_processor
def _template_helpers():
    return {"csrf_token": generate_csrf, "can": can, "page_lang": "en"}


@blueprint.errorhandler(DomainError)
def _refused(error: DomainError):
    if isinstance(error, NotSignedIn):
        target = url_for("console.sign_in", next=safe_next(request.full_path.rstrip("?")))
        if is_fragment_request():
            return "", 401, {"HX-Redirect": target}
        if request.method == "GET":
            return redirect(target)
        flash(error.detail, "error")
        return redirect(target)
    status = status_of(error)
    template = "console/_problem.html" if is_fragment_request() else "console/problem.html"
    return render_template(template, error=error, status=status), status

