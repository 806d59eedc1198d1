"""A merchant's staff managed by the merchant's own lead (docs/merchants.md): an admin makes the
lead; the lead lists, adds, suspends, reinstates and removes staff of their own merchant only,
never themselves, another lead or a scheme role, and grants nothing but `merchant`. Each change
is audited; each refusal changes nothing; a suspended or removed member's tokens stop at once."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from models import AuditEntry, User, db
from tests.conftest import all_table_counts, assert_problem
from tests.rewards_support import REWARDS, merchant

STAFF = "/api/v1/merchant/staff"
LOGIN = "/api/v1/auth/login"
PASSWORD = "a long initial passphrase"


def _make_lead(client, admin, user):
    r = client.post(f"/api/v1/admin/users/{user.id}/merchant-lead", json={"lead": True},
                    headers=admin.headers)
    assert r.status_code == 200 and r.json["merchant_lead"] is True, r.json
    return r.json


@pytest.fixture
def shop(client, actors):
    """Merchant A with a lead and a plain staff member, merchant B with its own staff, and the
    admin who made A's lead."""
    admin = actors.user("admin")
    partner, lead = merchant(actors)
    staff = actors.user("merchant", partner_id=partner.id)
    other_partner, other_staff = merchant(actors)
    _make_lead(client, admin, lead)
    return {"admin": admin, "partner": partner, "lead": lead, "staff": staff,
            "other_partner": other_partner, "other_staff": other_staff}


def _audit(app, action):
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        found = [(r.object_id, r.actor_user_id, r.details) for r in rows]
        db.session.remove()
    return found


def _user(app, user_id):
    with app.app_context():
        user = db.session.get(User, uuid.UUID(str(user_id)))
        values = {"roles": sorted(user.role_names), "partner_id": user.partner_id,
                  "suspended": user.is_suspended, "lead": user.merchant_lead}
        db.session.remove()
    return values


def _login(client, email, password=PASSWORD):
    return client.post(LOGIN, json={"identifier": email, "password": password})


def test_an_admin_makes_the_lead_and_it_is_audited(client, app, shop):
    assert _user(app, shop["lead"].id)["lead"] is True
    [(object_id, actor, details)] = _audit(app, "user.merchant_lead_set")
    assert str(object_id) == str(shop["lead"].id) and actor == shop["admin"].id
    assert details["lead"] is True and details["partner_id"] == str(shop["partner"].id)


def test_lead_lists_their_merchants_staff_only(client, shop):
    r = client.get(STAFF, headers=shop["lead"].headers)
    assert r.status_code == 200, r.json
    assert {i["id"] for i in r.json["items"]} == {str(shop["lead"].id), str(shop["staff"].id)}
    assert {i["id"]: i["merchant_lead"] for i in r.json["items"]} == \
        {str(shop["lead"].id): True, str(shop["staff"].id): False}
    page = client.get(STAFF + "?limit=1", headers=shop["lead"].headers).json
    rest = client.get(STAFF + f"?limit=1&cursor={page['next_cursor']}",
                      headers=shop["lead"].headers).json
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == \
        {str(shop["lead"].id), str(shop["staff"].id)} and rest["next_cursor"] is None


def test_lead_adds_a_staff_member_who_can_work_at_once(client, app, shop):
    r = client.post(STAFF, json={"email": "Till-2@Teahouse.example", "display_name": "Till 2",
                                 "password": PASSWORD}, headers=shop["lead"].headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["roles"] == ["merchant"] and body["partner_id"] == str(shop["partner"].id)
    assert body["merchant_lead"] is False and body["email"] == "till-2@teahouse.example"
    [(object_id, actor, details)] = _audit(app, "merchant_staff.added")
    assert str(object_id) == body["id"] and actor == shop["lead"].id
    tokens = _login(client, "till-2@teahouse.example").json
    r = client.get(REWARDS, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200


@pytest.mark.parametrize("extra", [
    {"roles": ["admin"]}, {"roles": ["merchant", "verifier"]}, {"role": "auditor"},
    {"partner_id": "OTHER"}, {"merchant_lead": True}, {"region": "440300"},
])
def test_a_lead_grants_nothing_but_merchant_of_their_own_merchant(client, app, shop, extra):
    if extra.get("partner_id") == "OTHER":
        extra = {"partner_id": str(shop["other_partner"].id)}
    before = all_table_counts(app)
    r = client.post(STAFF, json={"email": "sneaky@example.test", "display_name": "S",
                                 "password": PASSWORD, **extra}, headers=shop["lead"].headers)
    assert_problem(r, 422, "validation")
    assert all_table_counts(app) == before


@pytest.mark.parametrize("body", [
    {"email": "not-an-email", "display_name": "S", "password": PASSWORD},
    {"email": "s@example.test", "display_name": "", "password": PASSWORD},
    {"email": "s@example.test", "display_name": "S", "password": "short"},
    {"email": "s@example.test", "display_name": "S"},
])
def test_bad_staff_input_is_422_and_changes_nothing(client, app, shop, body):
    before = all_table_counts(app)
    assert_problem(client.post(STAFF, json=body, headers=shop["lead"].headers), 422)
    assert all_table_counts(app) == before


def test_an_existing_account_is_never_pulled_into_the_merchant(client, app, actors, shop):
    citizen = actors.user("citizen")
    before = all_table_counts(app)
    for email in (citizen.email, shop["lead"].email, shop["other_staff"].email):
        r = client.post(STAFF, json={"email": email, "display_name": "X", "password": PASSWORD},
                        headers=shop["lead"].headers)
        assert_problem(r, 409, "identifier_taken")
    assert all_table_counts(app) == before
    assert _user(app, shop["other_staff"].id)["partner_id"] == shop["other_partner"].id


def test_plain_staff_and_other_roles_cannot_use_the_lead_routes(client, app, actors, shop):
    citizen = actors.user("citizen")
    before = all_table_counts(app)
    staff = shop["staff"]
    calls = [("get", STAFF, None), ("post", STAFF, {"email": "x@example.test",
                                                    "display_name": "X", "password": PASSWORD}),
             ("post", f"{STAFF}/{shop['lead'].id}/suspend", {}),
             ("delete", f"{STAFF}/{shop['lead'].id}", None)]
    for method, path, body in calls:
        kwargs = {"json": body} if body is not None else {}
        assert_problem(getattr(client, method)(path, headers=staff.headers, **kwargs), 403,
                       "lead_required")
        assert_problem(getattr(client, method)(path, headers=citizen.headers, **kwargs), 403)
        assert_problem(getattr(client, method)(path, headers=shop["admin"].headers, **kwargs), 403)
    assert_problem(client.post(f"/api/v1/admin/users/{staff.id}/merchant-lead",
                               json={"lead": True}, headers=shop["lead"].headers), 403)
    assert all_table_counts(app) == before
    assert _user(app, shop["lead"].id) == {"roles": ["merchant"], "partner_id": shop["partner"].id,
                                           "suspended": False, "lead": True}


def test_suspending_staff_stops_their_tokens_at_once_and_reinstating_lets_them_log_in(
        client, app, shop):
    staff = shop["staff"]
    assert client.get(REWARDS, headers=staff.headers).status_code == 200
    r = client.post(f"{STAFF}/{staff.id}/suspend", json={"reason": "left the shop"},
                    headers=shop["lead"].headers)
    assert r.status_code == 200 and r.json["suspended"] is True
    assert_problem(client.get(REWARDS, headers=staff.headers), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": staff.refresh}), 401)
    assert _login(client, staff.email, staff.password).status_code in (401, 403)
    [(_, actor, details)] = _audit(app, "merchant_staff.suspended")
    assert actor == shop["lead"].id and details["reason"] == "left the shop"

    r = client.post(f"{STAFF}/{staff.id}/suspend", json={"suspended": False},
                    headers=shop["lead"].headers)
    assert r.status_code == 200 and r.json["suspended"] is False
    assert len(_audit(app, "merchant_staff.reinstated")) == 1
    assert_problem(client.get(REWARDS, headers=staff.headers), 401)  # old sessions stay ended
    tokens = _login(client, staff.email, staff.password).json
    assert client.get(REWARDS, headers={"Authorization": f"Bearer {tokens['access_token']}"}
                      ).status_code == 200


def test_removing_staff_takes_their_merchant_role_and_ends_their_sessions(client, app, shop):
    from tests.console_support import sign_in
    staff = shop["staff"]
    browser = sign_in(app, staff)
    assert browser.get("/console/desk").status_code == 200
    r = client.delete(f"{STAFF}/{staff.id}", headers=shop["lead"].headers)
    assert r.status_code == 204
    desk = browser.get("/console/desk")  # the console cookie's session ended too
    assert desk.status_code in (302, 303) and "/console/login" in desk.headers["Location"]
    assert _user(app, staff.id) == {"roles": [], "partner_id": None, "suspended": False,
                                    "lead": False}
    assert_problem(client.get(REWARDS, headers=staff.headers), 401)
    tokens = _login(client, staff.email, staff.password).json
    assert_problem(client.get(REWARDS, headers={
        "Authorization": f"Bearer {tokens['access_token']}"}), 403)
    [(object_id, actor, details)] = _audit(app, "merchant_staff.removed")
    assert str(object_id) == str(staff.id) and details["partner_id"] == str(shop["partner"].id)
    assert_problem(client.delete(f"{STAFF}/{staff.id}", headers=shop["lead"].headers), 404)


def test_a_lead_cannot_touch_another_merchants_staff_or_unknown_users(client, app, actors, shop):
    citizen = actors.user("citizen")
    before = all_table_counts(app)
    for target in (shop["other_staff"].id, citizen.id, shop["admin"].id, uuid.uuid4()):
        assert_problem(client.post(f"{STAFF}/{target}/suspend", json={},
                                   headers=shop["lead"].headers), 404)
        assert_problem(client.delete(f"{STAFF}/{target}", headers=shop["lead"].headers), 404)
    assert all_table_counts(app) == before
    assert client.get(REWARDS, headers=shop["other_staff"].headers).status_code == 200


def test_a_lead_cannot_suspend_or_remove_themselves_another_lead_or_a_scheme_role(
        client, app, actors, shop):
    partner = shop["partner"]
    second_lead = actors.user("merchant", partner_id=partner.id)
    _make_lead(client, shop["admin"], second_lead)
    # An admin who also works at the shop's till.
    admin_at_till = actors.user("merchant", "admin", partner_id=partner.id)
    before = all_table_counts(app)
    for target, status, code in ((shop["lead"], 409, "self_management"),
                                 (second_lead, 403, "lead_managed_by_admin"),
                                 (admin_at_till, 403, "privileged_target")):
        assert_problem(client.post(f"{STAFF}/{target.id}/suspend", json={},
                                   headers=shop["lead"].headers), status, code)
        assert_problem(client.delete(f"{STAFF}/{target.id}", headers=shop["lead"].headers),
                       status, code)
    assert all_table_counts(app) == before
    for target in (shop["lead"], second_lead, admin_at_till):
        assert client.get(REWARDS, headers=target.headers).status_code == 200


def test_a_lead_no_longer_lead_is_refused_on_the_next_request(client, app, shop):
    r = client.post(f"/api/v1/admin/users/{shop['lead'].id}/merchant-lead", json={"lead": False},
                    headers=shop["admin"].headers)
    assert r.status_code == 200 and r.json["merchant_lead"] is False
    assert_problem(client.get(STAFF, headers=shop["lead"].headers), 403, "lead_required")


def test_only_plain_merchant_staff_can_be_made_lead(client, app, actors, shop):
    citizen = actors.user("citizen")
    admin_at_till = actors.user("merchant", "admin", partner_id=shop["partner"].id)
    before = all_table_counts(app)
    for target in (citizen, admin_at_till):
        assert_problem(client.post(f"/api/v1/admin/users/{target.id}/merchant-lead",
                                   json={"lead": True}, headers=shop["admin"].headers),
                       422, "not_merchant_staff")
    assert_problem(client.post(f"/api/v1/admin/users/{admin_at_till.id}/merchant-lead",
                               json={"lead": True}, headers=admin_at_till.headers), 403,
                   "self_grant")
    assert_problem(client.post(f"/api/v1/admin/users/{uuid.uuid4()}/merchant-lead",
                               json={"lead": True}, headers=shop["admin"].headers), 404)
    for bad in ({"lead": "yes"}, {"lead": 1}, {}, {"lead": True, "partner_id": str(uuid.uuid4())}):
        assert_problem(client.post(f"/api/v1/admin/users/{shop['staff'].id}/merchant-lead",
                                   json=bad, headers=shop["admin"].headers), 422, "validation")
    assert_problem(client.post(f"{STAFF}/{shop['staff'].id}/suspend", json={"suspended": "no"},
                               headers=shop["lead"].headers), 422, "validation")
    assert all_table_counts(app) == before
