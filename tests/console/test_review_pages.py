"""The review queue and adjustments in the console: flagged actions listed and filtered like
`GET /admin/actions`, an action with its breakdown and evidence, approve / reject / reverse by
auditors only (district auditors inside their district), and four-eyes adjustment requests.
Every refusal is the API's own, with nothing changed."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.api.test_actions import operator, recent, rider, seeded, trip  # noqa: F401
from tests.api.test_certificates import issue, long_claim_window, metro_month  # noqa: F401
from tests.api.test_district_scoping import OTHER, OWN
from tests.conftest import all_table_counts
from tests.console_support import everyone, post, sign_in

ACTIONS = "/api/v1/actions"
ADMIN_ACTIONS = "/api/v1/admin/actions"
ADJUSTMENTS = "/api/v1/admin/ledger/adjustments"


def _citizen_in(client, actors, region: str | None = None):
    citizen = actors.user("citizen")
    if region:
        r = client.patch("/api/v1/me", json={"region": region}, headers=citizen.headers)
        assert r.status_code == 200, r.json
    return citizen


def _flagged(client, citizen, hours_ago: int = 5) -> str:
    """A self-reported metro ride: flagged for an auditor's review (`self_report_review`)."""
    claim = client.post(ACTIONS, json=trip(recent(hours_ago)), headers=citizen.headers).json
    assert claim["status"] == "pending_review", claim
    return claim["id"]


def _credited(client, citizen, hours_ago: int = 3) -> str:
    """A self-reported walk: credited at once."""
    claim = client.post(ACTIONS, json=trip(recent(hours_ago), minutes=30, km=2, mode="walk"),
                        headers=citizen.headers).json
    assert claim["status"] == "credited", claim
    return claim["id"]


def _api_action(client, auditor, action_id) -> dict:
    return client.get(f"{ADMIN_ACTIONS}/{action_id}", headers=auditor.headers).json


def _balance(client, citizen) -> int:
    return client.get("/api/v1/me/balance", headers=citizen.headers).json["available"]


def _queue_ids(page) -> list[str]:
    html = page.get_data(as_text=True)
    start = html.index('id="review-queue"')
    table = html[start:html.index("</table>", start)]
    return re.findall(r'data-action-id="([0-9a-f-]{36})"', table)


def _problem(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert f'data-problem="{code}"' in response.get_data(as_text=True)


@pytest.fixture
def queue(client, seeded, actors):  # noqa: F811
    citizen = _citizen_in(client, actors)
    return {"citizen": citizen, "auditor": actors.user("auditor"),
            "pending": _flagged(client, citizen), "credited": _credited(client, citizen)}


# --- the queue ----------------------------------------------------------------------------------

def test_the_queue_lists_flagged_actions_and_filters_like_the_api(app, client, queue):
    browser = sign_in(app, queue["auditor"])
    page = browser.get("/console/reviews")
    assert page.status_code == 200
    assert _queue_ids(page) == [queue["pending"]]
    assert f'href="/console/reviews/{queue["pending"]}"' in page.get_data(as_text=True)
    assert _queue_ids(browser.get("/console/reviews?status=credited")) == [queue["credited"]]
    assert set(_queue_ids(browser.get("/console/reviews?status="))) == {queue["pending"],
                                                                        queue["credited"]}
    assert _queue_ids(browser.get("/console/reviews?status=&action_type=ev_charging")) == []
    today = dt.date.today()
    days = {"from": (today - dt.timedelta(days=2)).isoformat(),
            "to": (today + dt.timedelta(days=1)).isoformat()}
    assert _queue_ids(browser.get("/console/reviews", query_string=days)) == [queue["pending"]]
    later = {"from": (today + dt.timedelta(days=2)).isoformat()}
    assert _queue_ids(browser.get("/console/reviews", query_string=later)) == []
    _problem(browser.get("/console/reviews?from=yesterday"), 422, "validation")
    _problem(browser.get("/console/reviews?status=approved"), 422, "validation")
    _problem(browser.get("/console/reviews?region=999999"), 422, "validation")


def test_the_queue_pages_with_the_apis_cursor(app, client, queue):
    browser = sign_in(app, queue["auditor"])
    first = browser.get("/console/reviews?status=&limit=1")
    link = re.search(r'id="review-next" href="([^"]+)"', first.get_data(as_text=True))
    assert link and "cursor=" in link.group(1) and "status=" in link.group(1)
    second = browser.get(link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert {*_queue_ids(first), *_queue_ids(second)} == {queue["pending"], queue["credited"]}
    _problem(browser.get("/console/reviews?cursor=forged"), 422, "validation")


def test_the_action_page_shows_its_breakdown_reasons_and_evidence(app, client, queue):
    browser = sign_in(app, queue["auditor"])
    page = browser.get(f"/console/reviews/{queue['pending']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "self_report_review" in html and str(queue["citizen"].id) in html
    breakdown = html[html.index('id="action-breakdown"'):]
    assert "SH-METRO</code> version 1" in html
    for text in ("RF", "97", "gCO2/km", "sthj.sh.gov.cn", "distance_km", "RF × distance_km",
                 "970.000"):
        assert text in breakdown, text
    assert 'id="action-evidence"' in html and "self-reported in the app" in html
    decision = html[html.index('id="decision"'):]
    assert 'id="approve-action"' in decision and ">Approve action<" in decision
    assert 'id="reject-action"' in decision and 'id="decision-reason"' in decision
    assert 'id="reverse-action"' not in decision and " disabled" not in decision


def test_a_partner_record_shows_its_record_reference(app, client, seeded, actors,  # noqa: F811
                                                     operator, rider):  # noqa: F811
    import json
    body = json.dumps({"records": [{**trip(recent(4)), "external_id": "T-77",
                                    "external_ref": "CARD-0001"}]}).encode()
    result = client.post("/api/v1/partner/actions", data=body,
                         headers=operator.signed(body)).json["results"][0]
    html = sign_in(app, actors.user("auditor")).get(
        f"/console/reviews/{result['action_id']}").get_data(as_text=True)
    evidence = html[html.index('id="action-evidence"'):]
    assert "T-77" in evidence and str(operator.id) in evidence and "partner record" in evidence


# --- decisions ----------------------------------------------------------------------------------

def test_an_auditor_approves_a_flagged_action_and_it_is_credited(app, client, queue):
    auditor = queue["auditor"]
    browser = sign_in(app, auditor)
    before = _balance(client, queue["citizen"])
    r = post(browser, f"/console/reviews/{queue['pending']}/approve", {"reason": "tap-in seen"})
    assert r.status_code == 303 and r.headers["Location"] == f"/console/reviews/{queue['pending']}"
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "Action approved: 970 points credited." in page
    action = _api_action(client, auditor, queue["pending"])
    assert action["status"] == "credited" and action["points"] == 970
    assert action["review_reason"] == "tap-in seen"
    assert _balance(client, queue["citizen"]) == before + 970
    assert 'id="reverse-action"' in page  # credited now: the next decision is a reversal


def test_rejecting_without_a_reason_is_refused_and_changes_nothing(app, client, queue):
    browser = sign_in(app, queue["auditor"])
    before = all_table_counts(app)
    for reason in ("", "   ", "no"):
        _problem(post(browser, f"/console/reviews/{queue['pending']}/reject", {"reason": reason}),
                 422, "validation")
    assert all_table_counts(app) == before
    r = post(browser, f"/console/reviews/{queue['pending']}/reject", {"reason": "no tap-in record"})
    assert r.status_code == 303
    action = _api_action(client, queue["auditor"], queue["pending"])
    assert action["status"] == "rejected" and action["review_reason"] == "no tap-in record"
    page = browser.get(f"/console/reviews/{queue['pending']}").get_data(as_text=True)
    assert 'id="decision-closed"' in page and "Approve action" not in page
    _problem(post(browser, f"/console/reviews/{queue['pending']}/approve"), 409,
             "action_not_pending")


def test_reversing_a_credited_action_with_a_reason_claws_its_points_back(app, client, queue):
    browser = sign_in(app, queue["auditor"])
    credited = _api_action(client, queue["auditor"], queue["credited"])
    assert _balance(client, queue["citizen"]) == credited["points"] > 0
    page = browser.get(f"/console/reviews/{queue['credited']}").get_data(as_text=True)
    assert 'id="reverse-action"' in page and 'class="rule" id="rule-certified-lot"' in page
    before = all_table_counts(app)
    _problem(post(browser, f"/console/reviews/{queue['credited']}/reverse", {"reason": ""}),
             422, "validation")
    assert all_table_counts(app) == before
    r = post(browser, f"/console/reviews/{queue['credited']}/reverse", {"reason": "cloned card"})
    assert r.status_code == 303
    assert _api_action(client, queue["auditor"], queue["credited"])["status"] == "reversed"
    assert _balance(client, queue["citizen"]) == 0
    again = all_table_counts(app)
    _problem(post(browser, f"/console/reviews/{queue['credited']}/reverse", {"reason": "twice"}),
             409, "already_reversed")
    assert all_table_counts(app) == again


def test_an_admin_sees_no_decision_and_cannot_post_one(app, client, queue, actors):
    admin = actors.user("admin")
    browser = sign_in(app, admin)
    for action_id in (queue["pending"], queue["credited"]):
        html = browser.get(f"/console/reviews/{action_id}").get_data(as_text=True)
        assert 'id="action-breakdown"' in html
        assert 'id="decision"' not in html and "action</button>" not in html
    before = all_table_counts(app)
    for action_id, verb in ((queue["pending"], "approve"), (queue["pending"], "reject"),
                            (queue["credited"], "reverse")):
        _problem(post(browser, f"/console/reviews/{action_id}/{verb}", {"reason": "admin says"}),
                 403, "role_required")
    assert all_table_counts(app) == before
    assert _api_action(client, queue["auditor"], queue["pending"])["status"] == "pending_review"


def test_an_auditor_who_is_also_the_citizen_cannot_decide_their_own_claim(app, client, seeded,
                                                                          actors):  # noqa: F811
    auditor = actors.user("auditor", "citizen")
    own = _flagged(client, auditor)
    browser = sign_in(app, auditor)
    html = browser.get(f"/console/reviews/{own}").get_data(as_text=True)
    assert 'class="rule blocked" id="rule-own-claim"' in html
    assert re.search(r'id="approve-action"[^>]* disabled', html)
    assert re.search(r'id="reject-action"[^>]* disabled', html)
    before = all_table_counts(app)
    _problem(post(browser, f"/console/reviews/{own}/approve"), 403, "four_eyes")
    assert all_table_counts(app) == before


def test_a_reversal_inside_a_certified_lot_is_shown_blocked_before_the_button(
        app, client, actors, metro_month):  # noqa: F811
    auditor = actors.user("auditor")
    lot = issue(client, auditor, metro_month)
    assert lot.status_code == 201, lot.json
    browser = sign_in(app, auditor)
    action_id = metro_month["ids"][0]
    html = browser.get(f"/console/reviews/{action_id}").get_data(as_text=True)
    assert 'class="rule blocked" id="rule-certified-lot"' in html and lot.json["id"] in html
    assert re.search(r'id="reverse-action"[^>]* disabled', html)
    before = all_table_counts(app)
    _problem(post(browser, f"/console/reviews/{action_id}/reverse", {"reason": "late report"}),
             409, "in_certified_lot")
    assert all_table_counts(app) == before


def test_a_district_auditor_sees_and_decides_only_their_districts_actions(app, client, seeded,
                                                                          actors):  # noqa: F811
    people = everyone(actors, client)
    own = _flagged(client, _citizen_in(client, actors, OWN))
    other = _flagged(client, _citizen_in(client, actors, OTHER))
    browser = sign_in(app, people["district_auditor"])
    page = browser.get("/console/reviews")
    assert _queue_ids(page) == [own]
    assert f'<option value="{OTHER}"' not in page.get_data(as_text=True)
    _problem(browser.get(f"/console/reviews?region={OTHER}"), 403, "outside_district")
    _problem(browser.get(f"/console/reviews/{other}"), 404, "not_found")
    before = all_table_counts(app)
    for verb in ("approve", "reject"):
        _problem(post(browser, f"/console/reviews/{other}/{verb}", {"reason": "not mine"}),
                 404, "not_found")
    assert all_table_counts(app) == before
    assert post(browser, f"/console/reviews/{own}/approve").status_code == 303
    assert _api_action(client, people["auditor"], own)["status"] == "credited"
    assert _api_action(client, people["auditor"], other)["status"] == "pending_review"
    city_wide = sign_in(app, people["auditor"])
    assert set(_queue_ids(city_wide.get("/console/reviews"))) == {other}


def test_who_may_open_the_review_pages(app, client, queue, actors):
    people = everyone(actors, client)
    assert app.test_client().get("/console/reviews").status_code == 302  # not signed in
    merchant = sign_in(app, people["merchant"])
    _problem(merchant.get("/console/reviews"), 403, "role_required")
    _problem(merchant.get(f"/console/reviews/{queue['pending']}"), 403, "role_required")
    for name in ("admin", "verifier", "auditor"):
        browser = sign_in(app, people[name])
        assert browser.get("/console/reviews").status_code == 200, name
        assert browser.get(f"/console/reviews/{queue['pending']}").status_code == 200, name


# --- adjustments --------------------------------------------------------------------------------

def _request_adjustment(browser, citizen, points: int | str = 40, ref: str = "TICKET-1"):
    form = browser.get("/console/adjustments/new").get_data(as_text=True)
    assert 'id="adjustment-form"' in form and 'name="external_ref" value="console-' in form
    return post(browser, "/console/adjustments/new",
                {"user_id": str(citizen.id), "points": str(points), "reason": "goodwill",
                 "note": "lost metro trip 12 May", "external_ref": ref})


def _adjustment_id(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[1]


def test_an_admin_requests_and_an_auditor_approves_an_adjustment(app, client, actors):
    citizen, admin, auditor = actors.user("citizen"), actors.user("admin"), actors.user("auditor")
    requester = sign_in(app, admin)
    adjustment_id = _adjustment_id(_request_adjustment(requester, citizen))
    listed = requester.get("/console/adjustments/list").get_data(as_text=True)
    assert 'id="adjustment-list"' in listed and f'data-adjustment-id="{adjustment_id}"' in listed
    html = requester.get(f"/console/adjustments/{adjustment_id}").get_data(as_text=True)
    assert "lost metro trip 12 May" in html and str(citizen.id) in html and "+40" in html
    assert "Approve adjustment" not in html  # admins request; only auditors decide
    before = all_table_counts(app)
    _problem(post(requester, f"/console/adjustments/{adjustment_id}/approve"), 403, "role_required")
    assert all_table_counts(app) == before and _balance(client, citizen) == 0

    decider = sign_in(app, auditor)
    html = decider.get(f"/console/adjustments/{adjustment_id}").get_data(as_text=True)
    assert 'class="rule" id="rule-four-eyes"' in html
    assert re.search(r'id="approve-adjustment"(?![^>]* disabled)[^>]*>Approve adjustment<', html)
    r = post(decider, f"/console/adjustments/{adjustment_id}/approve", {"note": ""})
    assert r.status_code == 303
    assert "Adjustment approved: +40 points posted." in decider.get(r.headers["Location"]).get_data(
        as_text=True)
    assert _balance(client, citizen) == 40
    api = client.get(f"{ADJUSTMENTS}/{adjustment_id}", headers=auditor.headers).json
    assert api["status"] == "approved" and api["decided_by"] == str(auditor.id)
    assert f'data-adjustment-id="{adjustment_id}"' not in decider.get(
        "/console/adjustments/list").get_data(as_text=True)  # the pending queue is empty now
    assert f'data-adjustment-id="{adjustment_id}"' in decider.get(
        "/console/adjustments/list?status=approved").get_data(as_text=True)


def test_the_requester_can_never_decide_their_own_adjustment(app, client, actors):
    citizen, first, second = actors.user("citizen"), actors.user("auditor"), actors.user("auditor")
    requester, decider = sign_in(app, first), sign_in(app, second)
    adjustment_id = _adjustment_id(_request_adjustment(requester, citizen, 25))
    html = requester.get(f"/console/adjustments/{adjustment_id}").get_data(as_text=True)
    assert 'class="rule blocked" id="rule-four-eyes"' in html
    assert re.search(r'id="approve-adjustment"[^>]* disabled', html)
    assert re.search(r'id="reject-adjustment"[^>]* disabled', html)
    before = all_table_counts(app)
    _problem(post(requester, f"/console/adjustments/{adjustment_id}/approve"), 403, "four_eyes")
    _problem(post(requester, f"/console/adjustments/{adjustment_id}/reject",
                  {"note": "changed my mind"}), 403, "four_eyes")
    assert all_table_counts(app) == before and _balance(client, citizen) == 0
    _problem(post(decider, f"/console/adjustments/{adjustment_id}/reject", {"note": ""}),
             422, "validation")
    assert all_table_counts(app) == before
    assert post(decider, f"/console/adjustments/{adjustment_id}/reject",
                {"note": "no such trip in the log"}).status_code == 303
    api = client.get(f"{ADJUSTMENTS}/{adjustment_id}", headers=second.headers).json
    assert api["status"] == "rejected" and api["transfer"] is None
    assert _balance(client, citizen) == 0


def test_a_bad_adjustment_request_is_refused_like_the_api(app, client, actors):
    citizen, auditor = actors.user("citizen"), actors.user("auditor")
    browser = sign_in(app, auditor)
    before = all_table_counts(app)
    for points in ("0", "1.5", "abc", "", str(10 ** 13)):
        _problem(_request_adjustment(browser, citizen, points), 422, "validation")
    _problem(_request_adjustment(browser, auditor, 5), 422, "adjustment_target_not_citizen")
    assert all_table_counts(app) == before
    first = _adjustment_id(_request_adjustment(browser, citizen, 5, ref="T-9"))
    assert _adjustment_id(_request_adjustment(browser, citizen, 5, ref="T-9")) == first  # once
    _problem(_request_adjustment(browser, citizen, 6, ref="T-9"), 409, "adjustment_ref_conflict")


def test_only_auditors_and_admins_open_the_adjustment_pages(app, client, actors):
    people = everyone(actors, client)
    for name in ("verifier", "district_auditor", "district_admin"):
        browser = sign_in(app, people[name])
        for path in ("/console/adjustments/list", "/console/adjustments/new"):
            assert browser.get(path).status_code == 403, (name, path)
