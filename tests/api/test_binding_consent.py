"""Bindings prove ownership (the operator confirms a one-time code) and record consent.

Holes reproduced (issue #12), each failing on the old code: anyone could bind any card, first
come first served; a second spelling of a card was a separate binding that took its records;
the 409 on a bound card told anyone that the card was registered."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select

from models import Binding
from tests.conftest import all_table_counts, assert_problem, redis_key_count

BINDINGS = "/api/v1/me/bindings"
CONFIRM = "/api/v1/partner/bindings/confirm"
BATCH = "/api/v1/partner/actions"
UTC = dt.timezone.utc
CARD = "6230 1234 5678 9012"


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


@pytest.fixture
def operator(actors):
    return actors.partner("transit_operator")


def metro_trip(external_id: str, ref: str, end: dt.datetime) -> dict:
    return {"action_type": "transit", "mode": "metro", "distance_km": 10,
            "started_at": (end - dt.timedelta(minutes=20)).isoformat(), "ended_at": end.isoformat(),
            "occurred_at": end.isoformat(), "external_id": external_id, "external_ref": ref}


def ago(**kw) -> dt.datetime:
    return (dt.datetime.now(UTC) - dt.timedelta(**kw)).replace(microsecond=0)


def send_batch(client, partner, records):
    body = json.dumps({"records": records}).encode()
    return client.post(BATCH, data=body, headers=partner.signed(body))


def request(client, citizen, partner, ref=CARD, **extra):
    return client.post(BINDINGS, json={"partner_id": str(partner.id), "external_ref": ref, **extra},
                       headers=citizen.headers)


def confirm(client, partner, ref, code, *, timestamp=None):
    raw = json.dumps({"external_ref": ref, "confirmation_code": code}).encode()
    return client.post(CONFIRM, data=raw, headers=partner.signed(raw, timestamp=timestamp))


def balance(app, user_id) -> int:
    from carbon_credits.services import ledger
    with app.app_context():
        return ledger.get_balance(user_id=user_id).available


def data_counts(app) -> dict:
    counts = all_table_counts(app)
    counts.pop("seen_signatures")  # an accepted signed request leaves one without Redis
    return counts


def binding_row(app, binding_id) -> Binding:
    from models import db
    with app.app_context():
        row = db.session.get(Binding, uuid.UUID(str(binding_id)))
        db.session.expunge(row)
        db.session.remove()
    return row


# --- the holes --------------------------------------------------------------------------------

def test_binding_someone_elses_card_first_no_longer_takes_their_trips(client, app, seeded, operator,
                                                                      actors):
    thief = actors.user("citizen")
    r = request(client, thief, operator)
    assert r.status_code == 201 and r.json["status"] == "pending"
    result = send_batch(client, operator, [metro_trip("T-1", CARD, ago(hours=1))]).json["results"][0]
    assert result["status"] == "unbound"  # was credited to whoever bound the card first
    assert balance(app, thief.id) == 0


def test_a_second_spelling_is_the_same_card_and_cannot_steal_its_records(client, app, seeded,
                                                                         operator, actors):
    owner, thief = actors.user("citizen"), actors.user("citizen")
    actors.bind(owner, operator, CARD)
    r = request(client, thief, operator, "６２３０-1234-5678-9012")  # full-width digits, dashes
    assert r.status_code == 201 and r.json["status"] == "pending"
    results = send_batch(client, operator, [
        metro_trip("T-1", "6230-1234-5678-9012", ago(hours=3)),
        metro_trip("T-2", "6230123456789012", ago(hours=1))]).json["results"]
    assert [x["status"] for x in results] == ["credited", "credited"]
    assert balance(app, owner.id) == 2 * 970 and balance(app, thief.id) == 0  # thief had T-1
    from models import db
    with app.app_context():
        hashes = {b.external_ref_hash for b in db.session.scalars(select(Binding))}
        db.session.remove()
    assert len(hashes) == 1


def test_a_registered_card_is_not_revealed(client, app, operator, actors):
    owner, other, control = (actors.user("citizen") for _ in range(3))
    actors.bind(owner, operator, CARD)
    taken = request(client, other, operator, CARD)
    fresh = request(client, control, operator, "9999 8888 7777 6666")
    assert taken.status_code == fresh.status_code == 201  # was 409 binding_exists
    assert set(taken.json) == set(fresh.json)
    for key in ("status", "purpose", "scopes", "notice_version", "granted_at", "ended_at",
                "covers_from", "withdrawn_at", "partner_id"):
        assert taken.json[key] == fresh.json[key], key
    assert len(taken.json["confirmation_code"]) == len(fresh.json["confirmation_code"]) == 8


# --- request and confirmation -----------------------------------------------------------------

def test_request_shows_a_pending_consent_record_with_a_one_time_code(client, app, operator, actors):
    citizen = actors.user("citizen")
    before = dt.datetime.now(UTC)
    r = request(client, citizen, operator)
    assert r.status_code == 201
    body = r.json
    assert body["status"] == "pending" and body["granted_at"] is None
    assert body["external_ref_hint"] == "9012" and body["scopes"] == ["transit"]
    assert body["notice_version"] == "2026-12-01" and "trips" in body["purpose"]
    code = body["confirmation_code"]
    assert len(code) == 8 and set(code) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(minutes=14) < expires - before <= dt.timedelta(minutes=15, seconds=5)
    row = binding_row(app, body["id"])
    assert code not in (row.confirmation_code_hash or "") and len(row.confirmation_code_hash) == 64
    listed = client.get(BINDINGS, headers=citizen.headers).json["items"]
    assert [b["id"] for b in listed] == [body["id"]] and "confirmation_code" not in listed[0]


def test_operator_confirmation_activates_and_only_then_records_arrive(client, app, seeded, operator,
                                                                     actors):
    citizen = actors.user("citizen")
    pending = request(client, citizen, operator).json
    early = send_batch(client, operator, [metro_trip("T-0", CARD, ago(hours=3))]).json["results"][0]
    assert early["status"] == "unbound"
    r = confirm(client, operator, "6230-1234-5678-9012", pending["confirmation_code"].lower())
    assert r.status_code == 200, r.json
    assert r.json["status"] == "active" and r.json["binding_id"] == pending["id"]
    assert r.json["scopes"] == ["transit"]
    shown = client.get(BINDINGS, headers=citizen.headers).json["items"][0]
    assert shown["status"] == "active" and shown["granted_at"] and shown["covers_from"] is None
    # The first holder of a card also gets trips made before the confirmation.
    late = send_batch(client, operator, [metro_trip("T-1", CARD, ago(hours=2))]).json["results"][0]
    assert late["status"] == "credited"
    from models import Action, db
    with app.app_context():
        assert str(db.session.get(Action, uuid.UUID(late["action_id"])).binding_id) == pending["id"]
        db.session.remove()


@pytest.mark.parametrize("case", ["wrong", "expired", "used", "other_operator", "other_card"])
def test_a_bad_confirmation_is_422_and_changes_nothing(client, app, operator, actors, monkeypatch,
                                                       case):
    citizen = actors.user("citizen")
    pending = request(client, citizen, operator).json
    code, partner, ref = pending["confirmation_code"], operator, CARD
    # One clock reading for both signatures: read twice, a second boundary between the first
    # confirmation and the probe made them sign the same (timestamp, body) and hit replay.
    now = int(dt.datetime.now(UTC).timestamp())
    if case == "wrong":
        code = "AAAAAAAA" if code != "AAAAAAAA" else "BBBBBBBB"
    elif case == "expired":
        from carbon_credits.services import bindings
        later = dt.datetime.now(UTC) + dt.timedelta(minutes=15, seconds=1)
        monkeypatch.setattr(bindings, "utcnow", lambda: later)
    elif case == "used":
        assert confirm(client, operator, CARD, code, timestamp=now).status_code == 200
    elif case == "other_operator":
        partner = actors.partner("transit_operator")
    elif case == "other_card":
        ref = "6230 1234 5678 9013"
    before, keys = data_counts(app), redis_key_count()
    before_row = binding_row(app, pending["id"])
    r = confirm(client, partner, ref, code, timestamp=now - 1)
    assert_problem(r, 422, "confirmation_code_invalid")
    assert data_counts(app) == before and redis_key_count() == keys
    after_row = binding_row(app, pending["id"])
    assert after_row.status == before_row.status
    expected_failures = 1 if case in ("wrong",) else 0
    assert after_row.failed_confirmations == before_row.failed_confirmations + expected_failures


def test_five_wrong_codes_kill_the_pending_binding(client, app, operator, actors):
    citizen = actors.user("citizen")
    pending = request(client, citizen, operator).json
    wrong = "AAAAAAAA" if pending["confirmation_code"] != "AAAAAAAA" else "BBBBBBBB"
    now = int(dt.datetime.now(UTC).timestamp())
    for i in range(5):
        assert_problem(confirm(client, operator, CARD, wrong, timestamp=now - i), 422)
    shown = client.get(BINDINGS, headers=citizen.headers).json["items"][0]
    assert shown["status"] == "expired"
    # Even the right code is too late now: the citizen asks for a new one.
    assert_problem(confirm(client, operator, CARD, pending["confirmation_code"], timestamp=now - 6), 422)
    again = request(client, citizen, operator).json
    assert again["id"] != pending["id"] and again["status"] == "pending"
    assert confirm(client, operator, CARD, again["confirmation_code"]).status_code == 200


def test_asking_again_issues_a_new_code_on_the_same_pending_binding(client, app, operator, actors):
    citizen = actors.user("citizen")
    first = request(client, citizen, operator).json
    second = request(client, citizen, operator, "6230-1234-5678-9012").json
    assert second["id"] == first["id"] and second["confirmation_code"] != first["confirmation_code"]
    assert_problem(confirm(client, operator, CARD, first["confirmation_code"]), 422)
    assert confirm(client, operator, CARD, second["confirmation_code"]).status_code == 200
    third = request(client, citizen, operator)
    assert third.status_code == 200 and third.json["id"] == first["id"]
    assert third.json["status"] == "active" and third.json["confirmation_code"] is None


@pytest.mark.parametrize("kind", ["merchant", "enterprise_buyer", "unknown", "suspended"])
def test_only_active_data_partners_can_be_bound(client, app, actors, kind):
    admin = actors.user("admin")
    citizen = actors.user("citizen")
    if kind == "unknown":
        partner_id = str(uuid.uuid4())
    else:
        partner = actors.partner("transit_operator" if kind == "suspended" else kind)
        partner_id = str(partner.id)
        if kind == "suspended":
            client.post(f"/api/v1/admin/partners/{partner_id}/suspend", json={}, headers=admin.headers)
    before = all_table_counts(app)
    r = client.post(BINDINGS, json={"partner_id": partner_id, "external_ref": CARD},
                    headers=citizen.headers)
    assert_problem(r, 422, "partner_not_bindable")
    assert all_table_counts(app) == before


def test_a_merchant_cannot_confirm_bindings(client, app, actors):
    cafe = actors.partner("merchant")
    before, keys = all_table_counts(app), redis_key_count()
    assert_problem(confirm(client, cafe, CARD, "ABCDEFGH"), 403, "partner_cannot_report")
    assert all_table_counts(app) == before and redis_key_count() == keys


@pytest.mark.parametrize("scopes", [["waste_sorting"], ["transit", "transit"], []])
def test_consented_scopes_must_be_offered_by_the_partner(client, app, operator, actors, scopes):
    citizen = actors.user("citizen")
    before = all_table_counts(app)
    assert_problem(request(client, citizen, operator, scopes=scopes), 422)
    assert all_table_counts(app) == before


def test_records_outside_the_consented_scopes_are_unbound(client, app, seeded, actors):
    admin = actors.user("admin")
    operator = actors.partner("transit_operator")
    client.patch(f"/api/v1/admin/partners/{operator.id}", headers=admin.headers,
                 json={"scopes": [{"action_type": "transit"}, {"action_type": "ev_charging"}]})
    citizen = actors.user("citizen")
    actors.bind(citizen, operator, CARD, scopes=["transit"])
    end = ago(hours=1)
    ev = {"action_type": "ev_charging", "energy_kwh": 30, "station_id": "S1",
          "started_at": (end - dt.timedelta(hours=1)).isoformat(), "ended_at": end.isoformat(),
          "occurred_at": end.isoformat(), "external_id": "E-1", "external_ref": CARD}
    before = data_counts(app)
    result = send_batch(client, operator, [ev]).json["results"][0]
    assert result["status"] == "unbound" and result["reasons"][0]["code"] == "not_consented"
    assert data_counts(app) == before


# --- changeover and withdrawal ----------------------------------------------------------------

def test_a_card_that_changed_hands_credits_each_holder_for_their_own_trips(client, app, seeded,
                                                                          operator, actors):
    old, new = actors.user("citizen"), actors.user("citizen")
    old_id = actors.bind(old, operator, CARD)
    before_change = ago(minutes=30)
    new_id = actors.bind(new, operator, CARD)
    after_change = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    old_row, new_row = binding_row(app, old_id), binding_row(app, new_id)
    assert old_row.status == "ended" and new_row.status == "active"
    assert new_row.covers_from == old_row.ended_at
    results = send_batch(client, operator, [metro_trip("T-old", CARD, before_change),
                                            metro_trip("T-new", CARD, after_change)]).json["results"]
    assert [r["status"] for r in results] == ["credited", "credited"]
    assert balance(app, old.id) == 970 and balance(app, new.id) == 970
    shown = client.get(BINDINGS, headers=old.headers).json["items"][0]
    assert shown["status"] == "ended" and shown["ended_at"]


def test_withdrawn_consent_receives_nothing_more_whatever_the_trip_time(client, app, seeded,
                                                                       operator, actors):
    citizen = actors.user("citizen")
    binding_id = actors.bind(citizen, operator, CARD)
    trip_before = ago(hours=1)
    r = client.delete(f"{BINDINGS}/{binding_id}", headers=citizen.headers)
    assert r.status_code == 200 and r.json["status"] == "withdrawn" and r.json["withdrawn_at"]
    assert r.json["ended_at"] == r.json["withdrawn_at"]
    again = client.delete(f"{BINDINGS}/{binding_id}", headers=citizen.headers)
    assert again.status_code == 200 and again.json["withdrawn_at"] == r.json["withdrawn_at"]
    result = send_batch(client, operator, [metro_trip("T-1", CARD, trip_before)]).json["results"][0]
    assert result["status"] == "unbound"
    assert balance(app, citizen.id) == 0
    shown = client.get(BINDINGS, headers=citizen.headers).json["items"]
    assert [(b["id"], b["status"]) for b in shown] == [(binding_id, "withdrawn")]


def test_withdrawing_a_pending_binding_cancels_its_code(client, app, operator, actors):
    citizen = actors.user("citizen")
    pending = request(client, citizen, operator).json
    assert client.delete(f"{BINDINGS}/{pending['id']}", headers=citizen.headers).json["status"] \
        == "withdrawn"
    assert_problem(confirm(client, operator, CARD, pending["confirmation_code"]), 422)


def test_a_new_holder_after_a_withdrawal_covers_from_the_withdrawal(client, app, seeded, operator,
                                                                  actors):
    first, second = actors.user("citizen"), actors.user("citizen")
    first_id = actors.bind(first, operator, CARD)
    withdrawn = client.delete(f"{BINDINGS}/{first_id}", headers=first.headers).json
    second_id = actors.bind(second, operator, CARD)
    assert binding_row(app, second_id).covers_from.isoformat() == \
        dt.datetime.fromisoformat(withdrawn["withdrawn_at"]).isoformat()


# --- the database is the last line ------------------------------------------------------------

def test_the_database_refuses_two_active_bindings_of_one_card(app, operator, actors):
    from sqlalchemy.exc import IntegrityError

    from models import db
    a, b = actors.user("citizen"), actors.user("citizen")
    actors.bind(a, operator, CARD)
    with app.app_context():
        row = db.session.scalars(select(Binding)).one()
        twin = Binding(user_id=b.id, partner_id=row.partner_id, external_ref_hash=row.external_ref_hash,
                       external_ref_hint="9012", status="active", failed_confirmations=0,
                       purpose="x", scopes=["transit"], notice_version="x",
                       granted_at=dt.datetime.now(UTC))
        db.session.add(twin)
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        db.session.remove()


# --- ledger verify ----------------------------------------------------------------------------

@pytest.mark.no_verify
@pytest.mark.parametrize("corruption", ["no_binding", "other_users_binding", "scope_removed",
                                        "binding_not_yet_granted", "consent_narrowed"])
def test_verify_reports_partner_credits_that_break_scope_or_binding(client, app, seeded, operator,
                                                                     actors, corruption):
    from sqlalchemy import text

    from carbon_credits.services.verify import verify_all
    from models import db
    citizen, other = actors.user("citizen"), actors.user("citizen")
    actors.bind(citizen, operator, CARD)
    other_binding = actors.bind(other, operator, "5555 0000")
    result = send_batch(client, operator, [metro_trip("T-1", CARD, ago(hours=1))]).json["results"][0]
    assert result["status"] == "credited"
    with app.app_context():
        assert verify_all() == []
        statement = {
            "no_binding": "UPDATE actions SET binding_id = NULL WHERE 1 = 1",
            "other_users_binding": f"UPDATE actions SET binding_id = '{uuid.UUID(other_binding).hex}'",
            "scope_removed": "DELETE FROM partner_scopes",
            "binding_not_yet_granted": "UPDATE bindings SET granted_at = CURRENT_TIMESTAMP "
                                       "WHERE granted_at IS NOT NULL AND 1 = 1",
            "consent_narrowed": "UPDATE bindings SET scopes = '[\"ev_charging\"]'",
        }[corruption]
        if db.engine.dialect.name == "postgresql":
            statement = statement.replace(f"'{uuid.UUID(other_binding).hex}'", f"'{other_binding}'")
            statement = statement.replace("CURRENT_TIMESTAMP", "now() + interval '1 hour'")
        elif corruption == "binding_not_yet_granted":
            statement = statement.replace("CURRENT_TIMESTAMP", "datetime('now', '+1 hour')")
        db.session.execute(text(statement))
        db.session.commit()
        problems = verify_all()
        db.session.remove()
    assert problems and all("partner action" in p or "binding" in p for p in problems), problems
