"""The hardened edge: the request line, the headers we read and the query parameters are checked
once, before any handler, so hostile input is a 4xx problem and never reaches the database.

Each check closes a class of input, not one value (docs/reliability.md, "The hardened edge"):
- path and query must be valid UTF-8 text PostgreSQL can store (no NUL, no lone surrogates);
- every header the service reads is visible ASCII of bounded length;
- integer path segments are bounded (a 30-digit version number is a 404, not an overflow);
- query parameters an endpoint does not declare are refused (422), as unknown body fields are.
"""
from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from flask import current_app, request
from werkzeug.routing import IntegerConverter

from api.jsonbody import MalformedBody, unstorable_text
from carbon_credits.domain.errors import ValidationFailed

# Every request header the service reads (api/auth.py, api/idempotency.py, the If-Match
# handlers). X-Request-ID is not here: an unusable one is replaced, never refused.
READ_HEADERS = ("Authorization", "X-Partner-Key", "X-Timestamp", "X-Signature",
                "Idempotency-Key", "If-Match", "If-None-Match")
MAX_HEADER_LENGTH = 4096
# Headers with a problem code of their own keep it (clients already handle it).
HEADER_PROBLEM_CODES = {"Idempotency-Key": "bad_idempotency_key"}
HEADER_VALUE_RE = re.compile(r"^[\x20-\x7e\t]*$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# PostgreSQL INTEGER: the widest integer a path segment addresses (methodology versions).
MAX_PATH_INT = 2 ** 31 - 1


class BadHeader(MalformedBody):
    code = "bad_header"


class MalformedRequestLine(MalformedBody):
    code = "malformed_query"


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` with an upper bound: larger values match no route (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_PATH_INT, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _strict_utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def guard_request_line() -> None:
    """before_request: the path and the query string are valid UTF-8, storable text."""
    try:
        raw_path = request.environ.get("PATH_INFO", "").encode("latin-1")
    except UnicodeEncodeError:  # a server that already decoded the path: take it as text
        raw_path = request.path.encode("utf-8", "surrogatepass")
    path = _strict_utf8(raw_path)
    # U+FFFD: a server (or the test client) that decoded invalid UTF-8 with "replace" first.
    if path is None or CONTROL_RE.search(path) or unstorable_text(path) or "\ufffd" in path:
        raise MalformedRequestLine("The path must be UTF-8 text without control characters.",
                                   code="malformed_path")
    query = request.query_string
    if query and _strict_utf8(unquote_to_bytes(query.replace(b"+", b" "))) is None:
        raise MalformedRequestLine("The query string is not valid UTF-8.")
    for name, value in request.args.items(multi=True):
        if unstorable_text(name) or unstorable_text(value):
            # PostgreSQL text cannot hold NUL (e.g. a search `q=%00`) or lone surrogates.
            raise MalformedRequestLine(
                "Query parameters must not contain NUL characters or unpaired surrogates.")


def guard_request_headers() -> None:
    """before_request: every header the API reads is printable ASCII of bounded length.
    (/metrics checks its own bearer token and answers 403, see api/edge.py.)"""
    if not request.path.startswith("/api/"):
        return
    errors = {}
    for name in READ_HEADERS:
        value = request.headers.get(name)
        if value is None:
            continue
        if len(value) > MAX_HEADER_LENGTH:
            errors[name] = [f"At most {MAX_HEADER_LENGTH} characters."]
        elif not HEADER_VALUE_RE.match(value):
            errors[name] = ["Only printable ASCII characters are allowed."]
    if errors:
        first = next(iter(errors))
        raise BadHeader(f"Header {first} is not valid.", errors=errors,
                        code=HEADER_PROBLEM_CODES.get(first, BadHeader.code))


_declared_query: dict[str, frozenset[str]] = {}


def declared_query_names(view) -> frozenset[str]:
    """Query parameter names a view declares: its query schemas' fields and documented ones."""
    doc = getattr(view, "_apidoc", {}) or {}
    names = set()
    for parameter in doc.get("arguments", {}).get("parameters", []):
        if parameter.get("in") not in ("query", "querystring"):
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) else schema
        names.update(field.data_key or name for name, field in schema.fields.items()
                     if not field.dump_only)
    for parameter in doc.get("manual_doc", {}).get("parameters", []) or []:
        if isinstance(parameter, dict) and parameter.get("in") == "query":
            names.add(parameter["name"])
    return frozenset(names)


def refuse_unknown_query_params() -> None:
    """before_request: a query parameter the endpoint does not declare is a 422, so a filter
    that does not exist (`/admin/actions?user_id=...`) never silently returns everything."""
    if not request.args or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "_access", None) is None:
        return  # the OpenAPI document and its UI; undeclared routes are refused elsewhere
    declared = _declared_query.get(request.endpoint)
    if declared is None:
        declared = _declared_query[request.endpoint] = declared_query_names(view)
    unknown = sorted(set(request.args) - declared)
    if unknown:
        raise ValidationFailed(f"{unknown[0]}: Unknown field.",
                               errors={name: ["Unknown field."] for name in unknown})


def install(app) -> None:
    """Bound integer path segments. Called before blueprints register their rules."""
    app.url_map.converters["int"] = BoundedIntegerConverter
