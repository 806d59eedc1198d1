"""Sessions and passwords: one session per login, listed and revocable; password change keeps
only this session; reset by code ends them all; login does identical work for every failure."""
from __future__ import annotations

import datetime as dt

import jwt
import pytest
from sqlalchemy import select, update

from carbon_credits.services import passwords
from models import AuthSession, User, db
from tests.conftest import assert_problem

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
RESET = "/api/v1/auth/password-reset"
RESET_CONFIRM = "/api/v1/auth/password-reset/confirm"
ME = "/api/v1/me"
SESSIONS = "/api/v1/me/sessions"
PASSWORD = "/api/v1/me/password"


def bearer(tokens) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def login(client, user, password=None, agent="TestAgent/1.0", address="198.51.100.7"):
    return client.post(LOGIN, json={"identifier": user.email, "password": password or user.password},
                       headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": address})


def sessions(app, user_id):
    with app.app_context():
        rows = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user_id)
                                  .order_by(AuthSession.created_at)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_a_login_opens_a_session_listed_with_its_device(client, app, actors):
    ana = actors.user("citizen")
    phone = login(client, ana, agent="CityApp/2.3 (Android 14)" + "x" * 400).json
    laptop = login(client, ana, agent="Firefox", address="203.0.113.9").json
    r = client.get(SESSIONS, headers=bearer(laptop))
    assert r.status_code == 200
    items = r.json["items"]
    assert len(items) == 3  # actors.user logged in once too
    assert items[0]["user_agent"] == "Firefox" and items[0]["ip_address"] == "203.0.113.9"
    assert items[0]["current"] is True and [i["current"] for i in items].count(True) == 1
    assert len(items[1]["user_agent"]) == 256 and items[1]["ip_address"] == "198.51.100.7"
    assert items == sorted(items, key=lambda i: i["created_at"], reverse=True)
    fam = jwt.decode(phone["access_token"], options={"verify_signature": False})["fam"]
    row = next(s for s in sessions(app, ana.id) if s.family_id == fam)
    assert abs((row.expires_at - row.created_at) - dt.timedelta(days=30)) < dt.timedelta(seconds=5)


def test_refresh_updates_the_session(client, app, actors):
    ana = actors.user("citizen")
    tokens = login(client, ana).json
    fam = jwt.decode(tokens["access_token"], options={"verify_signature": False})["fam"]
    with app.app_context():
        long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
        db.session.execute(update(AuthSession).where(AuthSession.family_id == fam).values(
            created_at=long_ago, last_used_at=long_ago, expires_at=long_ago + dt.timedelta(hours=3)))
        db.session.commit()
        db.session.remove()
    assert client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}).status_code == 200
    row = next(s for s in sessions(app, ana.id) if s.family_id == fam)
    assert row.last_used_at > row.created_at
    assert row.expires_at > row.created_at + dt.timedelta(days=29)


def test_reusing_a_refresh_token_kills_the_familys_access_tokens_at_once(client, app, actors):
    ana = actors.user("citizen")
    tokens = login(client, ana).json
    rotated = client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}).json
    assert client.get(ME, headers=bearer(rotated)).status_code == 200
    reuse = client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(reuse, 401, "refresh_token_reused")
    assert_problem(client.get(ME, headers=bearer(rotated)), 401, "token_revoked")
    assert_problem(client.get(ME, headers=bearer(tokens)), 401, "token_revoked")
    # Other sessions of the same person live on.
    assert client.get(ME, headers=ana.headers).status_code == 200
    reasons = {s.revoked_reason for s in sessions(app, ana.id)}
    assert reasons == {None, "refresh_reuse"}


def test_logout_revokes_the_session(client, app, actors):
    ana = actors.user("citizen")
    tokens = login(client, ana).json
    assert client.post(LOGOUT, headers=bearer(tokens)).status_code == 204
    assert "logout" in {s.revoked_reason for s in sessions(app, ana.id)}
    ids = [i["id"] for i in client.get(SESSIONS, headers=ana.headers).json["items"]]
    assert len(ids) == 1


def test_deleting_a_session_ends_it_and_others_sessions_are_not_found(client, app, actors):
    ana, bob = actors.user("citizen"), actors.user("citizen")
    other = login(client, ana).json
    target = next(i for i in client.get(SESSIONS, headers=ana.headers).json["items"]
                  if not i["current"])
    assert_problem(client.delete(f"{SESSIONS}/{target['id']}", headers=bob.headers), 404)
    assert client.get(ME, headers=bearer(other)).status_code == 200
    assert client.delete(f"{SESSIONS}/{target['id']}", headers=ana.headers).status_code == 204
    assert_problem(client.get(ME, headers=bearer(other)), 401, "token_revoked")
    assert_problem(client.post(REFRESH, json={"refresh_token": other["refresh_token"]}), 401)
    assert client.get(ME, headers=ana.headers).status_code == 200


def test_tokens_without_a_live_session_are_refused(client, app, actors):
    ana = actors.user("citizen")
    with app.app_context():
        db.session.execute(update(AuthSession).values(revoked_at=AuthSession.created_at,
                                                      revoked_reason="logout"))
        db.session.commit()
        db.session.remove()
    assert_problem(client.get(ME, headers=ana.headers), 401, "token_revoked")


def test_erased_users_tokens_are_refused(client, app, actors):
    ana = actors.user("citizen")
    with app.app_context():
        db.session.execute(update(User).where(User.id == ana.id).values(
            erased_at=dt.datetime.now(dt.timezone.utc)))
        db.session.commit()
        db.session.remove()
    assert_problem(client.get(ME, headers=ana.headers), 401, "token_revoked")


def test_suspension_revokes_sessions(client, app, actors):
    admin, ana = actors.user("admin"), actors.user("citizen")
    r = client.post(f"/api/v1/admin/users/{ana.id}/suspend", json={"reason": "fraud"},
                    headers=admin.headers)
    assert r.status_code == 200
    assert {s.revoked_reason for s in sessions(app, ana.id)} == {"suspended"}


def test_password_change_keeps_this_session_and_ends_the_others(client, app, actors):
    ana = actors.user("citizen")
    other = login(client, ana).json
    r = client.post(PASSWORD, json={"current_password": "wrong password", "new_password": "a new long pw"},
                    headers=ana.headers)
    assert_problem(r, 403, "wrong_password")
    r = client.post(PASSWORD, json={"current_password": ana.password, "new_password": "short"},
                    headers=ana.headers)
    assert "new_password" in assert_problem(r, 422, "validation")["errors"]
    r = client.post(PASSWORD, json={"current_password": ana.password, "new_password": "a new long pw"},
                    headers=ana.headers)
    assert r.status_code == 204
    assert client.get(ME, headers=ana.headers).status_code == 200
    assert_problem(client.get(ME, headers=bearer(other)), 401, "token_revoked")
    assert_problem(login(client, ana), 401, "invalid_credentials")
    assert login(client, ana, password="a new long pw").status_code == 200
    assert "password_changed" in {s.revoked_reason for s in sessions(app, ana.id)}


@pytest.mark.usefixtures("steady_throttle_clock")
def test_wrong_current_passwords_are_throttled(client, actors):
    ana = actors.user("citizen")
    statuses = [client.post(PASSWORD, json={"current_password": "guess", "new_password": "a new long pw"},
                            headers=ana.headers).status_code for _ in range(11)]
    assert statuses[:10] == [403] * 10 and statuses[10] == 429


def test_password_reset_by_code(client, app, actors, sent_messages):
    ana = actors.user("citizen", verified=False)
    unknown = client.post(RESET, json={"identifier": "nobody@example.test"})
    known = client.post(RESET, json={"identifier": ana.email.upper()})
    assert unknown.status_code == known.status_code == 202 and unknown.json == known.json
    assert sent_messages.wait() and sent_messages.to("nobody@example.test") == []
    code = sent_messages.last_code(ana.email, "password_reset")
    r = client.post(RESET_CONFIRM, json={"identifier": ana.email, "code": "0" * 8 if code != "0" * 8 else "1" * 8,
                                         "new_password": "reset long pw"})
    assert_problem(r, 422, "invalid_code")
    r = client.post(RESET_CONFIRM, json={"identifier": ana.email, "code": code,
                                         "new_password": "reset long pw"})
    assert r.status_code == 204
    assert_problem(client.get(ME, headers=ana.headers), 401, "token_revoked")
    assert_problem(login(client, ana), 401)
    assert login(client, ana, password="reset long pw").status_code == 200
    with app.app_context():
        assert db.session.get(User, ana.id).verified_at is not None  # the code proved control
        db.session.remove()
    assert {s.revoked_reason for s in sessions(app, ana.id)} >= {"password_reset"}
    # Single use.
    r = client.post(RESET_CONFIRM, json={"identifier": ana.email, "code": code,
                                         "new_password": "another long pw"})
    assert_problem(r, 422, "invalid_code")


def test_login_with_any_spelling_of_the_phone_number(client, app, sent_messages):
    client.post("/api/v1/auth/register", json={"phone": "+8613800138000", "password": "long enough pw",
                                               "display_name": "Li"})
    r = client.post(LOGIN, json={"identifier": "13800138000", "password": "long enough pw"})
    assert r.status_code == 200


def test_login_failures_look_alike_and_cost_one_argon2_verify_each(client, actors, monkeypatch):
    verified = actors.user("citizen")
    unverified = actors.user("citizen", verified=False)
    calls = []
    hasher = passwords._hasher

    class Counting:
        def __getattr__(self, name):
            return getattr(hasher, name)

        def verify(self, *args):
            calls.append(1)
            return hasher.verify(*args)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    answers = []
    for identifier, password in ((verified.email, "wrong password"),
                                 ("nobody@example.test", "wrong password"),
                                 (unverified.email, "wrong password"),
                                 ("not an identifier at all", "wrong password"),
                                 (verified.email, verified.password),
                                 (unverified.email, unverified.password)):
        calls.clear()
        r = client.post(LOGIN, json={"identifier": identifier, "password": password})
        assert len(calls) == 1, identifier
        answers.append(r)
    bodies = [assert_problem(r, 401, "invalid_credentials") for r in answers[:4]]
    assert len({(b["detail"], b["title"]) for b in bodies}) == 1
    assert answers[4].status_code == answers[5].status_code == 200
