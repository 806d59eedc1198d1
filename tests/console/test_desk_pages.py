"""The merchant desk (/console/desk) and settlement (/console/settlement): a merchant's staff
look a voucher up, see it (holder masked), confirm it once, see the day's confirmations and the
settlement with the API's numbers; nobody else opens these pages."""
from __future__ import annotations

import datetime as dt
import html
import re
import uuid
import zoneinfo

import pytest

from carbon_credits.domain import vouchers
from tests.conftest import all_table_counts
from tests.console_support import csrf_token, everyone, post, sign_in
from tests.rewards_support import (REDEMPTIONS, backdate_reservations, create_reward,
                                   give_points, iso, merchant, now)

HX = {"HX-Request": "true"}
SETTLEMENTS = "/api/v1/merchant/settlements"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)", re.I)
HANDLER_ATTRIBUTE = re.compile(r"\son[a-z]+\s*=", re.I)


def _voucher(client, actors, app, staff, *, name="王芳", title="Oat latte", points=120):
    citizen = actors.user("citizen", display_name=name)
    give_points(app, [citizen.id], 1000)
    reward = create_reward(client, staff, title=title, points_cost=points)
    r = client.post(REDEMPTIONS, json={"reward_id": reward["id"]}, headers=citizen.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return citizen, r.json


def _text(response) -> str:
    return response.get_data(as_text=True)


def _region(page: str, element_id: str) -> str:
    """The markup from the element with this id to the end of its tag's closing (same tag)."""
    start = page.index(f'id="{element_id}"')
    tag_start = page.rindex("<", 0, start)
    tag = re.match(r"<(\w+)", page[tag_start:]).group(1)
    depth, i = 0, tag_start
    for match in re.finditer(rf"<(/?){tag}\b", page[tag_start:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            i = tag_start + match.end()
            break
    return page[tag_start:page.index(">", i) + 1]


def test_the_desk_page_offers_lookup_scan_and_todays_confirmations(app, actors):
    _, staff = merchant(actors)
    browser = sign_in(app, staff)
    r = browser.get("/console/desk")
    assert r.status_code == 200
    page = _text(r)
    for element_id in ("lookup-form", "voucher-code", "lookup-button", "scan-button",
                       "voucher-result", "todays-confirmations", "scan-status"):
        assert f'id="{element_id}"' in page, element_id
    assert '<label for="voucher-code">Voucher code</label>' in page
    assert 'hx-post="/console/desk/lookup"' in page and 'hx-target="#voucher-result"' in page
    assert 'action="/console/desk/lookup"' in page  # works without JavaScript too
    assert re.search(r'id="voucher-code"[^>]*\bautofocus\b', page)
    assert re.search(r'<div id="voucher-result" aria-live="polite">', page)
    assert re.search(r'id="scan-status" role="status"', page)
    assert '<script src="/static/js/desk.js" defer></script>' in page
    assert 'data-jsqr-src="/static/vendor/jsQR-1.4.0.js"' in page
    assert not INLINE_SCRIPT.search(page) and 'style="' not in page
    assert not HANDLER_ATTRIBUTE.search(page) and "javascript:" not in page
    assert "No vouchers confirmed yet today." in _region(page, "todays-confirmations")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_a_merchant_looks_up_confirms_and_sees_it_in_todays_confirmations(app, client, actors):
    partner, staff = merchant(actors)
    citizen, voucher = _voucher(client, actors, app, staff)
    browser = sign_in(app, staff)
    typed = voucher["voucher_code"].replace("-", "").lower()

    before = all_table_counts(app)
    fragment = post(browser, "/console/desk/lookup", {"voucher_code": typed}, headers=HX)
    assert fragment.status_code == 200
    card = _text(fragment)
    assert "<html" not in card and 'id="voucher-card"' in card
    assert "Oat latte" in card and "王**" in card and "王芳" not in card
    assert citizen.email not in card and str(citizen.id) not in card
    assert voucher["voucher_code"] in card and 'id="voucher-status">reserved<' in card
    assert 'id="confirm-voucher"' in card and ">Confirm voucher</button>" in card
    assert 'hx-post="/console/desk/confirm"' in card and 'action="/console/desk/confirm"' in card
    expires = dt.datetime.fromisoformat(voucher["expires_at"])
    local = expires.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert f'id="voucher-valid-until">{local}<' in card

    full = post(browser, "/console/desk/lookup", {"voucher_code": typed})
    assert full.status_code == 200
    assert "<html" in _text(full) and 'id="lookup-form"' in _text(full)
    assert 'id="voucher-card"' in _region(_text(full), "voucher-result")
    assert all_table_counts(app) == before  # looking up changes nothing

    done = post(browser, "/console/desk/confirm", {"voucher_code": voucher["voucher_code"]},
                headers=HX)
    assert done.status_code == 200, _text(done)
    result = _region(_text(done), "confirm-result")
    assert "Oat latte" in result and voucher["voucher_code"] in result
    today = _region(_text(done), "todays-confirmations")
    assert 'hx-swap-oob="true"' in today and voucher["voucher_code"] in today
    mine = client.get(f"{REDEMPTIONS}/{voucher['id']}", headers=citizen.headers).json
    assert mine["status"] == "redeemed"
    assert f"at {dt.datetime.fromisoformat(mine['redeemed_at']).astimezone(zoneinfo.ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M:%S}" in result

    again = post(browser, "/console/desk/confirm", {"voucher_code": voucher["voucher_code"]},
                 headers=HX)
    assert again.status_code == 409
    assert 'data-problem="already_redeemed"' in _text(again) and "<html" not in _text(again)
    again_full = post(browser, "/console/desk/confirm", {"voucher_code": voucher["voucher_code"]})
    assert again_full.status_code == 409 and 'data-problem="already_redeemed"' in _text(again_full)

    used = _text(post(browser, "/console/desk/lookup", {"voucher_code": typed}, headers=HX))
    assert 'data-refusal="already_redeemed"' in used and 'id="confirm-voucher"' not in used
    desk = _text(browser.get("/console/desk"))
    row = _region(desk, "todays-confirmations")
    assert voucher["voucher_code"] in row and "Oat latte" in row and ">120<" in row
    assert "1 voucher, 120 points" in row


def test_without_javascript_a_confirmation_redirects_and_shows_once(app, client, actors):
    _, staff = merchant(actors)
    citizen, voucher = _voucher(client, actors, app, staff, title="Bike tune-up", points=300)
    browser = sign_in(app, staff)
    r = post(browser, "/console/desk/confirm", {"voucher_code": voucher["voucher_code"]})
    assert r.status_code == 303 and r.headers["Location"] == "/console/desk"
    page = _text(browser.get("/console/desk"))
    assert "Bike tune-up" in _region(page, "confirm-result")
    assert voucher["voucher_code"] in _region(page, "todays-confirmations")
    assert 'id="confirm-result"' not in _text(browser.get("/console/desk"))  # shown once
    mine = client.get(f"{REDEMPTIONS}/{voucher['id']}", headers=citizen.headers).json
    assert mine["status"] == "redeemed"


def test_an_expired_voucher_shows_why_and_no_confirm_button(app, client, actors):
    _, staff = merchant(actors)
    _, voucher = _voucher(client, actors, app, staff)
    backdate_reservations(app)
    browser = sign_in(app, staff)
    card = _text(post(browser, "/console/desk/lookup", {"voucher_code": voucher["voucher_code"]},
                      headers=HX))
    assert 'data-refusal="voucher_expired"' in card and "This voucher has expired." in card
    assert 'id="confirm-voucher"' not in card and "voucher unusable" in card
    refused = post(browser, "/console/desk/confirm", {"voucher_code": voucher["voucher_code"]},
                   headers=HX)
    assert refused.status_code == 409 and 'data-problem="voucher_expired"' in _text(refused)


def test_another_merchants_voucher_is_404_and_untouched(app, client, actors):
    _, staff = merchant(actors)
    _, other_staff = merchant(actors)
    citizen, voucher = _voucher(client, actors, app, staff)
    intruder = sign_in(app, other_staff)
    before = all_table_counts(app)
    for path in ("/console/desk/lookup", "/console/desk/confirm"):
        for headers in (HX, {}):
            r = post(intruder, path, {"voucher_code": voucher["voucher_code"]}, headers=headers)
            assert r.status_code == 404 and 'data-problem="voucher_not_found"' in _text(r)
            assert "Oat latte" not in _text(r)
    unknown = vouchers.display(vouchers.new_code())
    assert post(intruder, "/console/desk/lookup", {"voucher_code": unknown},
                headers=HX).status_code == 404
    assert all_table_counts(app) == before
    mine = client.get(f"{REDEMPTIONS}/{voucher['id']}", headers=citizen.headers).json
    assert mine["status"] == "reserved"


@pytest.mark.parametrize("path", ["/console/desk/lookup", "/console/desk/confirm"])
def test_a_malformed_code_is_422_as_in_the_api(app, actors, path):
    _, staff = merchant(actors)
    browser = sign_in(app, staff)
    before = all_table_counts(app)
    for bad in ("", "ABCDE", "ABCDE-1234U", "x" * 40):
        r = post(browser, path, {"voucher_code": bad}, headers=HX)
        assert r.status_code == 422 and 'data-problem="validation"' in _text(r), bad
    assert all_table_counts(app) == before


def test_a_form_without_its_csrf_token_is_refused(app, client, actors):
    _, staff = merchant(actors)
    citizen, voucher = _voucher(client, actors, app, staff)
    browser = sign_in(app, staff)
    r = browser.post("/console/desk/confirm", data={"voucher_code": voucher["voucher_code"]})
    assert r.status_code == 400
    mine = client.get(f"{REDEMPTIONS}/{voucher['id']}", headers=citizen.headers).json
    assert mine["status"] == "reserved"


def test_only_merchant_staff_open_the_desk_and_settlement(app, client, actors):
    _, staff = merchant(actors)
    _, voucher = _voucher(client, actors, app, staff)
    people = everyone(actors, client)
    roles = ("admin", "auditor", "verifier", "district_admin", "district_auditor")
    browsers = {role: sign_in(app, people[role]) for role in roles}
    before = all_table_counts(app)
    for role, browser in browsers.items():
        for path in ("/console/desk", "/console/settlement"):
            assert browser.get(path).status_code == 403, (role, path)
        for path in ("/console/desk/lookup", "/console/desk/confirm"):
            r = post(browser, path, {"voucher_code": voucher["voucher_code"]}, headers=HX)
            assert r.status_code == 403, (role, path)
        assert "Voucher desk" not in _text(browser.get("/console/"))  # not in their menu
    assert all_table_counts(app) == before
    # A citizen never gets a console session, so the desk only sends them to sign in.
    citizen = people["citizen"]
    anonymous = app.test_client()
    assert anonymous.get("/console/desk").status_code == 302
    refused = anonymous.post("/console/login", data={
        "identifier": citizen.email, "password": citizen.password,
        "csrf_token": csrf_token(anonymous)})
    assert refused.status_code == 403
    assert anonymous.get("/console/desk").status_code == 302


def _confirm_at(app, *, citizen_id, reward_id, staff_id, at: dt.datetime):
    from carbon_credits.services.rewards import confirm_redemption, redeem_reward
    from models import User, db
    with app.app_context():
        redemption = redeem_reward(user_id=citizen_id, reward_id=uuid.UUID(reward_id),
                                   now=at - dt.timedelta(minutes=5))
        confirm_redemption(voucher_code=redemption.voucher_code,
                           merchant_user=db.session.get(User, staff_id), now=at)
        code = vouchers.display(redemption.voucher_code)
        db.session.remove()
    return code


def _settlement_rows(page: str) -> list[tuple[str, str, int, int]]:
    table = _region(page, "settlement-table")
    body = table[table.index("<tbody>"):table.index("</tbody>")]
    return [(day, html.unescape(title), int(count), int(points)) for day, title, count, points
            in re.findall(r'<tr><td>([\d-]+)</td><td>(.*?)</td><td class="num">(\d+)</td>'
                          r'<td class="num">(\d+)</td></tr>', body)]


def _api_rows(settlement: dict) -> list[tuple[str, str, int, int]]:
    return [(i["date"], i["reward_title"], i["vouchers_confirmed"], i["points_redeemed"])
            for i in settlement["items"]]


def test_settlement_shows_the_apis_numbers(app, client, actors):
    _, staff = merchant(actors)
    _, other_staff = merchant(actors)
    citizen = actors.user("citizen")
    give_points(app, [citizen.id], 5000)
    moment = now()
    opened = {"valid_from": iso(moment - dt.timedelta(days=3))}
    latte = create_reward(client, staff, title="Oat latte", points_cost=120, per_citizen_limit=5,
                          **opened)
    tune = create_reward(client, staff, title="Bike tune-up & check", points_cost=300, **opened)
    theirs = create_reward(client, other_staff, title="Not ours", points_cost=50, **opened)
    yesterday = _confirm_at(app, citizen_id=citizen.id, reward_id=latte["id"],
                            staff_id=staff.id, at=moment - dt.timedelta(days=1))
    for reward, who in ((latte, staff), (latte, staff), (tune, staff), (theirs, other_staff)):
        _confirm_at(app, citizen_id=citizen.id, reward_id=reward["id"], staff_id=who.id,
                    at=moment)
    browser = sign_in(app, staff)

    page = _text(browser.get("/console/settlement"))  # default: this month so far
    today = moment.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).date()
    first = today.replace(day=1)
    assert f'id="settlement-from" name="from" type="date" required value="{first}"' in page
    api = client.get(f"{SETTLEMENTS}?from={first}&to={today}", headers=staff.headers).json
    assert _settlement_rows(page) == _api_rows(api)
    assert f'id="total-vouchers-confirmed">{api["total_vouchers_confirmed"]}<' in page
    assert f'id="total-points-redeemed">{api["total_points_redeemed"]}<' in page
    assert "Not ours" not in page

    start = today - dt.timedelta(days=3)
    page = _text(browser.get(f"/console/settlement?from={start}&to={today}"))
    api = client.get(f"{SETTLEMENTS}?from={start}&to={today}", headers=staff.headers).json
    assert _settlement_rows(page) == _api_rows(api)
    assert api["total_vouchers_confirmed"] == 4 and api["total_points_redeemed"] == 660
    assert 'id="total-vouchers-confirmed">4<' in page and 'id="total-points-redeemed">660<' in page

    desk = _region(_text(browser.get("/console/desk")), "todays-confirmations")
    assert yesterday not in desk  # today's only, by the scheme's calendar
    assert "3 vouchers, 540 points" in desk and desk.count("<tr><td>") == 3


@pytest.mark.parametrize("query", ["from=2026-05-10&to=2026-05-01", "from=not-a-date",
                                   "from=2020-01-01&to=2026-01-01"])
def test_a_bad_settlement_range_is_422(app, actors, query):
    _, staff = merchant(actors)
    browser = sign_in(app, staff)
    r = browser.get(f"/console/settlement?{query}")
    assert r.status_code == 422 and 'data-problem="validation"' in _text(r)
