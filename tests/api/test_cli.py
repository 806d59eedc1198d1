"""Command line: create-user, create-partner, seed."""
from __future__ import annotations

import uuid

import pytest

from models import Partner, User
from tests.conftest import table_counts


def test_create_user_and_login(runner, client, app):
    result = runner.invoke(args=["create-user", "--email", "root@example.test", "--password",
                                 "a long password", "--role", "admin", "--role", "citizen"])
    assert result.exit_code == 0, result.output
    assert "admin, citizen" in result.output
    r = client.post("/api/v1/auth/login", json={"identifier": "root@example.test",
                                                "password": "a long password"})
    assert r.status_code == 200


def test_create_user_refuses_short_password_and_merchant_without_partner(runner, app):
    assert runner.invoke(args=["create-user", "--email", "a@example.test", "--password", "short"]).exit_code == 2
    r = runner.invoke(args=["create-user", "--email", "a@example.test", "--password", "long enough pw",
                            "--role", "merchant"])
    assert r.exit_code == 2
    assert table_counts(app, User)["users"] == 0


def test_create_partner_prints_secret_once(runner, app):
    result = runner.invoke(args=["create-partner", "--name", "Metro", "--kind", "transit_operator"])
    assert result.exit_code == 0
    assert "key_id: pk_" in result.output and "secret: sk_" in result.output
    assert table_counts(app, Partner)["partners"] == 1


def test_merchant_staff_user_via_cli(runner, app):
    out = runner.invoke(args=["create-partner", "--name", "Cafe", "--kind", "merchant"]).output
    partner_id = out.split("partner_id: ")[1].split()[0]
    r = runner.invoke(args=["create-user", "--email", "staff@example.test", "--password", "long enough pw",
                            "--role", "merchant", "--partner", partner_id])
    assert r.exit_code == 0, r.output


def test_seed_runs_twice(runner):
    assert runner.invoke(args=["seed"]).exit_code == 0
    assert runner.invoke(args=["seed"]).exit_code == 0


def _merchant(runner, kind: str = "merchant") -> str:
    out = runner.invoke(args=["create-partner", "--name", "Cafe", "--kind", kind]).output
    return out.split("partner_id: ")[1].split()[0]


def _staff_args(email: str, *extra: str) -> list[str]:
    return ["create-user", "--email", email, "--password", "long enough pw", *extra]


def test_create_user_makes_a_merchant_lead_who_manages_the_staff(runner, client, app):
    from models import AuditEntry
    partner_id = _merchant(runner)
    r = runner.invoke(args=_staff_args("lead@example.test", "--role", "merchant", "--partner",
                                       partner_id, "--merchant-lead"))
    assert r.exit_code == 0, r.output
    assert f"merchant lead of: {partner_id}" in r.output
    token = client.post("/api/v1/auth/login", json={"identifier": "lead@example.test",
                                                    "password": "long enough pw"}).get_json()
    staff = client.get("/api/v1/merchant/staff",
                       headers={"Authorization": f"Bearer {token['access_token']}"})
    assert staff.status_code == 200, staff.get_json()
    assert [s["email"] for s in staff.get_json()["items"]] == ["lead@example.test"]
    with app.app_context():
        from sqlalchemy import select

        from models import db
        actions = set(db.session.scalars(select(AuditEntry.action)))
        db.session.remove()
    assert {"user.register", "user.merchant_lead_set"} <= actions


@pytest.mark.parametrize("roles, partner, message", [
    (["--role", "citizen"], "merchant", "Only merchant staff"),  # a lead is merchant staff
    (["--role", "merchant", "--role", "admin"], "merchant", "Only merchant staff"),
    (["--role", "merchant"], "unknown", "Partner not found"),
    (["--role", "merchant"], "transit_operator", "merchant partner"),
])
def test_a_refused_merchant_lead_creates_nothing(runner, app, roles, partner, message):
    partner_id = str(uuid.uuid4()) if partner == "unknown" else _merchant(runner, partner)
    before = table_counts(app, User)
    r = runner.invoke(args=_staff_args("lead@example.test", *roles, "--partner", partner_id,
                                       "--merchant-lead"))
    assert r.exit_code == 1 and message in r.output, r.output
    assert table_counts(app, User) == before
