"""Bindings (keyed-hashed card numbers, BOLA) and the Idempotency-Key mechanism."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from models import Binding, IdempotencyRecord
from tests.conftest import all_table_counts, assert_problem, table_counts

BINDINGS = "/api/v1/me/bindings"


def test_citizen_binds_a_card_stored_as_keyed_hash(client, actors, app):
    import datetime as dt
    citizen = actors.user("citizen")
    partner = actors.partner("transit_operator")
    binding_id = actors.bind(citizen, partner, "6230 1234 5678 9012")
    with app.app_context():
        from models import db
        row = db.session.scalars(select(Binding)).one()
        assert row.external_ref_hint == "9012"
        assert "6230123456789012" not in row.external_ref_hash and len(row.external_ref_hash) == 64
        from carbon_credits.services.bindings import resolve_bindings
        found = resolve_bindings(partner_id=partner.id, records=[
            ("62301234 56789012", dt.datetime.now(dt.timezone.utc))])
        assert [(str(f.binding_id), f.user_id) for f in found] == [(binding_id, citizen.id)]
    assert len(client.get(BINDINGS, headers=citizen.headers).json["items"]) == 1


def test_a_card_bound_to_someone_else_is_not_revealed(client, actors):
    a, b = actors.user("citizen"), actors.user("citizen")
    partner = actors.partner()
    actors.bind(a, partner, "CARD-1")
    body = {"partner_id": str(partner.id), "external_ref": "CARD-1"}
    r = client.post(BINDINGS, json=body, headers=b.headers)
    assert r.status_code == 201 and r.json["status"] == "pending"  # like any new card (was 409)


def test_binding_to_unknown_partner_is_422(client, actors, app):
    import uuid
    citizen = actors.user("citizen")
    before = all_table_counts(app)
    r = client.post(BINDINGS, json={"partner_id": str(uuid.uuid4()), "external_ref": "X"},
                    headers=citizen.headers)
    assert_problem(r, 422, "partner_not_bindable")
    assert all_table_counts(app) == before


def test_bola_another_citizens_binding_is_404_and_untouched(client, actors, app):
    owner, intruder = actors.user("citizen"), actors.user("citizen")
    partner = actors.partner()
    binding = client.post(BINDINGS, json={"partner_id": str(partner.id), "external_ref": "CARD-9"},
                          headers=owner.headers).json
    assert_problem(client.delete(f"{BINDINGS}/{binding['id']}", headers=intruder.headers), 404)
    assert client.get(BINDINGS, headers=intruder.headers).json["items"] == []
    assert table_counts(app, Binding)["bindings"] == 1
    r = client.delete(f"{BINDINGS}/{binding['id']}", headers=owner.headers)
    assert r.status_code == 200 and r.json["status"] == "withdrawn"
    assert table_counts(app, Binding)["bindings"] == 1  # the consent history is kept


ACTIONS = "/api/v1/actions"


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


def walk(km: str = "2") -> dict:
    """A 30-minute walk that ended ten minutes ago (BJ-WALK credits app claims)."""
    import datetime as dt
    import json
    end = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)).replace(microsecond=0)
    return {"action_type": "transit", "mode": "walk",
            "started_at": (end - dt.timedelta(minutes=30)).isoformat(), "ended_at": end.isoformat(),
            "distance_km": json.loads(km)}


def test_a_binding_request_is_never_stored_for_replay(client, actors, app):
    """The one-time code exists only as a keyed hash: the binding request takes no
    Idempotency-Key (asking again is harmless: it reissues the code on the same binding)."""
    citizen = actors.user("citizen")
    partner = actors.partner()
    body = {"partner_id": str(partner.id), "external_ref": "CARD-2"}
    headers = {**citizen.headers, "Idempotency-Key": "k-1"}
    first = client.post(BINDINGS, json=body, headers=headers)
    second = client.post(BINDINGS, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"]
    assert first.json["confirmation_code"] != second.json["confirmation_code"]
    assert "Idempotent-Replayed" not in second.headers
    assert table_counts(app, Binding, IdempotencyRecord) == {"bindings": 1, "idempotency_keys": 0}


def test_same_key_same_body_replays_the_first_response(client, actors, app, seeded):
    from models import Action
    citizen = actors.user("citizen")
    body = walk()
    headers = {**citizen.headers, "Idempotency-Key": "k-1"}
    first = client.post(ACTIONS, json=body, headers=headers)
    second = client.post(ACTIONS, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    assert table_counts(app, Action)["actions"] == 1


def test_same_key_different_body_is_409(client, actors, app, seeded):
    from models import Action
    citizen = actors.user("citizen")
    headers = {**citizen.headers, "Idempotency-Key": "k-2"}
    client.post(ACTIONS, json=walk("2"), headers=headers)
    r = client.post(ACTIONS, json=walk("3"), headers=headers)
    assert_problem(r, 409, "idempotency_key_reused")
    assert table_counts(app, Action)["actions"] == 1


def test_keys_are_scoped_per_principal(client, actors, app, seeded):
    from models import Action
    a, b = actors.user("citizen"), actors.user("citizen")
    client.post(ACTIONS, json=walk("2"), headers={**a.headers, "Idempotency-Key": "shared"})
    r = client.post(ACTIONS, json=walk("3"), headers={**b.headers, "Idempotency-Key": "shared"})
    assert r.status_code == 201
    assert table_counts(app, Action)["actions"] == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey", "ключ"])
def test_bad_idempotency_key_is_400_and_changes_nothing(client, actors, app, seeded, key):
    citizen = actors.user("citizen")
    before = all_table_counts(app)
    r = client.post(ACTIONS, json=walk(), headers={**citizen.headers, "Idempotency-Key": key})
    assert_problem(r, 400, "bad_idempotency_key")
    assert all_table_counts(app) == before


def test_failed_request_does_not_consume_the_key(client, actors, app, seeded):
    citizen = actors.user("citizen")
    headers = {**citizen.headers, "Idempotency-Key": "k-3"}
    r = client.post(ACTIONS, json={**walk(), "distance_km": 0}, headers=headers)
    assert r.status_code == 422
    assert table_counts(app, IdempotencyRecord)["idempotency_keys"] == 0
    r = client.post(ACTIONS, json=walk(), headers=headers)
    assert r.status_code == 201


@pytest.mark.postgres
def test_concurrent_duplicates_execute_exactly_once(app, actors, seeded):
    citizen = actors.user("citizen")
    body = walk()
    headers = {**citizen.headers, "Idempotency-Key": "race"}
    barrier = threading.Barrier(20)
    results = []

    def call():
        client = app.test_client()
        barrier.wait()
        r = client.post(ACTIONS, json=body, headers=headers)
        results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    from models import Action
    assert table_counts(app, Action)["actions"] == 1
    statuses = [s for s, _ in results]
    assert statuses.count(201) == 20, statuses
    assert len({b["id"] for _, b in results}) == 1
