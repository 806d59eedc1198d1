"""Command line: create-user, create-partner, seed."""
from __future__ import annotations

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
