"""Every error leaves as application/problem+json (RFC 9457) with the request id. One place."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

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

TITLES = {400: "Bad request", 401: "Authentication required", 403: "Forbidden",
          404: "Not found", 405: "Method not allowed", 409: "Conflict",
          413: "Request body too large", 415: "Unsupported media type",
          422: "Invalid request", 429: "Too many requests", 500: "Internal server error",
          503: "Service unavailable"}


def problem(status: int, *, code: str, detail: str, title: str | None = None,
            errors: dict | None = None, headers: dict | None = None):
    body = {"type": f"/problems/{code}", "title": title or TITLES.get(status, "Error"),
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
    errors = _webargs_errors(error)
    headers = {}
    if status == 422 or (status == 400 and errors):
        code = "validation"
        first = next(iter(errors.items()), None) if errors else None
        detail = f"{first[0]}: {first[1][0]}" if first else "The request is not valid."
    else:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited",
                400: "bad_request"}.get(status, "http_error")
        detail = error.description or TITLES.get(status, "Error")
    if status == 429:
        retry_after = getattr(error, "retry_after", None) or 60
        headers["Retry-After"] = str(retry_after)
        detail = "Too many attempts; try again later."
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status >= 500:
        log.error("HTTP %s: %s", status, error)
        detail = "An unexpected error occurred."
    return problem(status, code=code, detail=detail, errors=errors, headers=headers)


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
    return problem(503, code="database_unavailable", detail="The database is unavailable; retry shortly.",
                   headers={"Retry-After": "5"})


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, OperationalError) or (isinstance(error, DBAPIError)
                                               and error.connection_invalidated):
        return handle_database_unavailable(error)
    log.exception("unhandled error", exc_info=error)
    return problem(500, code="internal", detail="An unexpected error occurred.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(kvstore.RedisError, lambda e: problem(
        503, code="cache_unavailable", detail="A dependency is unavailable; retry shortly.",
        headers={"Retry-After": "5"}))
    app.register_error_handler(Exception, handle_unexpected)
