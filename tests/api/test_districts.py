"""Districts (docs/districts.md): a citizen's chosen region with its history, partners' and
stations' regions, the region each action is recorded with (and keeps), reports by region."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from models import Action, AuditEntry, Partner, PartnerStation, User, UserRegion, db
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.conftest import all_table_counts, assert_problem

ME = "/api/v1/me"
REPORT = "/api/v1/admin/reports/reductions"


def choose(client, citizen, region):
    r = client.patch(ME, json={"region": region}, headers=citizen.headers)
    assert r.status_code == 200, r.json
    return r.json


def test_the_registry_is_public_with_the_statistical_code_flagged(client):
    body = client.get("/api/v1/regions").json
    codes = {r["code"]: r for r in body["items"]}
    assert codes["320505"]["name_zh"] == "虎丘区" and codes["320505"]["parent"] == "320500"
    assert codes["320571"]["statistical"] is True and not codes["320506"]["statistical"]
    assert body["retired_codes"] == {"320584": "320509"}


def test_a_citizen_chooses_a_region_and_changes_it_with_history(client, app, actors):
    citizen = actors.user("citizen")
    assert client.get(ME, headers=citizen.headers).json["region"] is None
    assert choose(client, citizen, "320505")["region"] == "320505"
    assert choose(client, citizen, "320584")["region"] == "320509"  # retired: stored as current
    assert client.get(ME, headers=citizen.headers).json["region"] == "320509"
    with app.app_context():
        history = db.session.execute(select(UserRegion.region, UserRegion.valid_until)
                                     .where(UserRegion.user_id == citizen.id)
                                     .order_by(UserRegion.valid_from)).all()
        audited = db.session.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "user.profile_update")).all()
        db.session.remove()
    assert [h.region for h in history] == ["320505", "320509"]
    assert history[0].valid_until is not None and history[1].valid_until is None
    assert audited[-1]["region"] == {"before": "320505", "after": "320509"}
    export = client.get(f"{ME}/export", headers=citizen.headers).get_json()
    assert export["profile"]["region"] == "320509"
    assert [h["region"] for h in export["region_history"]] == ["320505", "320509"]


@pytest.mark.parametrize("bad", ["320500", "999999", "320576", "32050", 320505, True, ["320505"],
                                 "320505; DROP TABLE users"])
def test_an_unknown_region_is_422_and_changes_nothing(client, app, actors, bad):
    citizen = actors.user("citizen")
    choose(client, citizen, "320506")
    before = all_table_counts(app)
    assert_problem(client.patch(ME, json={"region": bad}, headers=citizen.headers), 422)
    assert all_table_counts(app) == before
    assert client.get(ME, headers=citizen.headers).json["region"] == "320506"


def test_an_app_claim_counts_for_the_citizens_region_at_its_instant(client, app, seeded, actors):
    citizen = actors.user("citizen")
    none = client.post("/api/v1/actions", json=trip(recent(30), minutes=30, km=2, mode="walk"),
                       headers=citizen.headers).json
    assert none["region"] is None
    choose(client, citizen, "320505")
    now = client.post("/api/v1/actions", json=trip(recent(1), minutes=30, km=2, mode="walk"),
                      headers=citizen.headers).json
    assert now["region"] == "320505"
    # Moving away later does not move what was recorded, and a late claim of a walk made while
    # the citizen lived in 320505 still counts there (the history decides, not today's choice).
    choose(client, citizen, "320506")
    late = client.post("/api/v1/actions", json=trip(recent(1) - dt.timedelta(minutes=1), minutes=20,
                                                     km=1, mode="walk"),
                       headers=citizen.headers).json
    assert late["region"] == "320505"
    assert client.get(f"/api/v1/actions/{now['id']}", headers=citizen.headers).json["region"] == "320505"
    with app.app_context():
        stored = dict(db.session.execute(select(Action.id, Action.region)).all())
        db.session.remove()
    assert {str(k): v for k, v in stored.items()} == {none["id"]: None, now["id"]: "320505",
                                                      late["id"]: "320505"}


def test_partner_records_count_for_station_then_partner_then_citizen(client, app, seeded, actors):
    admin = actors.user("admin")
    charger = actors.partner("charging_operator")
    citizen = actors.user("citizen")
    actors.bind(citizen, charger, "EV-1")
    choose(client, citizen, "320508")
    path = f"/api/v1/admin/partners/{charger.id}"
    r = client.post(f"{path}/stations", json={"station_id": "S-WZ", "region": "320506"},
                    headers=admin.headers)
    assert r.status_code == 201 and r.json["region"] == "320506"

    def charge(ext, station, hours):
        start = recent(hours)
        return send_batch(client, charger, [{
            "action_type": "ev_charging", "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(minutes=30)).isoformat(), "energy_kwh": 5,
            "station_id": station, "external_id": ext, "external_ref": "EV-1"}]).json["results"][0]

    first = [charge("C-1", "S-WZ", 10), charge("C-2", "S-OTHER", 9)]
    assert client.patch(path, json={"region": "320507"}, headers=admin.headers).json["region"] == "320507"
    second = [charge("C-3", "S-WZ", 8), charge("C-4", "S-OTHER", 7)]
    moved = client.post(f"{path}/stations", json={"station_id": "S-WZ", "region": "320583"},
                        headers=admin.headers)
    assert moved.status_code == 200 and moved.json["region"] == "320583"
    third = charge("C-5", "S-WZ", 6)
    with app.app_context():
        regions = {str(i): r for i, r in db.session.execute(select(Action.id, Action.region))}
        db.session.remove()
    assert [regions[o["action_id"]] for o in first] == ["320506", "320508"]  # station, citizen
    assert [regions[o["action_id"]] for o in second] == ["320506", "320507"]  # station, partner
    assert regions[third["action_id"]] == "320583"
    listed = client.get(f"{path}/stations", headers=admin.headers).json["items"]
    assert [(s["station_id"], s["region"]) for s in listed] == [("S-WZ", "320583")]


def test_partner_and_station_regions_refuse_bad_input_and_change_nothing(client, app, actors):
    admin = actors.user("admin")
    charger = actors.partner("charging_operator")
    path = f"/api/v1/admin/partners/{charger.id}"
    before = all_table_counts(app)
    assert_problem(client.patch(path, json={"region": "110101"}, headers=admin.headers), 422)
    assert_problem(client.patch(path, json={}, headers=admin.headers), 422)
    assert_problem(client.post(f"{path}/stations", json={"station_id": "S 1", "region": "320505"},
                               headers=admin.headers), 422)
    assert_problem(client.post(f"{path}/stations", json={"station_id": "S1", "region": "x"},
                               headers=admin.headers), 422)
    assert_problem(client.post("/api/v1/admin/partners/00000000-0000-0000-0000-000000000000/stations",
                               json={"station_id": "S1", "region": "320505"}, headers=admin.headers), 404)
    assert all_table_counts(app) == before
    with app.app_context():
        assert db.session.get(Partner, charger.id).region is None
        assert db.session.scalars(select(PartnerStation)).all() == []
        db.session.remove()
    assert client.patch(path, json={"region": None}, headers=admin.headers).json["region"] is None


def test_reports_group_and_filter_by_region(client, app, seeded, actors):
    admin = actors.user("admin")
    one, two, nowhere = actors.user("citizen"), actors.user("citizen"), actors.user("citizen")
    choose(client, one, "320505")
    choose(client, two, "320506")
    for hours, citizen in ((1, one), (1, two), (3, two), (1, nowhere)):
        r = client.post("/api/v1/actions", json=trip(recent(hours), minutes=30, km=2, mode="walk"),
                        headers=citizen.headers)
        assert r.json["status"] == "credited", r.json
    today = dt.datetime.now(dt.timezone.utc).date()
    dates = {"from": (today - dt.timedelta(days=2)).isoformat(),
             "to": (today + dt.timedelta(days=1)).isoformat()}
    body = client.get(REPORT, query_string={**dates, "group_by": "region"}, headers=admin.headers).json
    lines = {i["region"]: i for i in body["items"]}
    assert {k: v["actions"] for k, v in lines.items()} == {"320505": 1, "320506": 2, None: 1}
    assert lines["320506"]["region_name"] == "吴中区" and body["region"] is None
    assert sum(v["points"] for v in lines.values()) == body["totals"]["points"]
    only = client.get(REPORT, query_string={**dates, "group_by": "action_type", "region": "320506"},
                      headers=admin.headers).json
    assert only["region"] == "320506" and only["totals"]["actions"] == 2
    csv = client.get(REPORT, query_string={**dates, "group_by": "region"},
                     headers={**admin.headers, "Accept": "text/csv"})
    assert csv.get_data().decode("utf-8-sig").splitlines()[0].startswith("region,region_name,actions")
    assert_problem(client.get(REPORT, query_string={**dates, "region": "123456"},
                              headers=admin.headers), 422)


def test_erasure_forgets_the_region_but_actions_keep_theirs(client, app, seeded, actors):
    citizen = actors.user("citizen")
    choose(client, citizen, "320505")
    claim = client.post("/api/v1/actions", json=trip(recent(1), minutes=30, km=2, mode="walk"),
                        headers=citizen.headers).json
    assert client.delete(ME, json={"password": citizen.password}, headers=citizen.headers).status_code == 200
    with app.app_context():
        user = db.session.get(User, citizen.id)
        assert (user.region, user.region_since) == (None, None)
        assert db.session.scalars(select(UserRegion)).all() == []
        assert db.session.scalar(select(Action.region).where(Action.id == uuid.UUID(claim["id"]))) == "320505"
        db.session.remove()
