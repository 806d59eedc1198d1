"""Who may open a console page: exactly who may call the API operation it stands for.

    @blueprint.get("/methodologies/<code>/versions/<int:v>")
    @console_page("methodologies.get_version")          # the API endpoint(s) it mirrors
    def version_page(code, v): ...

    @console_page(roles=STAFF_ROLES)                     # a page with no API twin

A page that shows or does what several API operations do names all of them and needs them all.
The roles and the district rule are read from the mirrored view's `@access` declaration at
request time and checked by the same `authorize` the API uses, so the console can never grant
what the API refuses; tests/console/test_route_access.py walks every route with every wrong role.
Templates ask `can("console.endpoint")` to show a button only to those who may press it.
"""
from __future__ import annotations

import dataclasses
import functools

from flask import current_app, g

from api.auth import authorize
from carbon_credits.domain.errors import AuthenticationFailed, PermissionDenied


@dataclasses.dataclass(frozen=True)
class PageRule:
    mirrors: tuple[str, ...]
    roles: tuple[str, ...] | None  # only for pages that mirror nothing

    def requirements(self) -> list[tuple[frozenset[str], bool]]:
        """(roles, district_scoped) pairs the user must meet, all of them."""
        if not self.mirrors:
            return [(frozenset(self.roles), True)]
        needs = []
        for endpoint in self.mirrors:
            declared = current_app.view_functions[endpoint]._access
            if declared["kind"] != "roles":
                raise RuntimeError(f"{endpoint} is not a role-guarded API operation")
            needs.append((frozenset(declared["roles"]), declared["district_scoped"]))
        return needs


class NotSignedIn(AuthenticationFailed):
    code = "console_sign_in_required"


def console_page(*mirrors: str, roles: tuple[str, ...] | None = None):
    if bool(mirrors) == bool(roles):
        raise ValueError("console_page needs the API endpoints it mirrors, or roles, not both")
    rule = PageRule(mirrors=tuple(mirrors), roles=tuple(roles) if roles else None)

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = g.get("console_user")
            if user is None:
                raise NotSignedIn("Sign in to use the console.")
            for needed_roles, district_scoped in rule.requirements():
                authorize(user, needed_roles, district_scoped)
            return view(*args, **kwargs)

        wrapper._console = rule
        return wrapper

    return decorator


def rule_of(endpoint: str) -> PageRule | None:
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "_console", None)


def can(endpoint: str) -> bool:
    """Whether the signed-in user may open the console page `endpoint` (for links, buttons)."""
    user = g.get("console_user")
    rule = rule_of(endpoint)
    if user is None or rule is None:
        return False
    try:
        for needed_roles, district_scoped in rule.requirements():
            authorize(user, needed_roles, district_scoped)
    except PermissionDenied:
        return False
    return True


def safe_next(target: str | None) -> str | None:
    """A post-sign-in destination inside the console only (no open redirect)."""
    if not target or not target.startswith("/console/") or target.startswith("//") \
            or "\\" in target or any(ord(c) < 33 for c in target):
        return None
    return target

