"""Deny by default: every operation declares who may call it, and the declaration holds.

The test walks the OpenAPI document, so an endpoint added later is covered automatically.
"""
from __future__ import annotations

import re
import uuid

import pytest

from carbon_credits.domain.vocabulary import ROLES
from tests.conftest import assert_problem

SYSTEM_PATHS = {"/api/v1/openapi.json"}
# What a verifier may change: nothing but their own statements, password and sessions.
VERIFIER_WRITES = {
    ("post", "/api/v1/admin/certificates/lots/{lot_id}/verifications"),
    ("post", "/api/v1/me/password"), ("delete", "/api/v1/me/sessions/{session_id}"),
    ("patch", "/api/v1/me"), ("delete", "/api/v1/me"), ("post", "/api/v1/auth/logout"),
}


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


def test_a_verifier_changes_nothing_but_their_statements(client):
    """Verifiers are read-only on the scheme (issue 15, item 6a): the only operations declaring
    them that are not reads are the verification statement and their own account's. With
    `test_no_operation_is_reachable_with_the_wrong_role[verifier]`, every other admin and
    auditor operation that changes something answers them 403."""
    writes = {(method, path) for path, method, op in _operations(client)
              if "verifier" in op["x-roles"] and method != "get"}
    assert writes == VERIFIER_WRITES
    reads = {path for path, method, op in _operations(client)
             if "verifier" in op["x-roles"] and method == "get" and path.startswith("/api/v1/admin/")}
    assert reads == {"/api/v1/admin/actions", "/api/v1/admin/actions/{action_id}",
                     "/api/v1/admin/certificates/lots", "/api/v1/admin/certificates/lots/{lot_id}",
                     "/api/v1/admin/certificates/lots/{lot_id}/actions",
                     "/api/v1/admin/certificates/lots/{lot_id}/verifications"}


def test_every_admin_write_refuses_a_verifier(client, actors):
    verifier = actors.user("verifier")
    refused = 0
    for path, method, op in _operations(client):
        if method == "get" or (method, path) in VERIFIER_WRITES or op["x-roles"] in (["public"], ["partner"]):
            continue
        r = client.open(_concrete(path), method=method.upper(), headers=verifier.headers, json={})
        assert_problem(r, 403, "role_required")
        refused += 1
    assert refused > 30
