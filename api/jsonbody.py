"""Strict request bodies: JSON only, at most 1 MiB, no NaN/Infinity, numbers as Decimal."""
from __future__ import annotations

import json
from decimal import Decimal

from flask import g, request
from marshmallow import RAISE
from webargs import core
from webargs.flaskparser import FlaskParser

from carbon_credits.domain.errors import DomainError

MAX_BODY_BYTES = 1024 * 1024
# No body of this API nests deeper than a few levels; 32 leaves room and stays far below the
# interpreter's recursion limit (json.loads and marshmallow both recurse).
MAX_JSON_DEPTH = 32
# DELETE too: DELETE /me carries the re-entered password.
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


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
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise MalformedBody(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.")
    try:
        # Decimal keeps every digit; '1e400' stays a finite Decimal that range checks refuse.
        parsed = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise MalformedBody(f"Malformed JSON: {exc}") from None
    except RecursionError:  # unreachable after the depth check; never a 500 if it changes
        raise MalformedBody(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.") from None
    _refuse_unstorable_strings(parsed)
    return parsed


def unstorable_text(value: str) -> str | None:
    """Why PostgreSQL text (and UTF-8) cannot hold `value`, or None if it can."""
    if "\x00" in value:
        return "NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800", legal in JSON escapes
        return "unpaired surrogates"
    return None


def _nesting_depth(text: str) -> int:
    """The deepest bracket nesting in JSON text, outside strings, without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_unstorable_strings(parsed) -> None:
    """Every key and string value must be storable text: refused here, not in the database."""
    stack = [parsed]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            reason = unstorable_text(value)
            if reason:
                raise MalformedBody(f"Strings must not contain {reason}.")
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def guard_request_body() -> None:
    """before_request: content type and JSON syntax are checked once, before any handler.
    The console's HTML forms post form-encoded bodies; they are checked there (CSRF first)."""
    if request.method not in BODY_METHODS or request.path.startswith("/console/"):
        return
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw:
        g.json_body = core.missing
        return
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    g.json_body = parse_strict_json(raw)


class StrictParser(FlaskParser):
    """webargs parser that reads the body already parsed by `guard_request_body`; unknown
    query parameters are refused like unknown body fields (api/hardening.py does it for
    endpoints with no query schema)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "query": RAISE, "querystring": RAISE}

    def _raw_load_json(self, req):
        return g.get("json_body", core.missing)
