"""The merchant desk (issue 16, item 7): a reward's merchant name, category and image URL in
every reward view and the catalogue's category filter; per-voucher settlement lines whose sum
is the settlement; and every bad input refused with nothing changed. Staff: test_merchant_staff."""
from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest

from tests.api.test_rewards import _redeem_and_confirm_at, redeem
from tests.conftest import all_table_counts, assert_problem, recorded_statements
from tests.rewards_support import REWARDS, citizen_with_points, create_reward, iso, merchant, now

CATALOG = "/api/v1/rewards"
SETTLEMENTS = "/api/v1/merchant/settlements"
LINES = "/api/v1/merchant/settlements/lines"
ADMIN_LINES = "/api/v1/admin/settlements/lines"
IMAGE = "https://cdn.example.com/rewards/oat-latte.jpg"


def _named_merchant(actors, name):
    partner = actors.partner("merchant", name=name)
    return partner, actors.user("merchant", partner_id=partner.id)


# ---------------------------------------------------------------------------------------------
# Merchant name, category, image URL


def test_reward_views_show_merchant_name_category_and_image(client, actors):
    partner, staff = _named_merchant(actors, "Green Leaf Tea House")
    made = create_reward(client, staff, category="food_drink", image_url=IMAGE)
    assert (made["merchant_name"], made["category"], made["image_url"]) == \
        ("Green Leaf Tea House", "food_drink", IMAGE)
    plain = create_reward(client, staff, title="Tote bag")
    assert (plain["category"], plain["image_url"]) == ("other", None)

    for path, headers in ((f"{CATALOG}/{made['id']}", {}),
                          (f"{REWARDS}/{made['id']}", staff.headers)):
        r = client.get(path, headers=headers)
        assert r.status_code == 200 and r.json["merchant_name"] == "Green Leaf Tea House"
        assert (r.json["category"], r.json["image_url"]) == ("food_drink", IMAGE)
    for path, headers in ((CATALOG, {}), (REWARDS, staff.headers)):
        items = client.get(path, headers=headers).json["items"]
        assert {i["merchant_name"] for i in items} == {"Green Leaf Tea House"}
        assert {i["title"]: i["category"] for i in items} == {"Oat latte": "food_drink",
                                                              "Tote bag": "other"}


def test_catalogue_filters_by_category(client, actors):
    _, staff = merchant(actors)
    food = create_reward(client, staff, title="Bun", category="food_drink")
    create_reward(client, staff, title="Museum ticket", category="culture")
    r = client.get(f"{CATALOG}?category=food_drink")
    assert r.status_code == 200 and [i["id"] for i in r.json["items"]] == [food["id"]]
    assert client.get(f"{CATALOG}?category=transport").json["items"] == []
    assert_problem(client.get(f"{CATALOG}?category=weapons"), 422, "validation")


def test_catalogue_costs_one_query_for_any_number_of_merchants(client, actors, app):
    def statements_for_catalogue():
        with recorded_statements(app) as statements:
            r = client.get(CATALOG)
        assert r.status_code == 200
        return r.json["items"], list(statements)

    _, staff = _named_merchant(actors, "Merchant 0")
    create_reward(client, staff)
    items, one = statements_for_catalogue()
    assert [i["merchant_name"] for i in items] == ["Merchant 0"]
    for n in range(1, 6):
        _, staff = _named_merchant(actors, f"Merchant {n}")
        create_reward(client, staff)
    items, six = statements_for_catalogue()
    assert sorted(i["merchant_name"] for i in items) == [f"Merchant {n}" for n in range(6)]
    assert len(six) == len(one)
    reward_queries = [s for s in six if "FROM rewards" in s]
    assert len(reward_queries) == 1 and "JOIN partners" in reward_queries[0]


def test_merchant_edits_category_and_image_with_if_match(client, actors, app):
    _, staff = merchant(actors)
    made = create_reward(client, staff)
    etag = client.get(f"{REWARDS}/{made['id']}", headers=staff.headers).headers["ETag"]
    r = client.patch(f"{REWARDS}/{made['id']}", json={"category": "retail", "image_url": IMAGE},
                     headers={**staff.headers, "If-Match": etag})
    assert r.status_code == 200 and (r.json["category"], r.json["image_url"]) == ("retail", IMAGE)
    before = all_table_counts(app)
    stale = client.patch(f"{REWARDS}/{made['id']}", json={"category": "culture"},
                         headers={**staff.headers, "If-Match": etag})
    assert_problem(stale, 412)
    assert all_table_counts(app) == before
    cleared = client.patch(f"{REWARDS}/{made['id']}", json={"image_url": None},
                           headers={**staff.headers, "If-Match": r.headers["ETag"]})
    assert cleared.status_code == 200 and cleared.json["image_url"] is None


BAD_FIELDS = [
    {"category": "weapons"}, {"category": ""}, {"category": None}, {"category": 3},
    {"image_url": "http://cdn.example.com/a.jpg"}, {"image_url": "javascript:alert(1)"},
    {"image_url": "https://user:secret@cdn.example.com/a.jpg"},
    {"image_url": "https://@cdn.example.com/a.jpg"}, {"image_url": "https://127.0.0.1/a.jpg"},
    {"image_url": "https://localhost/a.jpg"}, {"image_url": "https://169.254.169.254/latest"},
    {"image_url": "https://2130706433/a.jpg"}, {"image_url": "https://a.example/a b.jpg"},
    {"image_url": "https://a.example/\u00e9.jpg"}, {"image_url": "//cdn.example.com/a.jpg"},
    {"image_url": "https://cdn.example.com/" + "a" * 500}, {"image_url": 42},
]


@pytest.mark.parametrize("bad", BAD_FIELDS)
def test_bad_category_or_image_url_is_422_and_changes_nothing(client, actors, app, bad):
    _, staff = merchant(actors)
    made = create_reward(client, staff)
    etag = client.get(f"{REWARDS}/{made['id']}", headers=staff.headers).headers["ETag"]
    before = all_table_counts(app)
    created = client.post(REWARDS, json={**_body(), **bad}, headers=staff.headers)
    assert_problem(created, 422, "validation")
    edited = client.patch(f"{REWARDS}/{made['id']}", json=bad,
                          headers={**staff.headers, "If-Match": etag})
    assert_problem(edited, 422, "validation")
    assert all_table_counts(app) == before
    assert client.get(f"{REWARDS}/{made['id']}", headers=staff.headers).headers["ETag"] == etag


def test_the_service_refuses_a_bad_image_url_that_skips_the_http_schema(app, actors, client):
    from carbon_credits.domain.errors import ValidationFailed
    from carbon_credits.services import rewards
    from models import User, db
    _, staff = merchant(actors)
    before = all_table_counts(app)
    with app.app_context():
        with pytest.raises(ValidationFailed):
            rewards.create_reward(merchant_user=db.session.get(User, staff.id), title="x",
                                  points_cost=1, stock=1, valid_from=now(),
                                  valid_until=now() + dt.timedelta(days=1),
                                  image_url="https://u:p@evil.example/x.png")
        db.session.remove()
    assert all_table_counts(app) == before


def _body():
    from tests.rewards_support import reward_body
    return reward_body()


# ---------------------------------------------------------------------------------------------
# Per-voucher settlement lines


def _confirmed_across_midnight(client, actors, app):
    """Five vouchers confirmed either side of a scheme-day boundary (Asia/Shanghai, UTC+8:
    15:59 UTC is day D, 16:01 UTC day D+1), one of another merchant, one only reserved."""
    partner, staff = merchant(actors)
    second_staff = actors.user("merchant", partner_id=partner.id)
    _, other_staff = merchant(actors)
    start = now() - dt.timedelta(days=3)
    coffee = create_reward(client, staff, title="Coffee", points_cost=120, stock=20,
                           per_citizen_limit=20, valid_from=iso(start))
    ticket = create_reward(client, staff, title="=Ticket", points_cost=75, stock=20,
                           per_citizen_limit=20, valid_from=iso(start))
    elsewhere = create_reward(client, other_staff, points_cost=999, valid_from=iso(start))
    citizen = citizen_with_points(actors, app, 10_000)
    base = (now() - dt.timedelta(days=2)).replace(hour=15, minute=59, second=0, microsecond=0)
    plan = [(coffee, base, staff), (coffee, base, second_staff), (ticket, base, staff),
            (coffee, base + dt.timedelta(minutes=2), staff),
            (ticket, base + dt.timedelta(minutes=2), second_staff)]
    for reward, at, who in plan:
        _redeem_and_confirm_at(app, citizen_id=citizen.id, reward_id=reward["id"],
                               staff_id=who.id, at=at)
    _redeem_and_confirm_at(app, citizen_id=citizen.id, reward_id=elsewhere["id"],
                           staff_id=other_staff.id, at=base)
    assert redeem(client, citizen, coffee["id"]).json["status"] == "reserved"
    day_d = base.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    return partner, staff, second_staff, citizen, day_d


def _all_lines(client, path, headers, limit):
    lines, cursor, pages = [], None, 0
    while True:
        r = client.get(path + f"&limit={limit}" + (f"&cursor={cursor}" if cursor else ""),
                       headers=headers)
        assert r.status_code == 200, r.json
        lines += r.json["items"]
        pages += 1
        cursor = r.json["next_cursor"]
        if cursor is None:
            return r.json, lines, pages


def test_lines_add_up_to_the_settlement_on_each_side_of_the_day_boundary(client, actors, app):
    partner, staff, second_staff, citizen, day_d = _confirmed_across_midnight(client, actors, app)
    for first, last, count, points in ((day_d, day_d, 3, 315),
                                       (day_d + dt.timedelta(days=1),
                                        day_d + dt.timedelta(days=1), 2, 195),
                                       (day_d - dt.timedelta(days=1),
                                        day_d + dt.timedelta(days=1), 5, 510)):
        query = f"?from={first}&to={last}"
        settlement = client.get(SETTLEMENTS + query, headers=staff.headers).json
        page, lines, pages = _all_lines(client, LINES + query, staff.headers, limit=2)
        assert pages == -(-count // 2)  # pages of 2, the last one says there is no more
        assert len(lines) == count == settlement["total_vouchers_confirmed"] == \
            page["total_vouchers_confirmed"]
        assert sum(line["points"] for line in lines) == points == \
            settlement["total_points_redeemed"] == page["total_points_redeemed"]
        assert len({line["redemption_id"] for line in lines}) == count
    _, lines, _ = _all_lines(client, LINES + f"?from={day_d}&to={day_d + dt.timedelta(days=1)}",
                             staff.headers, limit=200)
    assert [line["redeemed_at"] for line in lines] == sorted(line["redeemed_at"] for line in lines)
    assert {line["confirmed_by"] for line in lines} == {str(staff.id), str(second_staff.id)}
    assert {line["holder"] for line in lines} == {citizen.email.split("@")[0][:1] + "**"}
    assert all(len(line["voucher_code"]) == 11 and line["voucher_code"][5] == "-"
               for line in lines)
    assert {line["reward_title"] for line in lines} == {"Coffee", "=Ticket"}


def test_lines_as_csv_and_for_admins_and_auditors(client, actors, app):
    partner, staff, _, _, day_d = _confirmed_across_midnight(client, actors, app)
    query = f"?from={day_d}&to={day_d + dt.timedelta(days=1)}"
    _, lines, _ = _all_lines(client, LINES + query, staff.headers, limit=1000)
    r = client.get(LINES + query, headers={**staff.headers, "Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["redemption_id", "voucher_code", "reward_id", "reward_title", "points",
                       "redeemed_at", "confirmed_by", "holder"]
    assert [row[0] for row in rows[1:]] == [line["redemption_id"] for line in lines]
    assert sum(int(row[4]) for row in rows[1:]) == 510
    assert {row[3] for row in rows[1:]} == {"Coffee", "'=Ticket"}  # no formula in a spreadsheet
    for viewer in (actors.user("admin"), actors.user("auditor")):
        _, seen, _ = _all_lines(client, ADMIN_LINES + query + f"&partner_id={partner.id}",
                                viewer.headers, limit=3)
        assert seen == lines
    admin = actors.user("admin")
    assert_problem(client.get(ADMIN_LINES + query + f"&partner_id={uuid.uuid4()}",
                              headers=admin.headers), 404)


def test_lines_are_the_merchants_own_and_refuse_bad_queries(client, actors, app):
    _, staff, _, _, day_d = _confirmed_across_midnight(client, actors, app)
    _, stranger = merchant(actors)
    query = f"?from={day_d}&to={day_d + dt.timedelta(days=1)}"
    assert client.get(LINES + query, headers=stranger.headers).json["items"] == []
    citizen = actors.user("citizen")
    assert_problem(client.get(LINES + query, headers=citizen.headers), 403)
    assert_problem(client.get(ADMIN_LINES + query + f"&partner_id={uuid.uuid4()}",
                              headers=staff.headers), 403)
    for bad in ("&limit=0", "&limit=1001", "&cursor=not-a-cursor", "&unknown=1"):
        assert_problem(client.get(LINES + query + bad, headers=staff.headers), 422)
    assert_problem(client.get(f"{LINES}?from=2026-02-30", headers=staff.headers), 422)
    assert_problem(client.get(f"{LINES}?from=2024-01-01&to=2026-01-01", headers=staff.headers),
                   422)


def test_csv_lines_beyond_the_bound_are_refused(client, actors, app, monkeypatch):
    from carbon_credits.services.rewards import settlement
    _, staff, _, _, day_d = _confirmed_across_midnight(client, actors, app)
    monkeypatch.setattr(settlement, "MAX_CSV_LINES", 4)
    query = f"?from={day_d}&to={day_d + dt.timedelta(days=1)}"
    assert_problem(client.get(LINES + query, headers={**staff.headers, "Accept": "text/csv"}),
                   422, "too_many_lines")
    assert client.get(LINES + query + "&limit=4", headers=staff.headers).status_code == 200


def test_the_console_settlement_lists_the_apis_lines(client, actors, app):
    import re
    from tests.console_support import sign_in
    _, staff, _, _, day_d = _confirmed_across_midnight(client, actors, app)
    query = f"?from={day_d}&to={day_d + dt.timedelta(days=1)}"
    _, lines, _ = _all_lines(client, LINES + query, staff.headers, limit=1000)
    page = sign_in(app, staff).get(f"/console/settlement{query}").get_data(as_text=True)
    table = page[page.index('id="settlement-lines"'):]
    table = table[:table.index("</table>")]
    shown = re.findall(r"<td><code>([0-9A-Z-]{11})</code></td>", table)
    assert shown == [line["voucher_code"] for line in lines] and len(shown) == 5
    assert "&#39;=Ticket" not in table and "=Ticket" in table  # HTML-escaped, not CSV-quoted
    assert "c**" in table
