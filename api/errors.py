"""Every error leaves as application/problem+json (RFC 9457) with the request id. One place.
Titles, details and field messages leave in the request's language (api/i18n.py); `type` and
the error code never change with it."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from api.i18n import N_, translate, translate_field_messages
from carbon_credits import kvstore
from carbon_credits.domain import errors as domain

log = logging.getLogger(__name__)

STATUS_BY_ERROR = [
    (domain.ValidationFailed, 422),
    (domain.NotFound, 404),
    (domain.Conflict, 409),
    (domain.AuthenticationFailed, 401),
    (domain.PermissionDenied, 403),
    (domain.RateLimited, 429),
    (domain.ServiceUnavailable, 503),
]

TITLES = {400: N_("Bad request"), 401: N_("Authentication required"), 403: N_("Forbidden"),
          404: N_("Not found"), 405: N_("Method not allowed"), 409: N_("Conflict"),
          413: N_("Request body too large"), 415: N_("Unsupported media type"),
          422: N_("Invalid request"), 429: N_("Too many requests"),
          500: N_("Internal server error"), 503: N_("Service unavailable")}
UNEXPECTED = N_("An unexpected error occurred.")


def problem(status: int, *, code: str, detail: str, title: str | None = None,
            errors: dict | None = None, headers: dict | None = None, translated: bool = False):
    """The problem answer; `translated`: detail and errors are in the request's language
    already (the title never is)."""
    if not translated:
        detail, errors = translate(detail), translate_field_messages(errors)
    title = translate(title or TITLES.get(status, N_("Error")))
    body = {"type": f"/problems/{code}", "title": title,
            "status": status, "detail": detail, "request_id": g.get("request_id")}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nested messages -> {"details.distance_km": [...]}, location dropped."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(flatten_messages(value, name))
            else:
                flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    elif isinstance(messages, list):
        flat[prefix or "_schema"] = [str(m) for m in messages]
    return flat


def _webargs_errors(error: HTTPException) -> dict | None:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if not messages:
        return None
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "path", "headers",
                                                        "view_args", "form", "files", "cookies"}:
        merged = {}
        for part in messages.values():
            merged.update(flatten_messages(part))
        return merged
    return flatten_messages(messages)


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    errors = translate_field_messages(_webargs_errors(error))
    headers = {}
    if status == 422 or (status == 400 and errors):
        code = "validation"
        first = next(iter(errors.items()), None) if errors else None
        detail = (f"{first[0]}: {first[1][0]}" if first
                  else translate(N_("The request is not valid.")))
    else:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited",
                400: "bad_request"}.get(status, "http_error")
        detail = translate(error.description or TITLES.get(status, N_("Error")))
    if status == 429:
        retry_after = getattr(error, "retry_after", None) or 60
        headers["Retry-After"] = str(retry_after)
        detail = translate(N_("Too many attempts; try again later."))
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status >= 500:
        log.error("HTTP %s: %s", status, error)
        detail = translate(UNEXPECTED)
    return problem(status, code=code, detail=detail, errors=errors, headers=headers,
                   translated=True)


def status_of(error: domain.DomainError) -> int:
    """The HTTP status of a domain error, for JSON and HTML answers alike."""
    status = getattr(error, "http_status", None)
    if status is None:
        status = next((s for kind, s in STATUS_BY_ERROR if isinstance(error, kind)), 400)
    return status


def handle_domain_error(error: domain.DomainError):
    status = status_of(error)
    headers = {}
    if isinstance(error, (domain.RateLimited, domain.ServiceUnavailable)):
        headers["Retry-After"] = str(error.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="carbon-credits"'
    return problem(status, code=error.code, detail=error.detail, title=error.title,
                   errors=error.errors, headers=headers)


def handle_database_unavailable(error: Exception):
    log.warning("database unavailable: %s", error)
    return problem(503, code="database_unavailable",
                   detail=N_("The database is unavailable; retry shortly."),
                   headers={"Retry-After": "5"})


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, OperationalError) or (isinstance(error, DBAPIError)
                                               and error.connection_invalidated):
        return handle_database_unavailable(error)
    log.exception("unhandled error", exc_info=error)
    return problem(500, code="internal", detail=UNEXPECTED)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(kvstore.RedisError, lambda e: problem(
        503, code="cache_unavailable", detail=N_("A dependency is unavailable; retry shortly."),
        headers={"Retry-After": "5"}))
    app.register_error_handler(Exception, handle_unexpected)
