"""The edge: /metrics only for the monitoring network or its token, no-store on every response
carrying a token or personal data, CORS only for configured origins (docs/operations.md)."""
from __future__ import annotations

import hmac
import ipaddress

from flask import request

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import PermissionDenied

# Paths whose every response (errors included) carries tokens or personal data.
PRIVATE_PREFIXES = ("/api/v1/auth/", "/api/v1/me/", "/api/v1/admin/", "/api/v1/partner/",
                    "/api/v1/merchant/", "/api/v1/actions/", "/api/v1/redemptions/")
PRIVATE_PATHS = ("/api/v1/me", "/api/v1/actions", "/api/v1/redemptions", "/api/v1/leaderboard")
CREDENTIAL_HEADERS = ("Authorization", "X-Partner-Key", "X-Signature")
EXPOSED_HEADERS = ["Retry-After", "X-Request-ID", "Location"]


def _bearer_matches(token: str | None) -> bool:
    if not token:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), token.encode())


def _address_allowed(networks) -> bool:
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)  # dual-stack listeners
    return any(a.version == n.version and a in n for a in candidates for n in networks)


def require_metrics_access() -> None:
    """/metrics: the allowed networks, or `Authorization: Bearer <METRICS_TOKEN>`; else 403."""
    settings = get_settings()
    if _bearer_matches(settings.metrics_token) or _address_allowed(settings.metrics_allowed_networks):
        return
    raise PermissionDenied("Metrics are served only to the monitoring network or with the "
                           "metrics token.", code="metrics_forbidden")


def _no_store(response):
    if request.path.startswith(PRIVATE_PREFIXES) or request.path in PRIVATE_PATHS or any(
            request.headers.get(name) for name in CREDENTIAL_HEADERS):
        if "no-store" not in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
    return response


def init_edge(app, settings) -> None:
    app.after_request(_no_store)
    if settings.cors_origins:
        from flask_cors import CORS
        CORS(app, resources={r"/api/*": {"origins": list(settings.cors_origins)}},
             expose_headers=EXPOSED_HEADERS, supports_credentials=False, vary_header=True)
