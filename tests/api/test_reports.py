"""Admin reports: grouped reductions and points that reconcile with the ledger and the actions
table, CSV, background exports, and refusals that change nothing."""
from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import Action, LedgerReversal, LedgerTransfer, ReportExport, db
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.conftest import all_table_counts, assert_problem

REPORT = "/api/v1/admin/reports/reductions"
EXPORTS = "/api/v1/admin/reports/exports"
GROUP_BYS = ("action_type", "methodology", "day", "week", "month", "partner")


def scheme_today(app) -> dt.date:
    tz = zoneinfo.ZoneInfo(app.config["SETTINGS"].scheme_timezone)
    return dt.datetime.now(tz).date()


@pytest.fixture
def activity(client, app, seeded, operator, rider, actors):  # noqa: F811
    """Credited metro trips (one over the daily cap), a credited walk, a pending claim, a
    rejected one and a reversed trip."""
    start = recent(30)
    records = [{**trip(start + dt.timedelta(minutes=40 * i), km=12), "external_id": f"T-{i}",
                "external_ref": "CARD-0001"} for i in range(6)]  # 6 x 1164 g > 5000 g cap
    results = send_batch(client, operator, records).json["results"]
    assert {r["status"] for r in results} == {"credited"}
    walk = client.post("/api/v1/actions", json=trip(recent(3), minutes=30, km=2, mode="walk"),
                       headers=rider.headers)
    assert walk.json["status"] == "credited"
    pending = client.post("/api/v1/actions", json=trip(recent(5)), headers=rider.headers)
    assert pending.json["status"] == "pending_review"
    rejected = client.post("/api/v1/actions", json=trip(recent(6), minutes=10, km=30, mode="walk"),
                           headers=rider.headers)
    assert rejected.json["status"] == "rejected"
    auditor = actors.user("auditor")
    reversed_ = client.post(f"/api/v1/admin/actions/{results[0]['action_id']}/reverse",
                            json={"reason": "card cloned"}, headers=auditor.headers)
    assert reversed_.status_code == 200, reversed_.json
    return {"auditor": auditor, "admin": actors.user("admin")}


def _range(app):
    today = scheme_today(app)
    return {"from": (today - dt.timedelta(days=3)).isoformat(), "to": today.isoformat()}


def _ledger_and_actions(app, date_from: str, date_to: str) -> dict:
    """The same figures straight from the ledger and the actions table."""
    with app.app_context():
        in_range = select(Action.id).where(Action.scheme_day >= dt.date.fromisoformat(date_from),
                                           Action.scheme_day <= dt.date.fromisoformat(date_to))
        earned = db.session.scalar(select(func.coalesce(func.sum(LedgerTransfer.amount), 0))
                                   .where(LedgerTransfer.kind == "earn",
                                          LedgerTransfer.action_id.in_(in_range)))
        reversed_earned = db.session.scalar(select(func.coalesce(func.sum(LedgerReversal.earned), 0))
                                            .where(LedgerReversal.action_id.in_(in_range)))
        credited_mg = db.session.scalar(select(func.coalesce(func.sum(Action.credited_mg), 0))
                                        .where(Action.id.in_(in_range),
                                               Action.status == "credited"))
        db.session.remove()
    return {"net_points": int(earned) - int(reversed_earned), "earned": int(earned),
            "reversed": int(reversed_earned), "credited_mg": int(credited_mg)}


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_report_totals_reconcile_with_the_ledger_and_the_actions_table(client, app, activity,
                                                                       group_by):
    dates = _range(app)
    r = client.get(REPORT, query_string={**dates, "group_by": group_by},
                   headers=activity["admin"].headers)
    assert r.status_code == 200, r.json
    body = r.json
    truth = _ledger_and_actions(app, dates["from"], dates["to"])
    totals = body["totals"]
    assert totals["points"] == truth["net_points"] > 0  # to the point
    assert totals["points"] + totals["reversed_points"] == truth["earned"]
    assert totals["reversed_points"] == truth["reversed"] == 1164
    assert Decimal(totals["credited_g"]) * 1000 == truth["credited_mg"]  # to the gram (and mg)
    assert totals["actions"] == 6 and totals["reversed_actions"] == 1  # 5 trips + 1 walk
    for name in ("actions", "points", "reversed_points"):
        assert sum(item[name] for item in body["items"]) == totals[name]
    assert sum(Decimal(item["credited_g"]) for item in body["items"]) == Decimal(totals["credited_g"])
    assert all(len(item["credited_g"].split(".")[1]) == 3 for item in body["items"])


def test_report_groups_by_type_methodology_and_partner(client, app, activity, operator):  # noqa: F811
    dates = _range(app)
    headers = activity["admin"].headers
    by_type = client.get(REPORT, query_string={**dates, "group_by": "action_type"}, headers=headers).json
    assert [i["action_type"] for i in by_type["items"]] == ["transit"]
    by_method = client.get(REPORT, query_string={**dates, "group_by": "methodology"},
                           headers=headers).json
    assert {(i["methodology_code"], i["methodology_version"]) for i in by_method["items"]} == {
        ("BJ-WALK", 1), ("SH-METRO", 1)}
    metro = next(i for i in by_method["items"] if i["methodology_code"] == "SH-METRO")
    # Five credited trips of 1164 g each (the methodology's result, before the daily cap);
    # the reversed one is reported apart.
    assert metro["reduction_g"] == "5820.000" and metro["reversed_credited_g"] == "1164.000"
    by_partner = client.get(REPORT, query_string={**dates, "group_by": "partner"}, headers=headers).json
    names = {i["partner_name"]: i for i in by_partner["items"]}
    assert names["app (self-reported)"]["partner_id"] is None
    assert any(i["partner_id"] == str(operator.id) for i in by_partner["items"])
    month = client.get(REPORT, query_string={**dates, "group_by": "month"}, headers=headers).json
    assert all(i["period_start"].endswith("-01") for i in month["items"])
    week = client.get(REPORT, query_string={**dates, "group_by": "week"}, headers=headers).json
    assert all(dt.date.fromisoformat(i["period_start"]).weekday() == 0 for i in week["items"])


def test_month_csv_report_matches_the_json_and_the_ledger(client, app, activity):
    today = scheme_today(app)
    month_end = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    # The calendar month of the activity (and the one before, early in a month).
    dates = {"from": (today - dt.timedelta(days=3)).replace(day=1).isoformat(),
             "to": month_end.isoformat()}
    headers = activity["auditor"].headers
    json_report = client.get(REPORT, query_string={**dates, "group_by": "day"}, headers=headers).json
    r = client.get(REPORT, query_string={**dates, "group_by": "day"},
                   headers={**headers, "Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    total = rows[-1]
    assert total["period_start"] == "TOTAL"
    assert int(total["points"]) == json_report["totals"]["points"]
    assert total["credited_g"] == json_report["totals"]["credited_g"]
    assert int(total["points"]) == _ledger_and_actions(app, dates["from"], dates["to"])["net_points"]
    assert [row["period_start"] for row in rows[:-1]] == [i["period_start"] for i in json_report["items"]]


def test_empty_range_reports_zeros(client, app, actors):
    admin = actors.user("admin")
    r = client.get(REPORT, query_string={"from": "2020-01-01", "to": "2020-01-31",
                                         "group_by": "day"}, headers=admin.headers)
    assert r.status_code == 200
    assert r.json["items"] == [] and r.json["totals"]["credited_g"] == "0.000"
    assert r.json["timezone"] == "Asia/Shanghai"


BAD_QUERIES = [
    ("missing_from", {"to": "2026-01-31"}),
    ("missing_to", {"from": "2026-01-01"}),
    ("not_a_date", {"from": "2026-13-01", "to": "2026-12-31"}),
    ("datetime_not_date", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-31"}),
    ("from_after_to", {"from": "2026-02-01", "to": "2026-01-31"}),
    ("range_too_long", {"from": "2024-01-01", "to": "2025-12-31"}),
    ("unknown_group_by", {"from": "2026-01-01", "to": "2026-01-31", "group_by": "citizen"}),
    ("unknown_parameter", {"from": "2026-01-01", "to": "2026-01-31", "user_id": "x"}),
]


@pytest.mark.parametrize("name, query", BAD_QUERIES, ids=[n for n, _ in BAD_QUERIES])
def test_bad_report_queries_are_422_and_change_nothing(client, app, actors, name, query):
    admin = actors.user("admin")
    before = all_table_counts(app)
    assert_problem(client.get(REPORT, query_string=query, headers=admin.headers), 422, "validation")
    before_export = all_table_counts(app)
    assert_problem(client.post(EXPORTS, json=query, headers=admin.headers), 422, "validation")
    assert all_table_counts(app) == before_export == before


def test_reports_are_for_admins_and_auditors_only(client, actors):
    citizen = actors.user("citizen")
    query = {"from": "2026-01-01", "to": "2026-01-31"}
    assert_problem(client.get(REPORT, query_string=query), 401)
    assert_problem(client.get(REPORT, query_string=query, headers=citizen.headers), 403)
    assert_problem(client.post(EXPORTS, json=query, headers=citizen.headers), 403)


def test_export_is_produced_in_the_background_once(client, app, runner, activity):
    dates = _range(app)
    headers = activity["admin"].headers
    r = client.post(EXPORTS, json={**dates, "group_by": "methodology"}, headers=headers)
    assert r.status_code == 202, r.json
    export = r.json
    assert export["status"] == "pending" and export["download_url"] is None
    assert_problem(client.get(f"{EXPORTS}/{export['id']}.csv", headers=headers), 409,
                   "export_not_ready")
    first = runner.invoke(args=["jobs", "run-due"])
    assert first.exit_code == 0, first.output
    assert "run_pending_report_exports: 1" in first.output
    again = runner.invoke(args=["jobs", "run-due"])
    assert "run_pending_report_exports: 0" in again.output
    status = client.get(f"{EXPORTS}/{export['id']}", headers=headers).json
    assert status["status"] == "done"
    downloaded = client.get(status["download_url"], headers=headers)
    live = client.get(REPORT, query_string={**dates, "group_by": "methodology"},
                      headers={**headers, "Accept": "text/csv"})
    assert downloaded.status_code == 200 and downloaded.mimetype == "text/csv"
    assert downloaded.get_data() == live.get_data()
    audit = client.get("/api/v1/admin/audit-log", query_string={"action": "report.export_requested"},
                       headers=headers).json["items"]
    assert [a["object_id"] for a in audit] == [export["id"]]


def test_abandoned_export_is_taken_over_after_its_lease(app, actors):
    from carbon_credits.services import reports
    admin = actors.user("admin")
    with app.app_context():
        export = reports.request_export(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31),
                                        group_by="day", actor_user_id=admin.id)
        now = dt.datetime.now(dt.timezone.utc)
        assert reports._claim_export(export.id, now, reports.uuid.uuid4())  # a worker died here
        assert reports.run_pending_exports(now=now) == 0  # still leased
        assert reports.run_pending_exports(now=now + reports.EXPORT_LEASE * 2) == 1
        assert db.session.get(ReportExport, export.id).status == "done"
        db.session.remove()


def test_unknown_export_is_404(client, actors):
    admin = actors.user("admin")
    assert_problem(client.get(f"{EXPORTS}/00000000-0000-0000-0000-000000000000",
                              headers=admin.headers), 404)
