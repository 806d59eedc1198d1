"""What every HTML page the service renders shares: the security headers, the language choice
and the htmx fragment test. The console (`api/console/`) and the public page (`api/site/`)
install `harden_page` on their blueprints; the JSON API never renders HTML.

The Content-Security-Policy allows nothing but the application's own origin: scripts and
styles come from `/static` (htmx and jsQR are vendored there, docs/console.md), no inline
script or style, no eval, no framing, and forms post only back to us.
"""
from __future__ import annotations

from flask import request

from api.i18n import CHINESE, ENGLISH, negotiate_language

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
))
LANGUAGES = ("zh", "en")


def harden_page(response):
    """after_request of the HTML blueprints: CSP and the headers that go with it."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    # The merchant desk scans vouchers with the camera; nothing else may ask for it.
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def is_fragment_request() -> bool:
    """htmx asks for a part of a page (`HX-Request: true`), not the whole of it."""
    return request.headers.get("HX-Request") == "true"


def chosen_language(default: str = "zh") -> str:
    """`?lang=en|zh` wins; else the language the browser's Accept-Language prefers, by the
    one negotiation the JSON API uses too (api/i18n.py); else `default`."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    best = negotiate_language(request.headers.get("Accept-Language"))
    return {CHINESE: "zh", ENGLISH: "en"}.get(best, default)
