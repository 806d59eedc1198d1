"""Every header a route honours is declared in the live API document: conditional requests
(`If-Match`, `If-None-Match`, `ETag`), `Idempotency-Key`, and the partner signature headers.

What a route honours is found here from its source text (not from api/openapi_headers.py, which
reads compiled code), so the two must agree."""
from __future__ import annotations

import inspect
import re

import pytest

from api import caching

PARTNER_SCHEMES = {"partnerKey", "partnerTimestamp", "partnerSignature"}


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def _header_parameters(spec, operation) -> set[str]:
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        if parameter["in"] == "header":
            names.add(parameter["name"])
    return names


def _response_headers(operation) -> set[str]:
    names = set()
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            names |= set(response.get("headers", {}))
    return names


def _source(view) -> str:
    """The view's source and that of its module's helpers it calls (one level)."""
    func = inspect.unwrap(view)
    text = inspect.getsource(func)
    for name in re.findall(r"\b(_[a-z_]+)\(", text):
        helper = func.__globals__.get(name)
        if inspect.isfunction(helper) and helper.__module__ == func.__module__:
            text += inspect.getsource(helper)
    return text


def _cached_names(func) -> set[str]:
    return {name for name, value in func.__globals__.items()
            if value in (caching.public_json, caching.public_response)}


@pytest.fixture(scope="module")
def documented(app):
    with app.test_client() as client:
        spec = client.get("/api/v1/openapi.json").json
    by_rule = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            by_rule[(path, method.lower())] = app.view_functions[rule.endpoint]
    return spec, [(path, method, op, by_rule[(path, method)])
                  for path, method, op in _operations(spec)]


def test_every_if_match_route_declares_it_with_412_and_etag(documented):
    spec, operations = documented
    found = 0
    for path, method, operation, view in operations:
        if '"If-Match"' in _source(view):
            found += 1
            assert "If-Match" in _header_parameters(spec, operation), (method, path)
            assert "412" in operation["responses"], (method, path)
            assert "ETag" in _response_headers(operation), (method, path)
    assert found >= 2  # the reward PATCH and the methodology draft PATCH


def test_every_route_answering_with_an_etag_declares_it(documented):
    _, operations = documented
    for path, method, operation, view in operations:
        if '"ETag"' in _source(view):
            assert "ETag" in _response_headers(operation), (method, path)


def test_every_cached_route_declares_if_none_match_304_and_etag(documented):
    spec, operations = documented
    found = 0
    for path, method, operation, view in operations:
        source = _source(view)
        if any(re.search(rf"\b{name}\(", source) for name in _cached_names(inspect.unwrap(view))):
            found += 1
            assert "If-None-Match" in _header_parameters(spec, operation), (method, path)
            assert "304" in operation["responses"], (method, path)
            assert {"ETag", "Cache-Control"} <= _response_headers(operation), (method, path)
    assert found >= 10


def test_every_idempotent_route_declares_the_key(documented):
    spec, operations = documented
    for path, method, operation, view in operations:
        if getattr(view, "_idempotent", False):
            assert "Idempotency-Key" in _header_parameters(spec, operation), (method, path)


def test_every_partner_route_requires_the_three_signature_headers(documented):
    spec, operations = documented
    schemes = spec["components"]["securitySchemes"]
    assert {schemes[s]["name"] for s in PARTNER_SCHEMES} == {
        "X-Partner-Key", "X-Timestamp", "X-Signature"}
    partner_routes = [(p, m, op) for p, m, op, view in operations
                      if (getattr(view, "_access", None) or {}).get("kind") == "partner"]
    assert len(partner_routes) >= 3
    for path, method, operation in partner_routes:
        assert any(set(requirement) == PARTNER_SCHEMES for requirement in operation["security"]), \
            (method, path)


def test_declared_if_none_match_really_answers_304(client):
    first = client.get("/.well-known/carbon-credits-keys")
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get("/.well-known/carbon-credits-keys", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


def test_every_operation_takes_accept_language_and_json_answers_say_their_language(documented,
                                                                                  client):
    spec, operations = documented
    for path, method, operation, _ in operations:
        assert "Accept-Language" in _header_parameters(spec, operation), (method, path)
        for status, response in operation["responses"].items():
            if status.startswith("2") and "application/json" in response.get("content", {}):
                assert "Content-Language" in response.get("headers", {}), (method, path, status)
    r = client.get("/api/v1/methodologies", headers={"Accept-Language": "zh-CN"})
    assert r.headers["Content-Language"] == "zh-CN"
