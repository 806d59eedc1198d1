"""Rewards over HTTP: catalog, merchant scoping, redemption lifecycle, vouchers and QR,
confirmation, settlement, and every refusal changing nothing. Races: tests/concurrency."""
from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
import segno
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from carbon_credits.domain import vouchers
from models import AuditEntry, LedgerAccount, LedgerTransfer, Redemption, Reward, db
from tests.conftest import all_table_counts, assert_problem, redis_key_count, table_counts
from tests.rewards_support import (CONFIRM, REDEMPTIONS, REWARDS, balance, citizen_with_points,
                                   create_reward, iso, merchant, merchant_balance, now,
                                   redemption_row, reward_body, reward_row)

CATALOG = "/api/v1/rewards"
SETTLEMENTS = "/api/v1/merchant/settlements"


def redeem(client, citizen, reward_id, key=None):
    headers = {**citizen.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(REDEMPTIONS, json={"reward_id": str(reward_id)}, headers=headers)


# ---------------------------------------------------------------------------------------------
# Catalog and merchant scoping


def test_merchant_creates_edits_and_lists_own_rewards(client, actors, app):
    partner, staff = merchant(actors)
    reward = create_reward(client, staff, points_cost=250, stock=3)
    assert reward["partner_id"] == str(partner.id) and reward["points_cost"] == 250
    r = client.patch(f"{REWARDS}/{reward['id']}", json={"stock": 7, "title": "Flat white"},
                     headers=staff.headers)
    assert r.status_code == 200 and r.json["stock"] == 7 and r.json["title"] == "Flat white"
    listed = client.get(REWARDS, headers=staff.headers).json
    assert [item["id"] for item in listed["items"]] == [reward["id"]]
    assert client.get(f"{REWARDS}/{reward['id']}", headers=staff.headers).json["stock"] == 7
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action)
                                          .where(AuditEntry.object_id == reward["id"])))
    assert sorted(actions) == ["reward.create", "reward.update"]


def test_public_catalog_lists_only_active_in_stock_in_window_rewards(client, actors):
    _, staff = merchant(actors)
    visible = create_reward(client, staff, title="Visible")
    create_reward(client, staff, title="Sold out", stock=0)
    create_reward(client, staff, title="Inactive", active=False)
    create_reward(client, staff, title="Later", valid_from=iso(now() + dt.timedelta(days=1)),
                  valid_until=iso(now() + dt.timedelta(days=2)))
    create_reward(client, staff, title="Over", valid_from=iso(now() - dt.timedelta(days=2)),
                  valid_until=iso(now() - dt.timedelta(days=1)))
    items = client.get(CATALOG).json["items"]
    assert [item["title"] for item in items] == ["Visible"]
    assert client.get(f"{CATALOG}/{visible['id']}").json["title"] == "Visible"


def test_catalog_paginates_with_keyset_cursor(client, actors):
    _, staff = merchant(actors)
    for i in range(5):
        create_reward(client, staff, title=f"R{i}")
    seen, cursor = [], None
    while True:
        page = client.get(f"{CATALOG}?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5


def test_inactive_reward_or_suspended_merchant_is_hidden(client, actors):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, active=False)
    assert_problem(client.get(f"{CATALOG}/{reward['id']}"), 404)
    assert_problem(client.get(f"{CATALOG}/{uuid.uuid4()}"), 404)


def test_citizen_on_merchant_endpoints_is_403(client, actors, app):
    citizen = actors.user("citizen")
    _, staff = merchant(actors)
    reward = create_reward(client, staff)
    before = all_table_counts(app)
    assert_problem(client.post(REWARDS, json=reward_body(), headers=citizen.headers), 403)
    assert_problem(client.patch(f"{REWARDS}/{reward['id']}", json={"stock": 1},
                                headers=citizen.headers), 403)
    assert_problem(client.get(REWARDS, headers=citizen.headers), 403)
    assert_problem(client.post(CONFIRM, json={"voucher_code": "ABCDE-12345"},
                               headers=citizen.headers), 403)
    assert_problem(client.get(SETTLEMENTS, headers=citizen.headers), 403)
    assert_problem(client.post(REDEMPTIONS, json={"reward_id": reward["id"]},
                               headers=staff.headers), 403)
    assert all_table_counts(app) == before


def test_another_merchants_reward_is_404_and_untouched(client, actors, app):
    _, owner = merchant(actors)
    _, intruder = merchant(actors)
    reward = create_reward(client, owner, stock=5)
    assert_problem(client.get(f"{REWARDS}/{reward['id']}", headers=intruder.headers), 404)
    assert_problem(client.patch(f"{REWARDS}/{reward['id']}", json={"stock": 0},
                                headers=intruder.headers), 404)
    assert client.get(REWARDS, headers=intruder.headers).json["items"] == []
    assert reward_row(app, reward["id"])["stock"] == 5


def test_merchant_role_without_a_merchant_partner_is_403(client, actors, app):
    loose = actors.user("merchant")
    transit = actors.partner("transit_operator")
    wrong_kind = actors.user("merchant", partner_id=transit.id)
    before = all_table_counts(app)
    for staff in (loose, wrong_kind):
        assert_problem(client.post(REWARDS, json=reward_body(), headers=staff.headers), 403,
                       "merchant_unbound")
    assert all_table_counts(app) == before


BAD_REWARDS = [
    {"points_cost": 0}, {"points_cost": -5}, {"points_cost": True}, {"points_cost": "100"},
    {"points_cost": 1.5}, {"points_cost": 10**7}, {"stock": -1}, {"stock": True},
    {"per_citizen_limit": 0}, {"title": ""}, {"title": "x" * 121}, {"active": 1},
    {"valid_until": iso(now() - dt.timedelta(days=2))}, {"valid_from": "2026-01-01T00:00:00"},
    {"valid_from": "2026-02-30T00:00:00Z"}, {"valid_from": "0001-01-01T00:00:00+08:00"},
    {"valid_until": "9999-12-31T23:59:59-14:00"}, {"partner_id": str(uuid.uuid4())}, {"stock_sold": 1},
]


@pytest.mark.parametrize("override", BAD_REWARDS)
def test_bad_reward_input_is_422_and_changes_nothing(client, actors, app, override):
    _, staff = merchant(actors)
    before, keys = all_table_counts(app), redis_key_count()
    r = client.post(REWARDS, json=reward_body(**override),
                    headers={**staff.headers, "Idempotency-Key": "bad-reward"})
    assert_problem(r, 422, "validation")
    assert all_table_counts(app) == before and redis_key_count() == keys


def test_patch_with_an_inverted_window_is_422(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff)
    r = client.patch(f"{REWARDS}/{reward['id']}",
                     json={"valid_until": iso(now() - dt.timedelta(days=3))}, headers=staff.headers)
    assert_problem(r, 422, "validation")
    for bad in ({"stock": -1}, {"points_cost": False}, {"status": "x"}):
        assert_problem(client.patch(f"{REWARDS}/{reward['id']}", json=bad,
                                    headers=staff.headers), 422)


# ---------------------------------------------------------------------------------------------
# The lifecycle


def test_citizen_reserves_shows_qr_merchant_confirms_points_reach_merchant(client, actors, app):
    partner, staff = merchant(actors)
    reward = create_reward(client, staff, points_cost=120, stock=2)
    citizen = citizen_with_points(actors, app, 500)

    r = redeem(client, citizen, reward["id"], key="tap-1")
    assert r.status_code == 201, r.json
    body = r.json
    assert body["status"] == "reserved" and body["points"] == 120
    assert body["qr_url"] == f"{REDEMPTIONS}/{body['id']}/qr.png"
    assert vouchers.normalise(body["voucher_code"]) is not None
    assert len(body["voucher_code"]) == 11 and body["voucher_code"][5] == "-"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(minutes=29) < expires - now() <= dt.timedelta(minutes=30)
    assert balance(app, citizen.id) == (380, 120)
    assert reward_row(app, reward["id"])["stock"] == 1

    qr = client.get(body["qr_url"], headers=citizen.headers)
    assert qr.status_code == 200 and qr.mimetype == "image/png"
    assert qr.headers["Cache-Control"] == "private, no-store"
    expected = io.BytesIO()
    segno.make_qr(body["voucher_code"], error="m").save(expected, kind="png", scale=8, border=4)
    assert qr.data == expected.getvalue()  # the code and nothing else

    typed = body["voucher_code"].replace("-", " ").lower()
    r = client.post(CONFIRM, json={"voucher_code": typed}, headers=staff.headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "redeemed" and r.json["points"] == 120
    assert set(r.json) == {"id", "reward_id", "reward_title", "status", "points", "voucher_code",
                           "redeemed_at"}
    assert balance(app, citizen.id) == (380, 0)
    assert merchant_balance(app, partner.id) == 120
    mine = client.get(f"{REDEMPTIONS}/{body['id']}", headers=citizen.headers).json
    assert mine["status"] == "redeemed" and mine["redeemed_at"]

    settlement = client.get(SETTLEMENTS, headers=staff.headers).json
    assert settlement["total_vouchers_confirmed"] == 1 and settlement["total_points_redeemed"] == 120
    with app.app_context():
        actions = sorted(db.session.scalars(select(AuditEntry.action)
                                            .where(AuditEntry.object_id == body["id"])))
    assert actions == ["redemption.confirm", "redemption.reserve"]


def scan(png: bytes):
    """Read the image as a phone or till scanner would (ZXing's C++ port)."""
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


def test_voucher_qr_is_a_regular_qr_code_any_scanner_reads(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, points_cost=100, stock=1)
    citizen = citizen_with_points(actors, app, 500)
    body = redeem(client, citizen, reward["id"]).json

    png = client.get(body["qr_url"], headers=citizen.headers).data
    (found,) = scan(png)
    assert found.format == zxingcpp.BarcodeFormat.QRCode  # not MicroQRCode: phones skip those
    assert found.text == body["voucher_code"]  # the code and nothing else
    r = client.post(CONFIRM, json={"voucher_code": found.text}, headers=staff.headers)
    assert r.status_code == 200 and r.json["status"] == "redeemed"


def test_voucher_codes_tolerate_misreadings():
    code = vouchers.new_code()
    assert len(code) == 10 and set(code) <= set(vouchers.ALPHABET)
    assert vouchers.normalise(vouchers.display(code).lower()) == code
    assert vouchers.normalise("abcde-fghjk") == "ABCDEFGHJK"
    assert vouchers.normalise("OIL00-11111") == "01100" + "11111"
    assert vouchers.normalise("ABCDE-1234") is None and vouchers.normalise("ABCDE-1234U") is None
    assert len({vouchers.new_code() for _ in range(2000)}) == 2000


def test_redeeming_without_enough_points_is_409_and_changes_nothing(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, points_cost=300, stock=1)
    citizen = citizen_with_points(actors, app, 299)
    before, keys = all_table_counts(app), redis_key_count()
    assert_problem(redeem(client, citizen, reward["id"], key="k1"), 409, "insufficient_balance")
    assert all_table_counts(app) == before and redis_key_count() == keys
    assert reward_row(app, reward["id"])["stock"] == 1
    assert balance(app, citizen.id) == (299, 0)


def test_redemption_refusals(client, actors, app):
    _, staff = merchant(actors)
    citizen = citizen_with_points(actors, app, 10_000)
    sold_out = create_reward(client, staff, stock=0)
    inactive = create_reward(client, staff, active=False)
    later = create_reward(client, staff, valid_from=iso(now() + dt.timedelta(days=1)),
                          valid_until=iso(now() + dt.timedelta(days=2)))
    before = all_table_counts(app)
    assert_problem(redeem(client, citizen, sold_out["id"]), 409, "out_of_stock")
    assert_problem(redeem(client, citizen, later["id"]), 409, "reward_unavailable")
    assert_problem(redeem(client, citizen, inactive["id"]), 404)
    assert_problem(redeem(client, citizen, uuid.uuid4()), 404)
    assert all_table_counts(app) == before


@pytest.mark.parametrize("body", [{}, {"reward_id": "nope"}, {"reward_id": 5},
                                  {"reward_id": None}, {"reward_id": str(uuid.uuid4()), "points": 1},
                                  {"reward_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())}])
def test_bad_redemption_input_is_422_and_changes_nothing(client, actors, app, body):
    citizen = citizen_with_points(actors, app, 100)
    before, keys = all_table_counts(app), redis_key_count()
    r = client.post(REDEMPTIONS, json=body, headers={**citizen.headers, "Idempotency-Key": "b1"})
    assert_problem(r, 422, "validation")
    assert all_table_counts(app) == before and redis_key_count() == keys


def test_per_citizen_limit_is_enforced_and_freed_by_cancel(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, per_citizen_limit=2, stock=10)
    citizen = citizen_with_points(actors, app, 1000)
    first = redeem(client, citizen, reward["id"]).json
    assert redeem(client, citizen, reward["id"]).status_code == 201
    assert_problem(redeem(client, citizen, reward["id"]), 409, "per_citizen_limit_reached")
    assert reward_row(app, reward["id"])["stock"] == 8
    assert client.post(f"{REDEMPTIONS}/{first['id']}/cancel", headers=citizen.headers).status_code == 200
    assert redeem(client, citizen, reward["id"]).status_code == 201


def test_double_tap_with_one_idempotency_key_reserves_once(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, stock=5, per_citizen_limit=5)
    citizen = citizen_with_points(actors, app, 1000)
    first = redeem(client, citizen, reward["id"], key="tap")
    second = redeem(client, citizen, reward["id"], key="tap")
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    assert table_counts(app, Redemption)["redemptions"] == 1
    assert balance(app, citizen.id) == (900, 100)


def test_owner_cancels_points_and_stock_come_back_once(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, stock=1)
    owner, intruder = citizen_with_points(actors, app, 500), citizen_with_points(actors, app, 500)
    body = redeem(client, owner, reward["id"]).json
    url = f"{REDEMPTIONS}/{body['id']}"
    before = all_table_counts(app)
    assert_problem(client.post(f"{url}/cancel", headers=intruder.headers), 404)
    assert_problem(client.get(url, headers=intruder.headers), 404)
    assert_problem(client.get(f"{url}/qr.png", headers=intruder.headers), 404)
    assert_problem(client.get(f"{url}/qr.png", headers=staff.headers), 403)
    assert client.get(REDEMPTIONS, headers=intruder.headers).json["items"] == []
    assert all_table_counts(app) == before

    r = client.post(f"{url}/cancel", headers=owner.headers)
    assert r.status_code == 200 and r.json["status"] == "cancelled" and r.json["cancelled_at"]
    assert balance(app, owner.id) == (500, 0)
    assert reward_row(app, reward["id"])["stock"] == 1
    assert_problem(client.post(f"{url}/cancel", headers=owner.headers), 409,
                   "redemption_not_reserved")
    assert_problem(client.post(CONFIRM, json={"voucher_code": body["voucher_code"]},
                               headers=staff.headers), 409, "voucher_cancelled")
    assert balance(app, owner.id) == (500, 0)


def test_confirm_refusals(client, actors, app):
    partner, staff = merchant(actors)
    _, other_staff = merchant(actors)
    reward = create_reward(client, staff)
    citizen = citizen_with_points(actors, app, 500)
    body = redeem(client, citizen, reward["id"]).json
    code = body["voucher_code"]
    before = all_table_counts(app)
    assert_problem(client.post(CONFIRM, json={"voucher_code": code}, headers=other_staff.headers),
                   404, "voucher_not_found")
    unknown = vouchers.display(vouchers.new_code())
    assert_problem(client.post(CONFIRM, json={"voucher_code": unknown}, headers=staff.headers),
                   404, "voucher_not_found")
    for bad in ("", "ABCDE", "ABCDE-1234U", 12345, None):
        assert_problem(client.post(CONFIRM, json={"voucher_code": bad}, headers=staff.headers), 422)
    assert all_table_counts(app) == before
    assert client.post(CONFIRM, json={"voucher_code": code}, headers=staff.headers).status_code == 200
    assert_problem(client.post(CONFIRM, json={"voucher_code": code}, headers=staff.headers),
                   409, "already_redeemed")
    assert_problem(client.post(f"{REDEMPTIONS}/{body['id']}/cancel", headers=citizen.headers),
                   409, "redemption_not_reserved")
    assert merchant_balance(app, partner.id) == 100


def test_expired_voucher_cannot_be_confirmed_and_the_job_releases_it(client, actors, app):
    from carbon_credits.services.rewards import release_expired_reservations
    _, staff = merchant(actors)
    reward = create_reward(client, staff, stock=1)
    citizen = citizen_with_points(actors, app, 500)
    body = redeem(client, citizen, reward["id"]).json
    later = now() + dt.timedelta(minutes=31)
    with app.app_context():
        from carbon_credits.services.rewards import confirm_redemption
        from models import User
        staff_user = db.session.get(User, staff.id)
        from carbon_credits.domain.errors import Conflict
        with pytest.raises(Conflict) as refused:
            confirm_redemption(voucher_code=body["voucher_code"], merchant_user=staff_user, now=later)
        assert refused.value.code == "voucher_expired"
        db.session.rollback()
        assert release_expired_reservations(now=now()) == 0
        assert release_expired_reservations(now=later) == 1
        assert release_expired_reservations(now=later) == 0
        db.session.remove()
    assert redemption_row(app, body["id"])["status"] == "expired"
    assert balance(app, citizen.id) == (500, 0)
    assert reward_row(app, reward["id"])["stock"] == 1
    r = client.get(f"{REDEMPTIONS}/{body['id']}", headers=citizen.headers).json
    assert r["status"] == "expired" and r["expired_at"]
    assert redeem(client, citizen, reward["id"]).status_code == 201  # the claim came back too


def test_reservation_never_outlives_the_rewards_window(client, actors, app):
    _, staff = merchant(actors)
    ends = now() + dt.timedelta(minutes=5)
    reward = create_reward(client, staff, valid_until=iso(ends))
    citizen = citizen_with_points(actors, app, 500)
    body = redeem(client, citizen, reward["id"]).json
    assert dt.datetime.fromisoformat(body["expires_at"]) <= ends


def test_citizen_lists_own_redemptions_newest_first(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, per_citizen_limit=3)
    citizen = citizen_with_points(actors, app, 1000)
    ids = [redeem(client, citizen, reward["id"]).json["id"] for _ in range(3)]
    page = client.get(f"{REDEMPTIONS}?limit=2", headers=citizen.headers).json
    second = client.get(f"{REDEMPTIONS}?limit=2&cursor={page['next_cursor']}",
                        headers=citizen.headers).json
    assert [i["id"] for i in page["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None


# ---------------------------------------------------------------------------------------------
# Settlement


def _redeem_and_confirm_at(app, *, citizen_id, reward_id, staff_id, at: dt.datetime):
    from carbon_credits.services.rewards import confirm_redemption, redeem_reward
    from models import User
    with app.app_context():
        redemption = redeem_reward(user_id=citizen_id, reward_id=uuid.UUID(reward_id),
                                   now=at - dt.timedelta(minutes=5))
        confirm_redemption(voucher_code=redemption.voucher_code,
                           merchant_user=db.session.get(User, staff_id), now=at)
        db.session.remove()


def test_settlement_per_scheme_day_and_reward_matches_the_ledger_to_the_point(client, actors, app):
    partner, staff = merchant(actors)
    other_partner, other_staff = merchant(actors)
    start = now() - dt.timedelta(days=3)
    coffee = create_reward(client, staff, title="Coffee", points_cost=120, stock=10,
                           per_citizen_limit=10, valid_from=iso(start))
    ticket = create_reward(client, staff, title="=Ticket", points_cost=75, stock=10,
                           per_citizen_limit=10, valid_from=iso(start))
    elsewhere = create_reward(client, other_staff, points_cost=999, valid_from=iso(start))
    citizen = citizen_with_points(actors, app, 10_000)
    # Scheme time zone Asia/Shanghai (UTC+8): 15:59 UTC is day D, 16:01 UTC is day D+1.
    base = (now() - dt.timedelta(days=2)).replace(hour=15, minute=59, second=0, microsecond=0)
    day_d = base.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    plan = [(coffee, base), (coffee, base), (ticket, base),
            (coffee, base + dt.timedelta(minutes=2)), (ticket, base + dt.timedelta(minutes=2))]
    for reward, at in plan:
        _redeem_and_confirm_at(app, citizen_id=citizen.id, reward_id=reward["id"],
                               staff_id=staff.id, at=at)
    _redeem_and_confirm_at(app, citizen_id=citizen.id, reward_id=elsewhere["id"],
                           staff_id=other_staff.id, at=base)
    unconfirmed = redeem(client, citizen, coffee["id"]).json  # reserved only: not settled
    assert unconfirmed["status"] == "reserved"

    query = f"?from={day_d - dt.timedelta(days=1)}&to={day_d + dt.timedelta(days=1)}"
    settlement = client.get(SETTLEMENTS + query, headers=staff.headers).json
    lines = [(i["date"], i["reward_title"], i["vouchers_confirmed"], i["points_redeemed"])
             for i in settlement["items"]]
    d0, d1 = day_d.isoformat(), (day_d + dt.timedelta(days=1)).isoformat()
    assert lines == [(d0, "=Ticket", 1, 75), (d0, "Coffee", 2, 240),
                     (d1, "=Ticket", 1, 75), (d1, "Coffee", 1, 120)]
    assert settlement["total_points_redeemed"] == 510 and settlement["timezone"] == "Asia/Shanghai"

    with app.app_context():  # the same numbers from the ledger's redeem transfers
        account_id = db.session.scalar(select(LedgerAccount.id)
                                       .where(LedgerAccount.partner_id == partner.id))
        transfers = db.session.execute(
            select(LedgerTransfer.event_time, Redemption.reward_id, LedgerTransfer.amount)
            .join(Redemption, Redemption.id == LedgerTransfer.redemption_id)
            .where(LedgerTransfer.kind == "redeem",
                   LedgerTransfer.credit_account_id == account_id)).all()
        db.session.remove()
    shanghai = dt.timezone(dt.timedelta(hours=8))
    from_ledger: dict = {}
    for event_time, reward_id, amount in transfers:
        key = (event_time.astimezone(shanghai).date().isoformat(), str(reward_id))
        count, points = from_ledger.get(key, (0, 0))
        from_ledger[key] = (count + 1, points + amount)
    assert from_ledger == {(i["date"], i["reward_id"]): (i["vouchers_confirmed"], i["points_redeemed"])
                           for i in settlement["items"]}
    assert merchant_balance(app, partner.id) == 510

    r = client.get(SETTLEMENTS + query, headers={**staff.headers, "Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["date", "reward_id", "reward_title", "vouchers_confirmed", "points_redeemed"]
    assert [(row[0], row[2], int(row[3]), int(row[4])) for row in rows[1:]] == \
        [(d, "'" + t if t.startswith("=") else t, n, p) for d, t, n, p in lines]

    other = client.get(SETTLEMENTS + query, headers=other_staff.headers).json
    assert other["total_points_redeemed"] == 999
    admin, auditor = actors.user("admin"), actors.user("auditor")
    for viewer in (admin, auditor):
        r = client.get(f"/api/v1/admin/settlements{query}&partner_id={partner.id}",
                       headers=viewer.headers)
        assert r.status_code == 200 and r.json["items"] == settlement["items"]
    assert_problem(client.get(f"/api/v1/admin/settlements{query}&partner_id={uuid.uuid4()}",
                              headers=admin.headers), 404)


@pytest.mark.parametrize("query", ["?from=2026-03-02&to=2026-03-01", "?from=2024-01-01&to=2026-01-01",
                                   "?from=yesterday", "?to=2026-13-01",
                                   "?from=2026-02-30", "?from=0001-01-01&to=0001-01-02",
                                   "?from=9999-12-30&to=9999-12-31"])
def test_bad_settlement_query_is_422(client, actors, query):
    _, staff = merchant(actors)
    assert_problem(client.get(SETTLEMENTS + query, headers=staff.headers), 422)


def test_stock_edit_on_a_stale_read_is_refused_with_412(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff, stock=10)
    path = f"/api/v1/merchant/rewards/{reward['id']}"
    read = client.get(path, headers=staff.headers)
    etag = read.headers["ETag"]
    citizen = citizen_with_points(actors, app, 1000)
    assert redeem(client, citizen, reward["id"]).status_code == 201  # stock 10 -> 9 meanwhile
    stale = client.patch(path, json={"stock": 15}, headers={**staff.headers, "If-Match": etag})
    assert_problem(stale, 412, "etag_mismatch")
    assert reward_row(app, reward["id"])["stock"] == 9
    fresh = client.get(path, headers=staff.headers).headers["ETag"]
    ok = client.patch(path, json={"stock": 15}, headers={**staff.headers, "If-Match": fresh})
    assert ok.status_code == 200 and ok.json["stock"] == 15 and ok.headers["ETag"] != fresh
