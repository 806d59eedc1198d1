"""Bonus points never appear in a reduction figure (issue 16, "done when"): the same actions
with and without a campaign bonus give identical reduction reports, public totals, impact,
leaderboards, business figures and certified lot quantities; only the citizen's points balance
differs, and the difference is a labelled `bonus` entry from the incentive account."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from carbon_credits.services import business_metrics
from models import db
from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (auditor, issue, long_claim_window,  # noqa: F401
                                         metro_month)
from tests.api.test_engagement import admin, claim, create_campaign, mine  # noqa: F401
from tests.donations_support import verify_ledger
from tests.rewards_support import balance

REPORTS = "/api/v1/admin/reports/reductions"


@pytest.fixture
def every_cell_public(monkeypatch):
    """Publish cells of a single citizen, so the public totals show figures, not suppression."""
    from carbon_credits import config
    monkeypatch.setattr(config, "_current", dataclasses.replace(config.get_settings(),
                                                                public_min_citizens=1))


def _get(client, path, headers=None, **query) -> dict:
    r = client.get(path, query_string=query, headers=headers or {})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def reduction_figures(client, app, admin, rider, period) -> dict:  # noqa: F811
    """Every figure that reports grams (and the action points behind them)."""
    this_month = dt.date.today().replace(day=1)
    figures = {}
    for group_by in ("action_type", "methodology", "day", "region"):
        for first, last in ((period["from"], period["to"]),
                            (this_month, this_month + dt.timedelta(days=27))):
            figures[f"report {group_by} {first}"] = _get(
                client, REPORTS, admin.headers, group_by=group_by, **{"from": first.isoformat(),
                                                                     "to": last.isoformat()})
    for group_by in ("scene", "district"):
        figures[f"public {group_by}"] = _get(client, "/api/v1/public/totals", group_by=group_by)
    for period_name in ("day", "week", "month"):
        shown = _get(client, "/api/v1/leaderboard", rider.headers, period=period_name)
        figures[f"board {period_name}"] = {**shown, "source": None}
        figures[f"rank {period_name}"] = _get(client, "/api/v1/leaderboard/me", rider.headers,
                                              period=period_name)
    figures["impact"] = _get(client, "/api/v1/me/impact", rider.headers)
    with app.app_context():
        business = business_metrics.read_business_figures()
        db.session.remove()
    figures["business"] = {k: v for k, v in business.items()}
    figures["achievements"] = {k: v for k, v in _get(client, "/api/v1/me/achievements",
                                                     rider.headers).items()
                               if k != "check_in_streak" and k != "checked_in_today"}
    return figures


def test_bonus_points_never_appear_in_a_reduction_figure(client, app, admin, auditor, rider,  # noqa: F811
                                                         metro_month, every_cell_public):
    without = reduction_figures(client, app, admin, rider, metro_month)
    points_without = balance(app, rider.id)[0]
    assert without["report methodology " + str(metro_month["from"])]["totals"]["credited_g"] \
        == "9700.000"

    campaign = create_campaign(client, app, admin, title="10 metro trips", kind="count",
                               action_type="transit", mode="metro", target=10,
                               starts_on=metro_month["from"].isoformat(), bonus_points=500,
                               per_citizen_cap=500, budget_points=10_000)
    assert mine(client, rider, campaign["id"])["completed"] is True
    assert client.post("/api/v1/me/check-ins", headers=rider.headers).status_code == 201
    paid = claim(client, rider, campaign["id"])
    assert paid.status_code == 201, paid.json
    with_bonus = reduction_figures(client, app, admin, rider, metro_month)

    assert with_bonus == without
    assert balance(app, rider.id)[0] == points_without + 500
    bonus_entries = _get(client, "/api/v1/me/ledger", rider.headers, kind="bonus")["items"]
    assert [(e["amount"], e["reason"], e["campaign_id"], e["action_id"])
            for e in bonus_entries] == [(500, "campaign_bonus", campaign["id"], None)]
    report = verify_ledger(app)
    assert report.ok, report.problems

    # The certified lot of last month holds the ten rides' grams, and nothing of the bonus.
    lot = issue(client, auditor, metro_month)
    assert lot.status_code == 201, lot.json
    assert (lot.json["verified_g"], lot.json["quantity"], lot.json["action_count"]) == \
        ("9700.000", 9, 10)
    assert with_bonus["report methodology " + str(metro_month["from"])]["totals"]["credited_g"] \
        == lot.json["verified_g"]
