"""Strict request bodies: JSON only, at most 1 MiB, no NaN/Infinity, numbers as Decimal."""
from __future__ import annotations

import json
from decimal import Decimal

from flask import g, request
from webargs import core
from webargs.flaskparser import FlaskParser

from carbon_credits.domain.errors import DomainError

MAX_BODY_BYTES = 1024 * 1024
BODY_METHODS = {"POST", "PUT", "PATCH"}


class MalformedBody(DomainError):
    code = "malformed_json"
    title = "Bad request"
    http_status = 400


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    title = "Unsupported media type"
    http_status = 415


def _refuse_constant(name: str):
    raise ValueError(f"non-finite number {name} is not allowed")


def parse_strict_json(raw: bytes):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("The body is not valid UTF-8.") from None
    try:
        # Decimal keeps every digit; '1e400' stays a finite Decimal that range checks refuse.
        parsed = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise MalformedBody(f"Malformed JSON: {exc}") from None
    if _has_nul(parsed):
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
        raise MalformedBody("Strings must not contain NUL characters.")
    return parsed


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def guard_request_body() -> None:
    """before_request: content type and JSON syntax are checked once, before any handler."""
    if any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        # The same rule as for bodies: PostgreSQL text cannot hold NUL (e.g. a search `q=%00`).
        raise MalformedBody("Query parameters must not contain NUL characters.", code="malformed_query")
    if request.method not in BODY_METHODS:
        return
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw:
        g.json_body = core.missing
        return
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    g.json_body = parse_strict_json(raw)


class StrictParser(FlaskParser):
    """webargs parser that reads the body already parsed by `guard_request_body`."""

    def _raw_load_json(self, req):
        return g.get("json_body", core.missing)
