"""The oversight pages of the console: certified lots (list, issuance, a lot with its
contributing actions), the audit log with its filters, and `ledger verify`. Each shows what its
API twin answers, to the people the API answers, and a refused request changes nothing."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import update

from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (LOTS, SHANGHAI, admin, auditor, buyer,  # noqa: F401
                                         long_claim_window, lot, metro_month, verifier)
from tests.conftest import all_table_counts
from tests.console_support import everyone, post, sign_in

AUDIT = "/api/v1/admin/audit-log"


def page(browser, path: str, status: int = 200, **kwargs) -> str:
    r = browser.get(path, **kwargs)
    assert r.status_code == status, (path, r.status_code, r.get_data(as_text=True)[:3000])
    return r.get_data(as_text=True)


def element(body: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag (tables, forms, divs)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"', body)
    assert match, f"no #{element_id}"
    end = body.find(f"</{match.group(1)}>", match.end())
    return body[match.start():end]


def ids_in(body: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]+)"', body)


def next_link(body: str, pager_id: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" id="{pager_id}-next"', body)
    return html.unescape(match.group(1)) if match else None


def problem_code(body: str) -> str:
    match = re.search(r'data-problem="([^"]+)"', body)
    assert match, body[:2000]
    return match.group(1)


def moved(client, lot, admin, auditor, buyer):  # noqa: F811
    """Five units transferred to the buyer, two of them retired by it."""
    r = client.post(f"{LOTS}/{lot['id']}/transfers", headers=admin.headers,
                    json={"buyer_partner_id": str(buyer.id), "quantity": 5})
    assert r.status_code == 201, r.json
    r = client.post(f"{LOTS}/{lot['id']}/retirements", headers=auditor.headers,
                    json={"holder_partner_id": str(buyer.id), "quantity": 2,
                          "beneficiary": "Acme Steel Ltd", "purpose": "Offset of business travel"})
    assert r.status_code == 201, r.json


# --- lots --------------------------------------------------------------------------------------

def test_the_lot_list_and_the_lot_page_show_the_lot_and_its_contributing_actions(
        app, client, admin, auditor, buyer, lot, metro_month):  # noqa: F811
    moved(client, lot, admin, auditor, buyer)
    browser = sign_in(app, auditor)
    listing = element(page(browser, "/console/lots"), "lot-list")
    assert lot["serials"] in listing and f'data-lot-id="{lot["id"]}"' in listing
    cells = re.findall(r'<td class="num">(\d+(?:\.\d+)?)</td>', listing)
    assert cells == ["9", "9000.000", "5", "2"]  # units, issued g, transferred, retired
    assert "positive" in listing and "SH-METRO v1" in listing
    assert f"/console/lots/{lot['id']}" in listing
    assert ids_in(element(page(browser, "/console/lots?methodology_code=BJ-WALK"), "lot-list"),
                  "data-lot-id") == []

    body = page(browser, f"/console/lots/{lot['id']}")
    facts = element(body, "lot-facts")
    assert "9000.000 g" in facts and "700.000 g" in facts and "9700.000 g" in facts
    holdings = element(body, "lot-holdings")
    assert "Acme Steel Ltd" in holdings and "retired" in holdings and "active" in holdings
    assert [e for e in ("issue", "transfer", "retire") if e in element(body, "lot-events")] == \
        ["issue", "transfer", "retire"]
    assert "JCV-2026-0001" in element(body, "lot-verifications")
    actions = element(body, "lot-actions")
    assert sorted(ids_in(actions, "data-action-id")) == sorted(metro_month["ids"])
    for action_id in metro_month["ids"]:
        assert f'href="/console/reviews/{action_id}"' in actions
    assert "970.000" in actions


def test_the_contributing_actions_are_paged_as_the_api_pages_them(
        app, client, auditor, lot, metro_month):  # noqa: F811
    browser = sign_in(app, auditor)
    seen, path = [], f"/console/lots/{lot['id']}?limit=4"
    api_cursor, api_seen = "", []
    while path:
        body = page(browser, path)
        shown = ids_in(element(body, "lot-actions"), "data-action-id")
        api = client.get(f"{LOTS}/{lot['id']}/actions", headers=auditor.headers,
                         query_string={"limit": 4, "cursor": api_cursor}).json
        assert shown == [item["action_id"] for item in api["items"]]
        seen += shown
        api_cursor = api["next_cursor"]
        path = next_link(body, "lot-actions-pages")
        assert (path is None) == (api_cursor is None)
    assert len(seen) == 10 and sorted(seen) == sorted(metro_month["ids"])


def test_an_auditor_issues_a_lot_through_the_console_form(app, client, auditor, metro_month):  # noqa: F811
    from carbon_credits.config import get_settings
    from carbon_credits.services.certificates import last_settled_day
    browser = sign_in(app, auditor)
    body = page(browser, "/console/lots")
    form = element(body, "issue-lot-form")
    assert 'id="issue-lot"' in form and "Issue lot" in form
    settled = last_settled_day(dt.datetime.now(dt.timezone.utc), get_settings().lot_review_period_days)
    assert element(body, "last-settled-day").endswith(settled.isoformat())
    assert body.index('id="issue-lot-rule"') < body.index('id="issue-lot"')

    r = post(browser, "/console/lots", {"methodology_code": "SH-METRO", "version": "1",
                                        "period_from": metro_month["from"].isoformat(),
                                        "period_to": metro_month["to"].isoformat()})
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    issued = client.get(LOTS, headers=auditor.headers).json["items"]
    assert len(issued) == 1 and issued[0]["action_count"] == 10 and issued[0]["quantity"] == 9
    assert r.headers["Location"] == f"/console/lots/{issued[0]['id']}"
    shown = page(browser, r.headers["Location"])
    assert "issued: 9 units from 10 actions" in shown and issued[0]["serials"] in shown
    assert sorted(ids_in(element(shown, "lot-actions"), "data-action-id")) == sorted(metro_month["ids"])
    log = client.get(AUDIT, headers=auditor.headers,
                     query_string={"action": "certificate.issue"}).json["items"]
    assert [(e["object_id"], e["actor_user_id"]) for e in log] == [(issued[0]["id"], str(auditor.id))]


def _bad_issues(metro_month):  # noqa: F811
    today = dt.datetime.now(SHANGHAI).date()
    good = {"methodology_code": "SH-METRO", "version": "1",
            "period_from": metro_month["from"].isoformat(), "period_to": metro_month["to"].isoformat()}
    return {
        "beyond the settled day": ({**good, "period_to": today.isoformat()}, 422, "period_not_settled"),
        "unknown methodology": ({**good, "methodology_code": "NOPE"}, 404, None),
        "unknown version": ({**good, "version": "9"}, 404, None),
        "version not a number": ({**good, "version": "one"}, 422, "validation"),
        "missing period": ({k: v for k, v in good.items() if k != "period_from"}, 422, "validation"),
        "period reversed": ({**good, "period_from": good["period_to"], "period_to": good["period_from"]},
                            422, "validation"),
        "nothing to certify": ({**good, "period_from": "2020-01-01", "period_to": "2020-01-31"},
                               409, "nothing_to_issue"),
    }


@pytest.mark.parametrize("case", ["beyond the settled day", "unknown methodology", "unknown version",
                                  "version not a number", "missing period", "period reversed",
                                  "nothing to certify"])
def test_bad_issuance_shows_the_services_refusal_and_changes_nothing(app, auditor, metro_month, case):  # noqa: F811
    data, status, code = _bad_issues(metro_month)[case]
    browser = sign_in(app, auditor)
    before = all_table_counts(app)
    r = post(browser, "/console/lots", data)
    assert r.status_code == status, r.get_data(as_text=True)[:2000]
    if code:
        assert problem_code(r.get_data(as_text=True)) == code
    assert all_table_counts(app) == before


def test_a_verifier_reads_lots_but_cannot_issue(app, actors, verifier, lot, metro_month):  # noqa: F811
    browser = sign_in(app, verifier)
    body = page(browser, "/console/lots")
    assert lot["serials"] in element(body, "lot-list")
    assert 'id="issue-lot-form"' not in body and 'id="issue-lot"' not in body
    assert lot["serials"] in page(browser, f"/console/lots/{lot['id']}")
    before = all_table_counts(app)
    r = post(browser, "/console/lots", {"methodology_code": "SH-METRO", "version": "1",
                                        "period_from": metro_month["from"].isoformat(),
                                        "period_to": metro_month["to"].isoformat()})
    assert r.status_code == 403 and problem_code(r.get_data(as_text=True)) == "role_required"
    assert all_table_counts(app) == before
    # Verifiers read lots; the audit log and the books are the auditors' and admins'.
    page(browser, "/console/audit-log", 403)
    page(browser, "/console/ledger?check=1", 403)
    # An admin reads lots too, but issuing is the auditors' call (as in the API).
    admin_browser = sign_in(app, actors.user("admin"))
    assert 'id="issue-lot-form"' not in page(admin_browser, "/console/lots")


def test_an_unknown_lot_is_404(app, auditor, seeded):  # noqa: F811
    import uuid
    browser = sign_in(app, auditor)
    body = page(browser, f"/console/lots/{uuid.uuid4()}", 404)
    assert problem_code(body) == "lot_not_found"
    assert problem_code(page(browser, "/console/lots?cursor=garbage!", 422)) == "validation"


# --- the audit log -----------------------------------------------------------------------------

def _entry_ids(body: str) -> list[int]:
    return [int(i) for i in ids_in(element(body, "audit-log"), "data-entry-id")]


def test_the_audit_log_filters_narrow_the_entries_as_the_api_does(app, client, admin, auditor,
                                                                  lot):  # noqa: F811
    browser = sign_in(app, admin)
    body = page(browser, "/console/audit-log")
    assert 'id="audit-filter"' in body
    everything = _entry_ids(body)
    now = dt.datetime.now(SHANGHAI).replace(microsecond=0)
    cases = [
        {},
        {"object_type": "certificate_lot"},
        {"object_id": lot["id"]},
        {"action": "certificate.issue"},
        {"actor_user_id": str(auditor.id)},
        {"object_type": "certificate_lot", "action": "certificate.verification_signed"},
        {"created_from": (now - dt.timedelta(hours=1)).isoformat()},
        {"created_to": (now - dt.timedelta(hours=1)).isoformat()},
        {"action": "no.such.action"},
    ]
    for filters in cases:
        api = client.get(AUDIT, headers=admin.headers, query_string=filters)
        assert api.status_code == 200, api.json
        shown = _entry_ids(page(browser, "/console/audit-log", query_string=filters))
        assert shown == [e["id"] for e in api.json["items"]], filters
    narrowed = _entry_ids(page(browser, "/console/audit-log",
                               query_string={"object_id": lot["id"]}))
    assert 0 < len(narrowed) < len(everything)
    # A time typed without an offset (the datetime-local input) is the scheme's local time.
    local = (now - dt.timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert _entry_ids(page(browser, "/console/audit-log", query_string={"created_from": local})) \
        == [e["id"] for e in client.get(AUDIT, headers=admin.headers, query_string={
            "created_from": (now - dt.timedelta(hours=1)).isoformat()}).json["items"]]


def test_the_audit_log_pages_forward_keeping_its_filters(app, client, auditor, lot):  # noqa: F811
    browser = sign_in(app, auditor)
    filters = {"object_type": "certificate_lot", "limit": "1"}
    expected = [e["id"] for e in client.get(AUDIT, headers=auditor.headers,
                                            query_string={"object_type": "certificate_lot"}).json["items"]]
    assert len(expected) >= 2
    body = page(browser, "/console/audit-log", query_string=filters)
    seen = _entry_ids(body)
    while (link := next_link(body, "audit-log-pages")) is not None:
        assert "object_type=certificate_lot" in link
        body = page(browser, link)
        seen += _entry_ids(body)
    assert seen == expected


def test_a_bad_audit_filter_is_the_apis_422(app, auditor, seeded):  # noqa: F811
    browser = sign_in(app, auditor)
    for bad in ({"actor_user_id": "nobody"}, {"created_from": "yesterday"}, {"cursor": "x!"}):
        assert problem_code(page(browser, "/console/audit-log", 422, query_string=bad)) == "validation"


# --- ledger verify -----------------------------------------------------------------------------

def test_the_ledger_page_says_ok_on_clean_books(app, client, auditor, lot):  # noqa: F811
    browser = sign_in(app, auditor)
    assert 'id="ledger-verdict"' not in page(browser, "/console/ledger")  # runs only when asked
    body = page(browser, "/console/ledger?check=1")
    verdict = element(body, "ledger-verdict")
    assert "OK" in verdict and "FAILED" not in verdict
    api = client.get("/api/v1/admin/ledger/verify", headers=auditor.headers).json
    assert api["ok"] and api["chain_head"] in element(body, "ledger-chain-head")
    assert f"{api['entries_checked']} ledger entries" in verdict


@pytest.mark.no_verify
def test_the_ledger_page_says_failed_and_lists_the_problem_after_tampering(
        app, auditor, rider, metro_month):  # noqa: F811
    from models import LedgerAccount, db
    with app.app_context():  # behind the services' back, as a rogue SQL session would
        db.session.execute(update(LedgerAccount).where(LedgerAccount.user_id == rider.id)
                           .values(balance=LedgerAccount.balance + 7))
        db.session.commit()
    body = page(sign_in(app, auditor), "/console/ledger?check=1")
    assert "FAILED" in element(body, "ledger-verdict")
    assert "stored balance" in element(body, "ledger-problems")


# --- who may open these pages ------------------------------------------------------------------

def test_merchants_and_district_staff_are_refused_and_nothing_changes(app, client, actors, lot):  # noqa: F811
    people = everyone(actors, client)
    paths = ["/console/lots", f"/console/lots/{lot['id']}", "/console/audit-log",
             "/console/ledger?check=1"]
    expected = {"merchant": "role_required", "district_admin": "city_wide_only",
                "district_auditor": "city_wide_only"}
    for name, code in expected.items():
        browser = sign_in(app, people[name])
        for path in paths:
            assert problem_code(page(browser, path, 403)) == code, (name, path)
        before = all_table_counts(app)
        r = post(browser, "/console/lots", {"methodology_code": "SH-METRO", "version": "1",
                                            "period_from": "2020-01-01", "period_to": "2020-01-31"})
        assert r.status_code == 403 and problem_code(r.get_data(as_text=True)) in (code, "role_required")
        assert all_table_counts(app) == before
