"""GET /me/export (PIPL art. 45): everything held about the citizen, as one JSON attachment,
streamed from one consistent snapshot, never with secrets or keyed hashes."""
from __future__ import annotations

import datetime as dt
import json

from carbon_credits.services import privacy
from models import db
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.conftest import assert_problem
from tests.rewards_support import REDEMPTIONS, create_reward, give_points, merchant

EXPORT = "/api/v1/me/export"


def export(client, user) -> dict:
    r = client.get(EXPORT, headers=user.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/json"
    assert r.headers["Content-Disposition"].startswith("attachment; filename=")
    assert "no-store" in r.headers["Cache-Control"]
    return json.loads(r.get_data(as_text=True))


def keys_anywhere(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*map(keys_anywhere, value.values()))
    if isinstance(value, list):
        return set().union(*map(keys_anywhere, value)) if value else set()
    return set()


def test_export_holds_every_kind_of_data_about_me(client, app, actors, seeded, operator,  # noqa: F811
                                                  rider):  # noqa: F811
    old_card = actors.partner("transit_operator")
    binding_id = actors.bind(rider, old_card, "OLD-CARD-7777")
    assert client.delete(f"/api/v1/me/bindings/{binding_id}", headers=rider.headers).status_code == 200
    send_batch(client, operator, [{**trip(recent(3)), "external_id": "T-1",
                                   "external_ref": "CARD-0001"}])
    _, staff = merchant(actors)
    reward = create_reward(client, staff)
    give_points(app, [rider.id], 500)
    voucher = client.post(REDEMPTIONS, json={"reward_id": reward["id"]}, headers=rider.headers)
    assert voucher.status_code == 201, voucher.json
    client.patch("/api/v1/me", json={"leaderboard_visibility": "pseudonym"}, headers=rider.headers)

    body = export(client, rider)
    assert body["format"] == privacy.EXPORT_FORMAT
    profile = body["profile"]
    assert profile["id"] == str(rider.id) and profile["email"] == rider.email
    assert profile["leaderboard_visibility"] == "pseudonym"
    assert profile["leaderboard_pseudonym"].startswith("Citizen ")
    assert profile["points"] == {"balance": 970 + 500 - 100, "reserved": 100}

    by_status = {b["status"]: b for b in body["bindings"]}
    assert set(by_status) == {"active", "withdrawn"}
    withdrawn = by_status["withdrawn"]
    assert withdrawn["external_ref_hint"] == "7777" and withdrawn["withdrawn_at"]
    assert withdrawn["granted_at"] and withdrawn["notice_version"] and withdrawn["scopes"]
    assert withdrawn["partner_name"] and withdrawn["purpose"]

    (action,) = body["actions"]
    assert action["status"] == "credited" and action["inputs"] and action["breakdown"]
    assert action["methodology_code"] == "SH-METRO" and action["points"] == 970

    kinds = [entry["kind"] for entry in body["statement"]]
    assert kinds == ["earn", "earn", "reserve"]
    assert [e["change"] for e in body["statement"]] == [970, 500, -100]

    (redemption,) = body["redemptions"]
    assert redemption["voucher_code"] == voucher.json["voucher_code"].replace("-", "") or \
        redemption["voucher_code"] == voucher.json["voucher_code"]
    assert redemption["reward_title"] == reward["title"] and redemption["status"] == "reserved"

    assert body["sessions"] and all(s["user_id"] == str(rider.id) for s in body["sessions"])
    audited = {entry["action"] for entry in body["audit_entries"]}
    assert {"binding.request", "binding.withdraw", "redemption.reserve",
            "user.profile_update"} <= audited

    held = keys_anywhere(body)
    assert not held & {"password_hash", "code_hash", "new_password_hash",
                       "confirmation_code_hash", "external_ref_hash", "family_id"}
    raw = json.dumps(body)
    assert "OLD-CARD" not in raw and "CARD-0001" not in raw  # only the hint is held


def test_export_of_a_long_history_is_streamed_in_chunks(client, app, actors, seeded, operator,  # noqa: F811
                                                        rider, monkeypatch):  # noqa: F811
    """Three hundred trips over the claim window: every one is in the export, which leaves the
    server as several chunks (not one string built in memory)."""
    monkeypatch.setattr(privacy, "_FLUSH_CHARS", 16 * 1024)
    start = recent(24 * 6)
    records = [{**trip(start + dt.timedelta(minutes=25 * i)), "external_id": f"T-{i}",
                "external_ref": "CARD-0001"} for i in range(300)]
    r = send_batch(client, operator, records)
    assert r.status_code == 200, r.json
    response = client.get(EXPORT, headers=rider.headers, buffered=False)
    assert response.status_code == 200 and response.is_streamed
    chunks = list(response.iter_encoded())
    response.close()
    assert len(chunks) > 5
    body = json.loads(b"".join(chunks))
    assert len(body["actions"]) == 300
    assert len({a["external_id"] for a in body["actions"]}) == 300
    assert sum(1 for e in body["statement"] if e["kind"] == "earn") == \
        sum(1 for a in body["actions"] if a["points"] > 0)


def test_export_reads_one_snapshot(client, app, actors, monkeypatch):
    """A row committed by another connection while the export streams is not in it."""
    import threading
    from carbon_credits.services.audit import record_audit
    from carbon_credits.services.uow import unit_of_work
    monkeypatch.setattr(privacy, "_FLUSH_CHARS", 1)  # a chunk per row
    citizen = actors.user("citizen")

    def audit_meanwhile():
        with app.app_context():
            with unit_of_work():
                record_audit(action="test.meanwhile", object_type="user", object_id=citizen.id,
                             actor_user_id=citizen.id)
            db.session.remove()

    with app.test_request_context():
        chunks = privacy.export_personal_data(user_id=citizen.id)
        first = next(chunks)  # the snapshot is taken: the sessions are being read
        writer = threading.Thread(target=audit_meanwhile)
        writer.start()
        writer.join(timeout=60)
        rest = "".join(chunks)
        db.session.remove()
    body = json.loads(first + rest)
    assert "test.meanwhile" not in {e["action"] for e in body["audit_entries"]}
    assert "test.meanwhile" in {e["action"] for e in export(client, citizen)["audit_entries"]}


def test_export_needs_a_signed_in_user(client):
    assert_problem(client.get(EXPORT), 401)
