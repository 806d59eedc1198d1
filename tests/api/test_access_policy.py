"""Deny by default: every operation declares who may call it, and the declaration holds.

The test walks the OpenAPI document, so an endpoint added later is covered automatically.
"""
from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import assert_problem

ROLES = ("citizen", "merchant", "admin", "auditor")
SYSTEM_PATHS = {"/api/v1/openapi.json"}


def _operations(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def _concrete(path: str) -> str:
    def fill(match):
        name = match.group(1)
        if name in ("code",):
            return "SH-METRO"
        if name in ("v", "a", "b", "version"):
            return "1"
        if name.endswith("serial"):
            return "X-1"
        return str(uuid.uuid4())
    return re.sub(r"\{([^}]+)\}", fill, path)


def test_every_operation_declares_its_roles(client):
    missing = [f"{m.upper()} {p}" for p, m, op in _operations(client) if not op.get("x-roles")]
    assert missing == []


def test_every_api_route_has_an_access_rule(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.startswith("/api/docs") \
                or rule.rule in SYSTEM_PATHS or rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "_access", None) is None:
            undeclared.append(rule.rule)
    assert undeclared == []


def test_no_protected_operation_is_reachable_without_credentials(client):
    checked = 0
    for path, method, op in _operations(client):
        roles = op["x-roles"]
        if roles == ["public"]:
            continue
        r = client.open(_concrete(path), method=method.upper(), json={} if method != "get" else None)
        assert r.status_code == 401, f"{method.upper()} {path} answered {r.status_code} without credentials"
        assert r.mimetype == "application/problem+json"
        checked += 1
    assert checked > 5


@pytest.mark.parametrize("role", ROLES)
def test_no_operation_is_reachable_with_the_wrong_role(client, actors, role):
    user = actors.user(role)
    for path, method, op in _operations(client):
        roles = op["x-roles"]
        if roles in (["public"], ["partner"]) or role in roles:
            continue
        r = client.open(_concrete(path), method=method.upper(), headers=user.headers,
                        json={} if method != "get" else None)
        assert r.status_code == 403, f"{role} reached {method.upper()} {path}: {r.status_code}"


def test_partner_operations_refuse_user_tokens(client, actors):
    admin = actors.user("admin")
    for path, method, op in _operations(client):
        if op["x-roles"] == ["partner"]:
            r = client.open(_concrete(path), method=method.upper(), headers=admin.headers, json={})
            assert_problem(r, 401)
