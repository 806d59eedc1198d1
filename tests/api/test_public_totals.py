"""Open data (issue 15, item 4): monthly totals by scene with small-cell suppression, cacheable,
reconciling with the admin report and the ledger to the gram.

Holes closed, each reproduced: a scene used by one citizen publishing that person's figures,
and the same figures recovered by subtracting the published cells from the published total."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import Action, LedgerTransfer
from tests.conftest import assert_problem

TOTALS = "/api/v1/public/totals"
BATCH = "/api/v1/partner/actions"
UTC = dt.timezone.utc


@pytest.fixture
def threshold(monkeypatch):
    def set_to(n: int):
        from carbon_credits import config
        monkeypatch.setattr(config, "_current", dataclasses.replace(config.get_settings(),
                                                                    public_min_citizens=n))
    return set_to


@pytest.fixture
def city(app, client, actors):
    """Three metro riders, three bus riders and one cyclist, all credited by the operator."""
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()
    operator = actors.partner("transit_operator")
    end = (dt.datetime.now(UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    start = end - dt.timedelta(minutes=20)
    window = {"started_at": start.isoformat(), "ended_at": end.isoformat()}
    kinds = {"metro": {"mode": "metro", "distance_km": 10, **window},
             "bus": {"mode": "bus", "boardings": 1, "occurred_at": end.isoformat()},
             "bike": {"mode": "bike", "distance_km": 3, **window}}
    records, riders = [], {}
    for kind, count in (("metro", 3), ("bus", 3), ("bike", 1)):
        for i in range(count):
            citizen = actors.user("citizen")
            actors.bind(citizen, operator, f"{kind}-{i}")
            riders.setdefault(kind, []).append(citizen)
            records.append({"action_type": "transit", **kinds[kind],
                            "external_id": f"{kind}-{i}", "external_ref": f"{kind}-{i}"})
    body = json.dumps({"records": records}).encode()
    r = client.post(BATCH, data=body, headers=operator.signed(body))
    assert [x["status"] for x in r.json["results"]] == ["credited"] * 7, r.json
    with app.app_context():
        from models import db
        day = db.session.scalar(select(func.min(Action.scheme_day)))
    return {"month": f"{day.year:04d}-{day.month:02d}", "day": day, "riders": riders}


def totals(client, city, **headers):
    return client.get(f"{TOTALS}?group_by=scene&from={city['month']}&to={city['month']}",
                      headers=headers)


def test_a_one_citizen_scene_is_withheld_and_cannot_be_recovered(client, city, threshold):
    threshold(3)
    r = totals(client, city)
    assert r.status_code == 200, r.json
    cells = {i["group"]: i for i in r.json["items"]}
    # The cyclist alone is withheld; bus is withheld with it, or total − metro − bus = bike.
    assert cells["transit:bike"]["suppressed"] and cells["transit:bike"]["reduction_g"] is None
    assert cells["transit:bus"]["suppressed"] and cells["transit:bus"]["citizens"] is None
    assert not cells["transit:metro"]["suppressed"]
    assert cells["transit:metro"]["citizens"] == 3
    assert cells["transit:metro"]["reduction_g"] == "2910.000"
    (total,) = r.json["totals"]
    assert not total["suppressed"] and total["citizens"] == 7
    hidden = Decimal(total["reduction_g"]) - Decimal(cells["transit:metro"]["reduction_g"])
    assert hidden == Decimal("1560.000")  # bus 3 × 422 + bike 3 km × 98 g: four people, not one


def test_a_month_with_fewer_citizens_than_the_threshold_publishes_nothing(client, city, threshold):
    threshold(8)
    r = totals(client, city)
    assert all(i["suppressed"] for i in r.json["items"])
    assert r.json["totals"][0]["suppressed"] and r.json["totals"][0]["reduction_g"] is None


def test_the_public_figures_reconcile_with_the_admin_report_and_the_ledger(client, app, city,
                                                                          threshold, actors):
    threshold(2)
    riders = city["riders"]
    # with 2, only the lone cyclist's cell is small: it is withheld with the next smallest
    r = totals(client, city)
    shown = {i["group"]: i for i in r.json["items"]}
    assert shown["transit:bike"]["suppressed"]
    total = r.json["totals"][0]
    admin = actors.user("admin")
    report = client.get(f"/api/v1/admin/reports/reductions?from={city['day']}&to={city['day']}"
                        "&group_by=month", headers=admin.headers).json
    assert report["totals"]["credited_g"] == total["reduction_g"]
    assert report["totals"]["points"] == total["points"] and report["totals"]["actions"] == 7
    with app.app_context():
        from models import db
        earned = db.session.scalar(select(func.sum(LedgerTransfer.amount))
                                   .where(LedgerTransfer.kind == "earn"))
    assert earned == total["points"]
    assert sum(len(v) for v in riders.values()) == total["citizens"]


def test_totals_are_cacheable_and_downloadable(client, city, threshold):
    threshold(3)
    first = totals(client, city)
    etag = first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"] and "no-store" not in first.headers["Cache-Control"]
    again = totals(client, city, **{"If-None-Match": etag})
    assert again.status_code == 304
    csv = totals(client, city, Accept="text/csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.data.decode("utf-8")
    assert text.startswith("\ufeffperiod,scene,actions,citizens,reduction_g,points,suppressed")
    assert f"{city['month']},transit:bike,,,,,True" in text
    assert csv.headers["ETag"] != etag


@pytest.mark.parametrize("query, field", [
    ("", "group_by"), ("group_by=partner", "group_by"), ("group_by=region", "group_by"), ("group_by=scene&period=week", "period"),
    ("group_by=scene&from=2026-13", "from"), ("group_by=scene&to=26-01", "to"),
    ("group_by=scene&from=2026-05&to=2026-04", "to"),
    ("group_by=scene&from=2020-01&to=2026-01", "to"), ("group_by=scene&user=1", "user"),
])
def test_bad_queries_are_422(client, query, field):
    r = client.get(f"{TOTALS}?{query}")
    assert_problem(r, 422)
    assert field in r.json["errors"], r.json


def test_totals_by_district_follow_the_region_each_action_recorded(client, app, actors, threshold):
    """Actions take the partner's district when recorded; the district's month is public once
    it counts enough citizens, the actions without a district form their own cell."""
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()
    threshold(2)
    admin = actors.user("admin")
    operators = [actors.partner("transit_operator") for _ in range(2)]
    r = client.patch(f"/api/v1/admin/partners/{operators[0].id}", json={"region": "320505"},
                     headers=admin.headers)
    assert r.status_code == 200, r.json
    end = (dt.datetime.now(UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    for n, operator in enumerate(operators):
        records = []
        for i in range(2):
            citizen = actors.user("citizen")
            actors.bind(citizen, operator, f"card-{n}-{i}")
            records.append({"action_type": "transit", "mode": "bus", "boardings": 1,
                            "occurred_at": end.isoformat(), "external_id": f"bus-{n}-{i}",
                            "external_ref": f"card-{n}-{i}"})
        body = json.dumps({"records": records}).encode()
        assert client.post(BATCH, data=body, headers=operator.signed(body)).status_code == 200
    with app.app_context():
        from models import db
        day = db.session.scalar(select(func.min(Action.scheme_day)))
    month = f"{day.year:04d}-{day.month:02d}"
    r = client.get(f"{TOTALS}?group_by=district&from={month}&to={month}")
    cells = {i["group"]: i for i in r.json["items"]}
    assert cells["320505"]["citizens"] == 2 and cells["320505"]["reduction_g"] == "844.000"
    assert cells[None]["citizens"] == 2
