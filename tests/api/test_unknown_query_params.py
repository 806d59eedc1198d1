"""Unknown query parameters are refused (422 naming them), as unknown body fields are: a filter
that does not exist must never silently return everything."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import assert_problem


@pytest.fixture
def tokens(app, actors):
    users = actors.one_of_each_role()
    return {role: user.headers for role, user in users.items()}


def _operations(client, method: str):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        operation = operations.get(method)
        if operation is None:
            continue
        url = re.sub(r"\{[a-z_]+\}", lambda m: "1" if m.group(0) in ("{v}", "{a}", "{b}")
                     else str(uuid.uuid4()) if m.group(0).endswith("_id}") else "BJ-WALK", path)
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        yield path, url, operation.get("x-roles", ["public"]), declared


def _headers_for(roles, tokens):
    role = next((r for r in ("admin", "auditor", "citizen", "merchant") if r in roles), None)
    return tokens[role] if role else {}


def test_every_get_operation_refuses_an_unknown_query_parameter(client, tokens):
    checked = []
    for path, url, roles, _declared in _operations(client, "get"):
        response = client.get(url, query_string={"no_such_filter": "1"},
                              headers=_headers_for(roles, tokens))
        body = assert_problem(response, 422, "validation")
        assert body["errors"] == {"no_such_filter": ["Unknown field."]}, (path, body)
        checked.append(path)
    assert len(checked) > 40


def test_every_post_operation_refuses_an_unknown_query_parameter(client, tokens):
    for path, url, roles, _declared in _operations(client, "post"):
        response = client.post(url, query_string={"dry_run": "1"}, json={},
                               headers=_headers_for(roles, tokens))
        assert response.status_code in (401, 422), (path, response.get_data()[:200])
        if response.status_code == 422:
            assert response.get_json()["errors"].get("dry_run") == ["Unknown field."], path


def test_admin_actions_by_user_id_is_refused_not_everybody(client, tokens):
    """`user_id` is not a filter of /admin/actions: it used to return everybody's actions."""
    response = client.get("/api/v1/admin/actions", query_string={"user_id": str(uuid.uuid4())},
                          headers=tokens["admin"])
    body = assert_problem(response, 422, "validation")
    assert body["errors"] == {"user_id": ["Unknown field."]}


def test_every_unknown_parameter_is_named(client, tokens):
    response = client.get("/api/v1/rewards?limit=5&sort=desc&page=2")
    body = assert_problem(response, 422, "validation")
    assert body["errors"] == {"page": ["Unknown field."], "sort": ["Unknown field."]}


def test_declared_parameters_still_work(client, tokens):
    assert client.get("/api/v1/rewards?limit=5").status_code == 200
    assert client.get("/api/v1/admin/actions?limit=5&status=credited",
                      headers=tokens["admin"]).status_code == 200
    assert client.get("/api/v1/leaderboard?period=week", headers=tokens["citizen"]).status_code == 200


def test_routes_without_query_parameters_refuse_any(client, tokens):
    response = client.get("/api/v1/me", query_string={"fields": "email"}, headers=tokens["citizen"])
    assert_problem(response, 422, "validation")
    assert_problem(client.get("/healthz?probe=1"), 422, "validation")  # every documented route
