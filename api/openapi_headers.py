"""The conditional headers of the API document, declared in one place.

An apispec plugin looks at the view behind each operation as it is documented and declares what
the view honours, so a handler that starts reading a header cannot leave the document behind:
- a view that reads `If-Match` (its code names the header): the `If-Match` parameter, 412 and
  428 responses, and the `ETag` response header;
- a view that answers with an `ETag` header: the `ETag` response header;
- a view that answers through `api.caching` (open data): `If-None-Match`, 304, `ETag` and
  `Cache-Control`.
Every operation also takes `Accept-Language`, and every JSON answer says `Content-Language` (api/i18n.py, docs/localisation.md).
`Idempotency-Key` is declared by `api.idempotency.idempotent` itself and the partner signature
headers are security schemes (api/__init__.py). Parameters already declared by hand are kept.
"""
from __future__ import annotations

import inspect
import types

from apispec import BasePlugin

from api import caching

IF_MATCH = {"in": "header", "name": "If-Match", "required": False,
            "schema": {"type": "string"},
            "description": "The `ETag` of the object as you read it; a stale one is refused with "
                           "412 (lost-update guard)."}
IF_NONE_MATCH = {"in": "header", "name": "If-None-Match", "required": False,
                 "schema": {"type": "string"},
                 "description": "The `ETag` you hold; 304 without a body when it is current."}
ETAG_HEADER = {"description": "Strong entity tag of this representation",
               "schema": {"type": "string"}}
CACHE_CONTROL_HEADER = {"description": "`public, max-age=300`", "schema": {"type": "string"}}
CACHING_HELPERS = (caching.public_json, caching.public_response)
ACCEPT_LANGUAGE = {"in": "header", "name": "Accept-Language", "required": False,
                   "schema": {"type": "string"}, "example": "zh-CN",
                   "description": "`zh-CN` (or `zh`, `zh-Hans`) for Simplified Chinese, else "
                                  "English: the language of titles, messages and problem "
                                  "details. Codes and data never change with it."}
CONTENT_LANGUAGE_HEADER = {"description": "`en` or `zh-CN`: the language of the answer's text",
                           "schema": {"type": "string", "enum": ["en", "zh-CN"]}}
JSON_MEDIA = ("application/json", "application/problem+json")


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _helpers(func, code: types.CodeType):
    """Functions of the view's own module that it calls (one level: `_version_response`)."""
    for name in code.co_names:
        helper = func.__globals__.get(name)
        if (isinstance(helper, types.FunctionType) and helper is not func
                and helper.__module__ == func.__module__):
            yield helper


def view_traits(view) -> set[str]:
    """What a view does with conditional headers, read from its (unwrapped) code and that of
    the module's own functions it calls."""
    func = inspect.unwrap(view)
    code = getattr(func, "__code__", None)
    if code is None:
        return set()
    traits = set()
    for owner in (func, *_helpers(func, code)):
        for part in _code_objects(owner.__code__):
            consts = {c for c in part.co_consts if isinstance(c, str)}
            if "If-Match" in consts:
                traits.add("if_match")
            if "ETag" in consts:
                traits.add("etag")
            if any(owner.__globals__.get(name) in CACHING_HELPERS for name in part.co_names):
                traits.add("cached")
    return traits


def _add_parameter(operation: dict, parameter: dict) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("in") == "header" and p.get("name", "").lower() == parameter["name"].lower()
               for p in parameters if isinstance(p, dict)):
        parameters.append(dict(parameter))


def _success_responses(operation: dict):
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2") and isinstance(response, dict):
            yield response


def _add_response_headers(operation: dict, **headers) -> None:
    for response in _success_responses(operation):
        response.setdefault("headers", {}).update(headers)


def declare_language(operation: dict) -> None:
    """Every operation takes Accept-Language; every JSON success answer says its language.
    Written out in full on each (not a `$ref`): readers of the document find it like any
    other parameter."""
    _add_parameter(operation, ACCEPT_LANGUAGE)
    for response in _success_responses(operation):
        if set(response.get("content", {})) & set(JSON_MEDIA):
            response.setdefault("headers", {})["Content-Language"] = dict(CONTENT_LANGUAGE_HEADER)


def declare(operation: dict, traits: set[str]) -> None:
    """Add to one operation what its view's traits say it honours."""
    responses = operation.setdefault("responses", {})
    if "if_match" in traits:
        _add_parameter(operation, IF_MATCH)
        responses.setdefault("412", "PRECONDITION_FAILED")
    if traits & {"if_match", "etag"}:
        _add_response_headers(operation, ETag=ETAG_HEADER)
    if "cached" in traits:
        _add_parameter(operation, IF_NONE_MATCH)
        _add_response_headers(operation, ETag=ETAG_HEADER, **{"Cache-Control": CACHE_CONTROL_HEADER})
        responses.setdefault("304", {"description": "Not modified: your copy is current"})


class ConditionalHeadersPlugin(BasePlugin):
    """apispec plugin: `declare` on every operation flask-smorest documents."""

    def __init__(self, app):
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions.get(rule.endpoint)
        if view is None:
            return
        traits = view_traits(view)
        for operation in operations.values():
            declare_language(operation)
            if traits:
                declare(operation, traits)


def install(app, spec) -> None:
    """Before the blueprints register: their operations pass through the plugin."""
    plugin = ConditionalHeadersPlugin(app)
    plugin.init_spec(spec)
    spec.plugins.append(plugin)
