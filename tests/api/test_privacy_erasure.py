"""DELETE /me (PIPL art. 47): the person is erased in one unit of work; the actions and the
ledger stay whole (verify runs after every test), the balance is forfeited, nothing erased is
left in the audit log, and the identifiers are free for a new person."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from carbon_credits.services import privacy
from models import (Action, AuditEntry, AuthSession, Binding, LedgerAccount, LedgerTransfer,
                    OneTimeCode, Redemption, RefreshToken, User, db)
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.conftest import all_table_counts, assert_problem
from tests.rewards_support import (CONFIRM, REDEMPTIONS, balance, create_reward, give_points,
                                   merchant, merchant_balance)

ME = "/api/v1/me"


def erase(client, user, password=None):
    return client.delete(ME, json={"password": password or user.password}, headers=user.headers)


@pytest.fixture
def history(client, app, actors, seeded, operator, rider):  # noqa: F811
    """A rider with a credited trip, an active and a withdrawn binding, an open voucher, a
    redeemed one and points left over."""
    other = actors.partner("transit_operator")
    old = actors.bind(rider, other, "OLD-CARD-7777")
    client.delete(f"/api/v1/me/bindings/{old}", headers=rider.headers)
    send_batch(client, operator, [{**trip(recent(3)), "external_id": "T-1",
                                   "external_ref": "CARD-0001"}])
    partner, staff = merchant(actors)
    open_reward = create_reward(client, staff, title="Open", points_cost=100)
    used_reward = create_reward(client, staff, title="Used", points_cost=50)
    give_points(app, [rider.id], 500)
    opened = client.post(REDEMPTIONS, json={"reward_id": open_reward["id"]}, headers=rider.headers)
    used = client.post(REDEMPTIONS, json={"reward_id": used_reward["id"]}, headers=rider.headers)
    assert opened.status_code == used.status_code == 201
    r = client.post(CONFIRM, json={"voucher_code": used.json["voucher_code"]}, headers=staff.headers)
    assert r.status_code == 200, r.json
    return {"rider": rider, "partner": partner, "staff": staff, "open": opened.json,
            "used": used.json, "open_reward": open_reward, "operator": operator}


def test_erasure_removes_the_person_and_keeps_the_records(client, app, actors, history):
    rider = history["rider"]
    available, reserved = balance(app, rider.id)
    assert (available, reserved) == (970 + 500 - 150, 100)
    paid_before = merchant_balance(app, history["partner"].id)

    r = erase(client, rider)
    assert r.status_code == 200, r.json
    assert r.json["points_forfeited"] == available + reserved  # the voucher's points came back
    assert r.json["vouchers_cancelled"] == 1 and r.json["bindings_withdrawn"] == 1
    assert r.json["sessions_revoked"] >= 1

    with app.app_context():
        user = db.session.get(User, rider.id)
        assert user.email is None and user.phone is None and user.erased_at is not None
        assert user.display_name.startswith("Erased user ") and "citizen" not in user.display_name
        assert user.display_name == privacy.erased_display_name(rider.id)
        assert user.leaderboard_visibility == "hidden"
        assert user.password_hash == privacy.ERASED_PASSWORD_HASH
        bindings = list(db.session.scalars(select(Binding).where(Binding.user_id == rider.id)))
        assert {b.status for b in bindings} == {"withdrawn"} and len(bindings) == 2
        assert all(b.external_ref_hint == "erased" and b.withdrawn_at for b in bindings)
        assert all(b.granted_at and b.scopes and b.notice_version for b in bindings)  # history
        sessions = list(db.session.scalars(select(AuthSession).where(AuthSession.user_id == rider.id)))
        assert all(s.revoked_at and s.revoked_reason == "erased" for s in sessions)
        assert all(s.ip_address is None and s.user_agent is None for s in sessions)
        assert db.session.scalars(select(RefreshToken).where(
            RefreshToken.user_id == rider.id, RefreshToken.revoked_at.is_(None))).first() is None
        assert db.session.scalars(select(OneTimeCode)
                                  .where(OneTimeCode.user_id == rider.id)).first() is None
        # The records stay: the action, the redeemed voucher, every ledger entry.
        assert db.session.scalars(select(Action).where(Action.user_id == rider.id)).first()
        statuses = {r.status for r in db.session.scalars(
            select(Redemption).where(Redemption.user_id == rider.id))}
        assert statuses == {"cancelled", "redeemed"}
        account = db.session.scalars(select(LedgerAccount)
                                     .where(LedgerAccount.user_id == rider.id)).one()
        assert (account.balance, account.reserved) == (0, 0)
        forfeits = list(db.session.scalars(select(LedgerTransfer)
                                           .where(LedgerTransfer.kind == "forfeit")))
        assert sum(t.amount for t in forfeits) == available + reserved
        assert all(t.debit_account_id == account.id and t.balance_after is not None
                   for t in forfeits)
        erased = db.session.scalars(select(AuditEntry)
                                    .where(AuditEntry.action == "user.erased")).one()
        assert erased.object_id == str(rider.id)
        assert erased.details["points_forfeited"] == available + reserved
        # Nothing erased is left in any audit row.
        everything = json.dumps([e.details for e in db.session.scalars(select(AuditEntry))])
        assert rider.email not in everything and "OLD-CARD" not in everything
        db.session.remove()
    assert merchant_balance(app, history["partner"].id) == paid_before  # the merchant keeps it


def test_after_erasure_the_old_credentials_fail_like_unknown_ones(client, app, actors, history):
    rider = history["rider"]
    assert erase(client, rider).status_code == 200
    login = client.post("/api/v1/auth/login", json={"identifier": rider.email,
                                                    "password": rider.password})
    unknown = client.post("/api/v1/auth/login", json={"identifier": "nobody@example.test",
                                                      "password": rider.password})
    assert login.status_code == unknown.status_code == 401
    assert login.json["type"] == unknown.json["type"]
    assert client.get(ME, headers=rider.headers).status_code == 401
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": rider.refresh})
    assert refresh.status_code == 401


def test_the_same_email_can_register_a_new_person(client, app, actors, history):
    rider = history["rider"]
    assert erase(client, rider).status_code == 200
    newcomer = actors.user("citizen", email=rider.email)
    assert newcomer.id != rider.id
    me = client.get(ME, headers=newcomer.headers).json
    assert me["email"] == rider.email and me["balance"] == 0


def test_the_card_can_be_bound_by_someone_else_and_never_leads_back(client, app, actors, history):
    rider, operator_ = history["rider"], history["operator"]
    assert erase(client, rider).status_code == 200
    newcomer = actors.user("citizen")
    actors.bind(newcomer, operator_, "CARD-0001")
    result = send_batch(client, operator_, [{**trip(recent(1)), "external_id": "T-2",
                                             "external_ref": "CARD-0001"}]).json["results"][0]
    assert result["status"] == "credited"
    with app.app_context():
        assert db.session.get(Action, uuid.UUID(result["action_id"])).user_id == newcomer.id
        db.session.remove()
    available, _ = balance(app, rider.id)
    assert available == 0


def test_wrong_password_is_refused_and_changes_nothing(client, app, actors, history):
    rider = history["rider"]
    before = all_table_counts(app)
    before.pop("throttle_counters", None)
    assert_problem(erase(client, rider, "not my password"), 403, "wrong_password")
    after = all_table_counts(app)
    after.pop("throttle_counters", None)
    assert after == before
    assert client.get(ME, headers=rider.headers).json["email"] == rider.email
    assert_problem(client.delete(ME, json={}, headers=rider.headers), 422)
    assert_problem(client.delete(ME, json={"password": "x", "reason": "y"},
                                 headers=rider.headers), 422)


@pytest.mark.parametrize("role", ["merchant", "admin", "auditor"])
def test_staff_cannot_erase_themselves(client, app, actors, role):
    staff = actors.user(role)
    before = all_table_counts(app)
    assert_problem(erase(client, staff), 403, "staff_account")
    assert all_table_counts(app) == before


def test_an_account_without_history_is_erased_too(client, app, actors):
    citizen = actors.user("citizen")
    r = erase(client, citizen)
    assert r.status_code == 200
    assert r.json["points_forfeited"] == 0 and r.json["vouchers_cancelled"] == 0


def test_erasure_needs_a_signed_in_user(client):
    assert_problem(client.delete(ME, json={"password": "x"}), 401)


def test_an_overdue_voucher_is_expired_not_cancelled(client, app, actors):
    import datetime as dt
    from sqlalchemy import update
    _, staff = merchant(actors)
    reward = create_reward(client, staff)
    citizen = actors.user("citizen")
    give_points(app, [citizen.id], 300)
    opened = client.post(REDEMPTIONS, json={"reward_id": reward["id"]}, headers=citizen.headers)
    assert opened.status_code == 201
    with app.app_context():
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
        db.session.execute(update(Redemption).values(expires_at=past))
        from models import LedgerHold
        db.session.execute(update(LedgerHold).values(expires_at=past))
        db.session.commit()
        db.session.remove()
    r = erase(client, citizen)
    assert r.status_code == 200 and r.json["points_forfeited"] == 300
    with app.app_context():
        assert db.session.scalars(select(Redemption.status)).one() == "expired"
        db.session.remove()


def test_points_that_arrive_after_erasure_are_forfeited_by_the_retention_job(client, app, actors):
    """A credit already past authentication when the erasure committed lands late; the
    retention job forfeits it."""
    citizen = actors.user("citizen")
    assert erase(client, citizen).status_code == 200
    give_points(app, [citizen.id], 40)
    assert balance(app, citizen.id) == (40, 0)
    with app.app_context():
        privacy.purge_expired_personal_data()
        db.session.remove()
    assert balance(app, citizen.id) == (0, 0)
