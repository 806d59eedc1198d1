"""Partner scopes: each partner reports only the action types (and transit modes) it may.

Holes reproduced (issue #12): a merchant's key credited a metro trip and sorted metal; a metro
operator credited an EV charge and a waste drop-off. Each test failed on the old code."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from models import Action, AuditEntry, DailyCredit, LedgerTransfer, PartnerScope
from tests.conftest import all_table_counts, assert_problem, redis_key_count, table_counts

BATCH = "/api/v1/partner/actions"
PARTNERS = "/api/v1/admin/partners"
UTC = dt.timezone.utc
KINDS = ("transit_operator", "charging_operator", "recycling_operator", "merchant",
         "enterprise_buyer")
DEFAULT_SCOPE = {"transit_operator": "transit", "charging_operator": "ev_charging",
                 "recycling_operator": "waste_sorting"}


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


def _ended(hours: int = 2) -> tuple[dt.datetime, dt.datetime]:
    end = (dt.datetime.now(UTC) - dt.timedelta(hours=hours)).replace(microsecond=0)
    return end - dt.timedelta(minutes=20), end


def record(kind: str, external_id: str, ref: str = "CARD-1", hours: int = 2) -> dict:
    """A plausible record of each kind; `occurred_at` is the end of a windowed action."""
    start, end = _ended(hours)
    window = {"started_at": start.isoformat(), "ended_at": end.isoformat(),
              "occurred_at": end.isoformat()}
    body = {
        "metro": {"action_type": "transit", "mode": "metro", "distance_km": 10, **window},
        "bus": {"action_type": "transit", "mode": "bus", "distance_km": 5, "boardings": 1, **window},
        "bike": {"action_type": "transit", "mode": "bike", "distance_km": 3, **window},
        "walk": {"action_type": "transit", "mode": "walk", "distance_km": 1, **window},
        "ev": {"action_type": "ev_charging", "energy_kwh": 30, "station_id": "S1", **window},
        "waste": {"action_type": "waste_sorting", "category": "metal", "weight_kg": 2,
                  "station_id": "B1", "occurred_at": end.isoformat()},
    }[kind]
    return {**body, "external_id": external_id, "external_ref": ref}


RECORD_KINDS = ("metro", "bus", "bike", "walk", "ev", "waste")


def send_batch(client, partner, records):
    body = json.dumps({"records": records}).encode()
    return client.post(BATCH, data=body, headers=partner.signed(body))


def balance(app, user_id) -> int:
    from carbon_credits.services import ledger
    with app.app_context():
        return ledger.get_balance(user_id=user_id).available


def data_counts(app) -> dict:
    """Row counts, less the replay-protection row an accepted request leaves without Redis."""
    counts = all_table_counts(app)
    counts.pop("seen_signatures")
    return counts


def stored(app):
    """What the partner channel left behind: actions, daily-cap rows, ledger transfers."""
    from models import db
    with app.app_context():
        actions = {(a.action_type, a.mode) for a in db.session.scalars(select(Action))}
        daily = {d.scope_key for d in db.session.scalars(select(DailyCredit))}
        db.session.remove()
    return actions, daily, table_counts(app, LedgerTransfer)["ledger_transfers"]


# --- the holes --------------------------------------------------------------------------------

def test_a_merchants_key_cannot_credit_a_metro_trip_or_sorted_metal(client, app, seeded, actors):
    cafe = actors.partner("merchant")
    citizen = actors.user("citizen")
    r = client.post("/api/v1/me/bindings", json={"partner_id": str(cafe.id),
                                                 "external_ref": "CAFE-CARD-7"},
                    headers=citizen.headers)
    assert_problem(r, 422, "partner_not_bindable")  # no binding to a merchant (was 201)
    before, keys = all_table_counts(app), redis_key_count()
    r = send_batch(client, cafe, [{**record("metro", "M-1", "CAFE-CARD-7"), "distance_km": 30},
                                  record("waste", "W-1", "CAFE-CARD-7")])
    body = assert_problem(r, 403, "partner_cannot_report")  # was 200, both credited
    assert "merchant" in body["detail"]
    assert all_table_counts(app) == before and redis_key_count() == keys
    assert balance(app, citizen.id) == 0


def test_a_metro_operator_cannot_credit_an_ev_charge_or_a_waste_drop_off(client, app, seeded, actors):
    metro = actors.partner("transit_operator")
    citizen = actors.user("citizen")
    actors.bind(citizen, metro, "CARD-1")
    before = data_counts(app)
    results = send_batch(client, metro, [record("ev", "E-1"), record("waste", "W-1")]).json["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected"]  # were credited
    assert {r["reasons"][0]["code"] for r in results} == {"scope_not_allowed"}
    assert all(r["action_id"] is None and r["points"] == 0 for r in results)
    assert data_counts(app) == before  # no action, daily-cap row or ledger entry
    assert balance(app, citizen.id) == 0


# --- the whole matrix -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_reports_exactly_its_default_scope(client, app, seeded, actors, kind):
    partner = actors.partner(kind)
    records = [record(k, f"R-{k}") for k in RECORD_KINDS]
    if kind not in DEFAULT_SCOPE:
        before, keys = all_table_counts(app), redis_key_count()
        assert_problem(send_batch(client, partner, records), 403, "partner_cannot_report")
        assert all_table_counts(app) == before and redis_key_count() == keys
        return
    citizen = actors.user("citizen")
    actors.bind(citizen, partner, "CARD-1")
    results = send_batch(client, partner, records).json["results"]
    allowed = {k for k in RECORD_KINDS if record(k, "x")["action_type"] == DEFAULT_SCOPE[kind]}
    for k, result in zip(RECORD_KINDS, results):
        codes = [r["code"] for r in result["reasons"]]
        if k in allowed:
            assert "scope_not_allowed" not in codes and result["status"] != "unbound", (k, result)
        else:
            assert result["status"] == "rejected" and codes == ["scope_not_allowed"], (k, result)
            assert result["action_id"] is None
    actions, daily, transfers = stored(app)
    assert {t for t, _ in actions} <= {DEFAULT_SCOPE[kind]}
    assert all(key.split(":")[0] == DEFAULT_SCOPE[kind] for key in daily)
    credited = sum(1 for r in results if r["status"] == "credited" and r["points"] > 0)
    assert transfers == credited and credited >= 1


@pytest.mark.parametrize("mode", ["metro", "bus", "bike", "walk"])
def test_a_transit_operator_limited_to_some_modes_reports_only_those(client, app, seeded, actors, mode):
    admin = actors.user("admin")
    operator = actors.partner("transit_operator")
    allowed = ["metro", "bus"]
    r = client.patch(f"{PARTNERS}/{operator.id}", headers=admin.headers,
                     json={"scopes": [{"action_type": "transit", "modes": allowed}]})
    assert r.status_code == 200 and r.json["scopes"] == [{"action_type": "transit", "modes": allowed}]
    citizen = actors.user("citizen")
    actors.bind(citizen, operator, "CARD-1")
    before = data_counts(app)
    result = send_batch(client, operator, [record(mode, "T-1")]).json["results"][0]
    if mode in allowed:
        assert result["action_id"] is not None and result["status"] != "rejected", result
    else:
        assert result["status"] == "rejected"
        assert [x["code"] for x in result["reasons"]] == ["scope_not_allowed"]
        assert data_counts(app) == before


# --- the scopes themselves --------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_new_partner_shows_its_default_scopes(client, actors, kind):
    admin = actors.user("admin")
    r = client.post(PARTNERS, json={"name": f"p-{kind}", "kind": kind}, headers=admin.headers)
    expected = [{"action_type": DEFAULT_SCOPE[kind]}] if kind in DEFAULT_SCOPE else []
    assert r.status_code == 201 and r.json["scopes"] == expected
    assert client.get(f"{PARTNERS}/{r.json['id']}", headers=admin.headers).json["scopes"] == expected
    listed = client.get(PARTNERS, headers=admin.headers).json["items"]
    assert [p["scopes"] for p in listed] == [expected]


def test_admin_changes_scopes_audited_with_before_and_after_and_history_kept(client, app, actors):
    admin = actors.user("admin")
    charger = actors.partner("charging_operator")
    new = [{"action_type": "transit", "modes": ["bike"]}, {"action_type": "ev_charging"}]
    r = client.patch(f"{PARTNERS}/{charger.id}", json={"scopes": new}, headers=admin.headers)
    assert r.status_code == 200 and r.json["scopes"] == new
    from models import db
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "partner.scopes")).one()
        assert entry.details == {"before": [{"action_type": "ev_charging"}], "after": new}
        assert entry.actor_user_id == admin.id
        rows = list(db.session.scalars(select(PartnerScope).where(PartnerScope.partner_id == charger.id)))
        closed = [row for row in rows if row.valid_until is not None]
        assert [(row.action_type, row.mode) for row in closed] == [("ev_charging", None)]
        assert sorted((row.action_type, row.mode or "") for row in rows if row.valid_until is None) \
            == [("ev_charging", ""), ("transit", "bike")]
        db.session.remove()


@pytest.mark.parametrize("scopes, field", [
    ([{"action_type": "flying"}], "scopes.0.action_type"),
    ([{"action_type": "transit"}, {"action_type": "transit", "modes": ["bus"]}], "scopes.1.action_type"),
    ([{"action_type": "ev_charging", "modes": ["metro"]}], "scopes.0.modes"),
    ([{"action_type": "transit", "modes": []}], "scopes.0.modes"),
    ([{"action_type": "transit", "modes": ["metro", "metro"]}], "scopes.0.modes"),
    ([{"action_type": "transit", "modes": ["tram"]}], "scopes.0.modes.0"),
    ([{"action_type": "transit", "extra": 1}], "scopes.0.extra"),
])
def test_invalid_scopes_are_422_and_change_nothing(client, app, actors, scopes, field):
    admin = actors.user("admin")
    operator = actors.partner("transit_operator")
    before = all_table_counts(app)
    body = assert_problem(client.patch(f"{PARTNERS}/{operator.id}", json={"scopes": scopes},
                                       headers=admin.headers), 422)
    assert any(key.startswith(field) for key in body["errors"]), body
    assert all_table_counts(app) == before


@pytest.mark.parametrize("kind", ["merchant", "enterprise_buyer"])
def test_merchants_and_buyers_can_never_be_given_scopes(client, app, actors, kind):
    admin = actors.user("admin")
    partner = actors.partner(kind)
    before = all_table_counts(app)
    r = client.patch(f"{PARTNERS}/{partner.id}", json={"scopes": [{"action_type": "transit"}]},
                     headers=admin.headers)
    assert_problem(r, 422, "partner_kind_has_no_scopes")
    assert all_table_counts(app) == before


def test_only_admins_set_scopes(client, app, actors):
    operator = actors.partner("transit_operator")
    before = all_table_counts(app)
    for role in ("auditor", "citizen"):
        user = actors.user(role)
        before = all_table_counts(app)
        assert_problem(client.patch(f"{PARTNERS}/{operator.id}", json={"scopes": []},
                                    headers=user.headers), 403)
        assert all_table_counts(app) == before


def test_narrowing_a_scope_applies_to_the_next_batch_and_keeps_past_credits_valid(
        client, app, seeded, actors):
    """The ingest checks the scope in force now; verify (after the test) checks each credited
    record against the scope in force when it was received."""
    admin = actors.user("admin")
    operator = actors.partner("transit_operator")
    citizen = actors.user("citizen")
    actors.bind(citizen, operator, "CARD-1")
    first = send_batch(client, operator, [record("bike", "B-1", hours=5)]).json["results"][0]
    assert first["status"] == "credited"
    client.patch(f"{PARTNERS}/{operator.id}", headers=admin.headers,
                 json={"scopes": [{"action_type": "transit", "modes": ["metro"]}]})
    second = send_batch(client, operator, [record("bike", "B-2", hours=2)]).json["results"][0]
    assert second["status"] == "rejected" and second["reasons"][0]["code"] == "scope_not_allowed"
    assert balance(app, citizen.id) == first["points"]


def test_a_widened_scope_still_needs_the_citizens_consent(client, app, seeded, actors):
    """A charging operator given transit: its existing bindings consented to EV charging only,
    so a transit record for such a card is `unbound` (not_consented) and stores nothing."""
    admin = actors.user("admin")
    charger = actors.partner("charging_operator")
    citizen = actors.user("citizen")
    actors.bind(citizen, charger, "EV-1")
    client.patch(f"{PARTNERS}/{charger.id}", headers=admin.headers,
                 json={"scopes": [{"action_type": "transit"}, {"action_type": "ev_charging"}]})
    before = data_counts(app)
    result = send_batch(client, charger, [record("metro", "T-1", "EV-1")]).json["results"][0]
    assert result["status"] == "unbound" and result["reasons"][0]["code"] == "not_consented"
    assert data_counts(app) == before
