"""Access control. Every endpoint declares who may call it; undeclared endpoints are refused.

    @blp.route("/rewards")
    @access("citizen")              # bearer token with one of these roles
    @access.public                  # anyone
    @access.partner                 # a signed data-partner request

Admins and auditors scoped to a district (docs/roles.md) reach an operation open only to staff
(admin, auditor, verifier) only when it is declared `district_scoped=True`; the handler then
passes `staff_region()` to its service, which keeps them inside their district. Every other
staff-only operation answers them 403 `city_wide_only`, including any added later.
"""
from __future__ import annotations

import functools
import uuid

from flask import current_app, g, request

from carbon_credits.domain.errors import AuthenticationFailed, PermissionDenied
from carbon_credits.services import auth as auth_service
from carbon_credits.services import partners as partner_service
from carbon_credits.domain.vocabulary import PRIVILEGED_ROLES, ROLES

BEARER_SECURITY = [{"bearerAuth": []}]
PARTNER_SECURITY = [{"partnerKey": [], "partnerSignature": [], "partnerTimestamp": []}]


def _with_doc(func, **doc):
    from flask_smorest.utils import deepupdate
    import copy
    func._apidoc = copy.deepcopy(getattr(func, "_apidoc", {}))
    func._apidoc["manual_doc"] = deepupdate(copy.deepcopy(func._apidoc.get("manual_doc", {})), doc)
    return func


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("A bearer access token is required.", code="token_missing")
    return token.strip()


def begin_authentication(roles: frozenset[str] | None = None, district_scoped: bool = False) -> None:
    """Decode the bearer token; its database check goes out with the request's first
    statements. `finish_authentication` (before the view does anything) has the answer."""
    authentication = auth_service.begin_authentication(_bearer_token())
    g.claims = authentication.claims
    g.principal = f"user:{authentication.user_id}"
    g.authentication = (authentication, roles, district_scoped)


def finish_authentication():
    """The user, once the deferred check came back: 401 for a bad token, 403 without a role."""
    authentication, roles, district_scoped = g.pop("authentication")
    user = authentication.user()
    g.user = user
    authorize(user, roles, district_scoped)
    return user


def authorize(user, roles: frozenset[str] | None, district_scoped: bool) -> None:
    """403 unless `user` holds one of `roles`; staff scoped to a district reach a staff-only
    operation only when it is `district_scoped`. The console applies the same rule to each
    page through the API operation it mirrors (api/console/access.py)."""
    if roles is not None and not user.role_names & roles:
        raise PermissionDenied("Your role does not allow this.", code="role_required")
    if user.staff_region and roles is not None and roles <= set(PRIVILEGED_ROLES) \
            and not district_scoped:
        raise PermissionDenied(f"This operation is for city-wide staff; your role is scoped to "
                               f"district {user.staff_region}.", code="city_wide_only")


def staff_region() -> str | None:
    """The district the calling admin or auditor is scoped to (None: city-wide)."""
    return g.user.staff_region


def authenticate_user():
    begin_authentication()
    return finish_authentication()


def access(*roles: str, district_scoped: bool = False):
    """Require a logged-in user holding at least one of `roles`. `district_scoped`: staff scoped
    to a district may call it too (the handler keeps them inside it)."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"access() needs known roles, got {roles}")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            begin_authentication(frozenset(roles), district_scoped)
            # An idempotent view sends the check with its key's claim, and finishes it there.
            if not (getattr(view, "_idempotent", False) and "Idempotency-Key" in request.headers):
                finish_authentication()
            return view(*args, **kwargs)

        wrapper._access = {"kind": "roles", "roles": tuple(sorted(roles)),
                           "district_scoped": district_scoped}
        scoped = {"x-district-scoped": True} if district_scoped else {}
        return _with_doc(wrapper, security=BEARER_SECURITY,
                         **{"x-roles": sorted(roles)}, **scoped,
                         responses={"401": "UNAUTHORIZED", "403": "FORBIDDEN"})

    return decorator


def _public(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)

    wrapper._access = {"kind": "public"}
    return _with_doc(wrapper, security=[], **{"x-roles": ["public"]})


def _partner(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        signature = request.headers.get("X-Signature")
        partner = partner_service.verify_signed_request(
            key_id=request.headers.get("X-Partner-Key"),
            timestamp=request.headers.get("X-Timestamp"),
            signature=signature,
            raw_body=request.get_data(cache=True))
        g.partner = partner
        g.principal = f"partner:{partner.id}"
        try:
            partner_service.require_data_partner(partner)  # merchants sign nothing: 403
            return view(*args, **kwargs)
        except Exception:
            partner_service.forget_signature(signature)
            raise

    wrapper._access = {"kind": "partner"}
    return _with_doc(wrapper, security=PARTNER_SECURITY, **{"x-roles": ["partner"]},
                     responses={"401": "UNAUTHORIZED", "403": "FORBIDDEN"})


access.public = _public
access.partner = _partner


def current_user_id() -> uuid.UUID:
    return g.user.id


def optional_user():
    """On a public route: the bearer's user if a token is sent (a bad one is still a 401), else
    None. For public endpoints that show more to some roles (e.g. dry runs on drafts)."""
    if not request.headers.get("Authorization"):
        return None
    return authenticate_user()


def enforce_declared_access() -> None:
    """before_request: deny by default any /api route whose view declares no access rule."""
    if not request.path.startswith("/api/") or request.endpoint is None:
        return
    if request.path in ("/api/v1/openapi.json",) or request.path.startswith("/api/docs"):
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return
    if getattr(view, "_access", None) is None:
        raise PermissionDenied("This endpoint declares no access rule.", code="access_undeclared")
