"""The single-credit path rebuilt for speed keeps its guarantees: versions cached per process
but never stale across workers, the ledger account opened with the citizen, and a request on a
dead pooled connection (PostgreSQL restarted) run again rather than refused."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select

from models import Action, LedgerAccount, db
from tests.api.test_actions import ACTIONS, operator, recent, rider, seeded, trip  # noqa: F401

WALK = dict(minutes=30, km=2, mode="walk")


def _in_another_process(app, sql: str) -> None:
    """Run `sql` from a separate OS process, as another worker (or an operator) would."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    script = ("import sqlalchemy as sa, sys\n"
              "engine = sa.create_engine(sys.argv[1])\n"
              "with engine.begin() as c:\n"
              "    c.execute(sa.text(sys.argv[2]))\n")
    subprocess.run([sys.executable, "-c", script, url, sql], check=True, timeout=60)


def test_a_version_retired_by_another_process_is_seen_on_the_next_request(client, app, seeded,
                                                                            rider):
    first = client.post(ACTIONS, json=trip(recent(5), **WALK), headers=rider.headers)
    assert first.json["status"] == "credited", first.json  # the walk version is now cached
    ended = "CURRENT_TIMESTAMP" if "sqlite" not in app.config["SQLALCHEMY_DATABASE_URI"] else None
    cutoff = ("now() - interval '4 hours'" if ended else
              "strftime('%Y-%m-%d %H:%M:%f', 'now', '-4 hours')")
    _in_another_process(app, f"UPDATE methodology_versions SET status = 'retired', "
                             f"effective_until = {cutoff} WHERE status = 'approved' AND "
                             f"methodology_id IN (SELECT id FROM methodologies "
                             f"WHERE scope_key = 'transit:walk')")
    second = client.post(ACTIONS, json=trip(recent(3), **WALK), headers=rider.headers)
    assert second.status_code == 201
    assert second.json["status"] == "rejected", second.json
    assert [r["code"] for r in second.json["reasons"]] == ["methodology_not_in_force"]
    # Before the cut-off the retired version still explains (and credits) what happened.
    earlier = client.post(ACTIONS, json=trip(recent(6), **WALK), headers=rider.headers)
    assert earlier.json["status"] == "credited", earlier.json


def test_a_citizens_ledger_account_is_opened_with_the_citizen(client, app, actors):
    citizen = actors.user("citizen")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerAccount)
                                 .where(LedgerAccount.user_id == citizen.id)) == 1
        db.session.remove()


@pytest.mark.postgres
def test_a_request_on_a_dead_pooled_connection_runs_again_once(client, app, seeded, rider):
    import psycopg
    assert client.get("/api/v1/me", headers=rider.headers).status_code == 200  # pool warmed
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:  # what a server restart does to them
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                               ).fetchone()[0]
    assert killed >= 1
    r = client.post(ACTIONS, json=trip(recent(2), **WALK),
                    headers={**rider.headers, "Idempotency-Key": "after-restart"})
    assert r.status_code == 201 and r.json["status"] == "credited", r.json
    assert client.get("/api/v1/me", headers=rider.headers).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Action)) == 1
        db.session.remove()


@pytest.mark.parametrize("case", ["revoked", "wrong_role", "bad_key"])
def test_a_failed_token_check_sent_with_the_key_claim_leaves_nothing(client, app, seeded, rider,
                                                                     actors, case):
    """The token check rides with the Idempotency-Key claim (one round trip): a token that
    fails it is a 401 (403 for a role that may not), and the claim goes with the rollback."""
    from tests.conftest import all_table_counts, assert_problem
    headers = {**rider.headers, "Idempotency-Key": "k-1"}
    if case == "revoked":
        assert client.post("/api/v1/auth/logout", headers=rider.headers).status_code in (200, 204)
    elif case == "wrong_role":
        headers = {**actors.user("auditor").headers, "Idempotency-Key": "k-1"}
    else:
        headers = {"Authorization": "Bearer not-a-token", "Idempotency-Key": "bad key\t"}
    before = all_table_counts(app)
    r = client.post(ACTIONS, json=trip(recent(2), **WALK), headers=headers)
    assert_problem(r, 403 if case == "wrong_role" else 401)
    assert all_table_counts(app) == before


def _stored_record(app, key: str):
    from models import IdempotencyRecord
    with app.app_context():
        record = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
        db.session.remove()
        return record


def test_a_replayed_claim_is_the_first_answer_rebuilt_even_after_a_reversal(client, app, seeded,
                                                                            rider, actors):
    """The idempotency record holds a reference, not the 2 KB body; a replay rebuilds the body
    from the action, with the fields a later review or reversal changed put back as first sent."""
    headers = {**rider.headers, "Idempotency-Key": "credit-1"}
    body = trip(recent(2), **WALK)
    first = client.post(ACTIONS, json=body, headers=headers)
    assert first.status_code == 201 and first.json["status"] == "credited", first.json
    record = _stored_record(app, "credit-1")
    assert record.response_body is None and record.response_ref["id"] == first.json["id"]
    auditor = actors.user("auditor")
    reversed_ = client.post(f"/api/v1/admin/actions/{first.json['id']}/reverse",
                            json={"reason": "fraud found"}, headers=auditor.headers)
    assert reversed_.status_code == 200 and reversed_.json["status"] == "reversed"
    replay = client.post(ACTIONS, json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == first.get_data()


def test_rejected_claims_are_referenced_and_pending_ones_stored_whole(client, app, seeded, rider):
    late = trip(recent(24 * 8), **WALK)  # outside the 7-day claim window: rejected
    first = client.post(ACTIONS, json=late, headers={**rider.headers, "Idempotency-Key": "late"})
    assert first.json["status"] == "rejected", first.json
    assert _stored_record(app, "late").response_ref is not None
    replay = client.post(ACTIONS, json=late, headers={**rider.headers, "Idempotency-Key": "late"})
    assert replay.get_data() == first.get_data()


def test_the_action_stores_parameters_by_name_and_shows_them_whole(client, app, seeded, rider):
    r = client.post(ACTIONS, json=trip(recent(2), **WALK), headers=rider.headers)
    shown = r.json["breakdown"]
    assert shown[0]["kind"] == "parameter" and shown[0]["source"] and shown[0]["value"]
    with app.app_context():
        stored = db.session.get(Action, uuid.UUID(r.json["id"])).breakdown
        db.session.remove()
    assert [s for s in stored if s["kind"] == "parameter"] == [
        {"step": s["step"], "kind": "parameter", "name": s["name"]}
        for s in shown if s["kind"] == "parameter"]
    assert [s for s in stored if s["kind"] != "parameter"] == [
        s for s in shown if s["kind"] != "parameter"]
    again = client.get(f"{ACTIONS}/{r.json['id']}", headers=rider.headers)
    assert again.json["breakdown"] == shown
