"""Schema fuzzing: every operation in the OpenAPI document, called with valid auth for a role
it allows, must never answer 5xx, must match its documented response schema, and must refuse
invalid data with a 4xx. Bounded example counts keep it inside the CI budget
(FUZZ_EXAMPLES, default 15 per operation)."""
from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def seeded(app):
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        seed_all()


def test_every_operation_survives_generated_input(app, actors, seeded):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    users = actors.one_of_each_role()
    partner = actors.partner("transit_operator")
    client = app.test_client()
    failures = []
    operations = 0
    executed = {"calls": 0, "statuses": {}}
    for result in schema.get_all_operations():
        operation = result.ok()
        roles = operation.definition.raw.get("x-roles", ["public"])
        operations += 1

        run = _runner(operation, roles, client, partner, users, executed, actors)
        try:
            run()
        except Exception as error:  # collect all operations' failures, report together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:1500]}")
    print(f"fuzz: {operations} operations, {executed}")
    assert operations > 40 and executed["calls"] >= operations * 2, executed
    assert failures == [], "\n\n".join(failures)
    # Generated data must also reach the refusal paths, not only the happy ones.
    assert any(400 <= int(s) < 500 for s in executed["statuses"]), executed


def _runner(operation, roles, client, partner, users, executed, actors):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        if roles == ["partner"]:
            body = json.dumps(case.body if case.body is not None else {}).encode()
            response = client.open(case.formatted_path, method=case.method, data=body,
                                   headers=partner.signed(body), query_string=case.query)
        else:
            role = next((r for r in ("admin", "auditor", "citizen", "merchant") if r in roles), None)
            headers = dict(users[role].headers) if role else {}
            if operation.path.endswith("/auth/logout"):
                headers = actors.user("citizen").headers  # logout revokes: never the shared tokens
            response = case.call(headers=headers)
        executed["calls"] += 1
        code = str(response.status_code)
        executed["statuses"][code] = executed["statuses"].get(code, 0) + 1
        case.validate_response(response, checks=CHECKS)

    return run
