"""Shared set-up for household tests: an approved metered methodology, a utility partner, a
household with members and its bound account, and signed reading batches."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

import pytest

from carbon_credits.domain import metering

ADMIN = "/api/v1/admin/methodologies"
READINGS = "/api/v1/partner/meter-readings"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def last_month() -> dt.date:
    """The month before the current one in the scheme's time zone (always over)."""
    return metering.add_months(dt.datetime.now(SHANGHAI).date().replace(day=1), -1)


def month(offset: int) -> str:
    """`last_month()` moved by `offset` months, as YYYY-MM."""
    return metering.period_text(metering.add_months(last_month(), offset))


@pytest.fixture
def long_claim_window(monkeypatch):
    """Let the utility report last month whatever today's date (the default window is 7 days
    after the month's end); older months stay history."""
    from carbon_credits import config
    monkeypatch.setattr(config, "_current", dataclasses.replace(config.get_settings(),
                                                                claim_window_days=70))


def approve(client, admin, auditor, code: str) -> None:
    for verb, user in (("submit", admin), ("approve", auditor)):
        r = client.post(f"{ADMIN}/{code}/versions/1/{verb}", headers=user.headers)
        assert r.status_code == 200, r.json


def create_household(client, holder, name="Home") -> str:
    r = client.post("/api/v1/me/households", json={"name": name}, headers=holder.headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


def add_member(client, holder, member, household_id: str) -> None:
    r = client.post(f"/api/v1/me/households/{household_id}/invitations", headers=holder.headers)
    assert r.status_code == 201, r.json
    r = client.post(f"/api/v1/me/households/{household_id}/members",
                    json={"code": r.json["code"]}, headers=member.headers)
    assert r.status_code == 201, r.json


def bind_account(client, citizen, utility, household_id: str, account: str = "ACC-1") -> str:
    body = {"partner_id": str(utility.id), "external_ref": account, "household_id": household_id}
    r = client.post("/api/v1/me/bindings", json=body, headers=citizen.headers)
    assert r.status_code == 201, r.json
    raw = json.dumps({"external_ref": account,
                      "confirmation_code": r.json["confirmation_code"]}).encode()
    c = client.post("/api/v1/partner/bindings/confirm", data=raw, headers=utility.signed(raw))
    assert c.status_code == 200, c.json
    return r.json["id"]


def make_home(client, app, actors):
    """The seeded catalogue with the electricity methodology approved; a household of two
    (holder and member) whose account ACC-1 at a power company is bound."""
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()

    class Home:
        admin, auditor = actors.user("admin"), actors.user("auditor")
        holder, member = actors.user("citizen"), actors.user("citizen")
        utility = actors.partner("utility")
    approve(client, Home.admin, Home.auditor, "HOUSEHOLD-ELECTRICITY-EC")
    Home.id = create_household(client, Home.holder)
    add_member(client, Home.holder, Home.member, Home.id)
    bind_account(client, Home.holder, Home.utility, Home.id)
    return Home


_sent = [0]


def reading(external_id: str, period: str, consumption, *, utility="electricity",
            estimated=False, account="ACC-1") -> dict:
    return {"external_id": external_id, "external_ref": account, "utility": utility,
            "period": period, "consumption": consumption, "estimated": estimated}


def send(client, utility, readings: list[dict]):
    """A signed batch; each call signs with a distinct timestamp (replay protection)."""
    _sent[0] += 1
    body = json.dumps({"readings": readings}).encode()
    return client.post(READINGS, data=body,
                       headers=utility.signed(body, timestamp=int(time.time()) - _sent[0] % 200))


def balance(app, user_id) -> int:
    from carbon_credits.services import ledger
    with app.app_context():
        return ledger.get_balance(user_id=user_id).available
