"""Signing in to the console: same accounts and rules as the API, a cookie that is HttpOnly,
SameSite=Lax and Secure-capable, CSRF on every form, a strict CSP, idle timeout, and a sign-out
that revokes the session server-side (a stolen copy of the cookie dies with it)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from tests.conftest import all_table_counts
from tests.console_support import csrf_token, post, sign_in


def _form(browser, identifier, password):
    return browser.post("/console/login", data={"identifier": identifier, "password": password,
                                                "csrf_token": csrf_token(browser)})


def test_an_auditor_signs_in_and_the_cookie_is_locked_down(app, actors):
    auditor = actors.user("auditor")
    browser = app.test_client()
    r = _form(browser, auditor.email, auditor.password)
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("cc_console=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/console" in cookie and "Expires=" in cookie
    page = browser.get("/console/")
    assert page.status_code == 200 and auditor.email.split("@")[0] in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and page.headers["X-Frame-Options"] == "DENY"


def test_the_cookie_is_secure_when_configured(app, actors, monkeypatch):
    auditor = actors.user("auditor")
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    r = _form(app.test_client(), auditor.email, auditor.password)
    assert "Secure" in r.headers["Set-Cookie"]


def test_production_refuses_an_insecure_console_cookie():
    from carbon_credits.config import ConfigError, load_settings
    env = {"CARBON_ENV": "production", "SECRET_KEY": "x" * 40,
           "DATABASE_URL": "postgresql://db/x", "CONSOLE_COOKIE_SECURE": "false",
           "PUBLIC_BASE_URL": "https://carbon.example.cn"}
    with pytest.raises(ConfigError, match="CONSOLE_COOKIE_SECURE"):
        load_settings(env)
    env.pop("CONSOLE_COOKIE_SECURE")
    assert load_settings(env).console_cookie_secure is True


@pytest.mark.parametrize("case", ["wrong_password", "unknown", "unverified", "suspended",
                                  "citizen"])
def test_refused_sign_ins_open_nothing(app, actors, case):
    from carbon_credits.services import users as user_service
    admin = actors.user("admin")
    person = actors.user("citizen" if case == "citizen" else "auditor",
                         verified=case != "unverified")
    if case == "suspended":
        with app.app_context():
            user_service.set_suspended(user_id=person.id, suspended=True, reason="test",
                                       actor_user_id=admin.id)
    identifier = "nobody@example.test" if case == "unknown" else person.email
    password = "wrong password!" if case == "wrong_password" else person.password
    browser = app.test_client()
    token = csrf_token(browser)
    before = all_table_counts(app)
    r = browser.post("/console/login", data={"identifier": identifier, "password": password,
                                             "csrf_token": token})
    expected = {"wrong_password": 401, "unknown": 401, "unverified": 403, "suspended": 403,
                "citizen": 403}[case]
    assert r.status_code == expected
    assert 'id="sign-in-error"' in r.get_data(as_text=True)
    after = all_table_counts(app)
    after.pop("throttle_counters", None), before.pop("throttle_counters", None)
    assert after == before
    assert browser.get("/console/").status_code == 302


@pytest.mark.usefixtures("steady_throttle_clock")
def test_sign_in_is_throttled_like_the_api(app, actors):
    auditor = actors.user("auditor")
    browser = app.test_client()
    statuses = [_form(browser, auditor.email, "wrong password!").status_code for _ in range(12)]
    assert statuses[0] == 401 and 429 in statuses
    limited = _form(browser, auditor.email, auditor.password)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_every_form_needs_its_csrf_token(app, actors):
    auditor = actors.user("auditor")
    browser = sign_in(app, auditor)
    before = all_table_counts(app)
    for token in (None, "", "forged", csrf_token(app.test_client())):
        data = {} if token is None else {"csrf_token": token}
        r = browser.post("/console/logout", data=data)
        assert r.status_code == 400 and 'data-problem="csrf_failed"' in r.get_data(as_text=True)
    assert all_table_counts(app) == before
    assert browser.get("/console/").status_code == 200  # still signed in
    anonymous = app.test_client()
    r = anonymous.post("/console/login", data={"identifier": auditor.email,
                                               "password": auditor.password})
    assert r.status_code == 400


def test_sign_out_revokes_the_session_so_a_copied_cookie_is_dead(app, actors):
    from models import AuthSession, db, utcnow
    auditor = actors.user("auditor")
    browser = sign_in(app, auditor)
    stolen = browser.get_cookie("cc_console", path="/console").value
    r = post(browser, "/console/logout")
    assert r.status_code == 302 and r.headers["Location"] == "/console/login"
    thief = app.test_client()
    thief.set_cookie("cc_console", stolen, path="/console")
    assert thief.get("/console/").status_code == 302
    with app.app_context():
        reasons = db.session.scalars(select(AuthSession.revoked_reason)
                                     .where(AuthSession.user_id == auditor.id,
                                            AuthSession.user_agent.like("console: %"))).all()
    assert reasons == ["logout"]


def test_an_idle_session_is_revoked_on_its_next_use(app, actors):
    from models import AuthSession, db, utcnow
    auditor = actors.user("auditor")
    browser = sign_in(app, auditor)
    idle = app.config["SETTINGS"].console_idle_timeout_seconds
    with app.app_context():
        db.session.execute(update(AuthSession).where(AuthSession.user_agent.like("console: %"))
                           .values(last_used_at=utcnow() - dt.timedelta(seconds=idle + 1)))
        db.session.commit()
    r = browser.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login")
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "without activity" in page
    with app.app_context():
        row = db.session.scalars(select(AuthSession)
                                 .where(AuthSession.user_agent.like("console: %"))).one()
        assert row.revoked_reason == "idle_timeout"


def test_activity_keeps_a_session_alive(app, actors):
    from models import AuthSession, db, utcnow
    auditor = actors.user("auditor")
    browser = sign_in(app, auditor)
    idle = app.config["SETTINGS"].console_idle_timeout_seconds
    with app.app_context():
        db.session.execute(update(AuthSession).where(AuthSession.user_agent.like("console: %"))
                           .values(last_used_at=utcnow() - dt.timedelta(seconds=idle - 30)))
        db.session.commit()
    assert browser.get("/console/").status_code == 200
    assert browser.get("/console/").status_code == 200


def test_the_console_session_is_listed_and_ended_through_the_api(app, client, actors):
    auditor = actors.user("auditor")
    browser = sign_in(app, auditor)
    sessions = client.get("/api/v1/me/sessions", headers=auditor.headers).get_json()["items"]
    console = [s for s in sessions if (s.get("user_agent") or "").startswith("console: ")]
    assert len(console) == 1
    r = client.delete(f"/api/v1/me/sessions/{console[0]['id']}", headers=auditor.headers)
    assert r.status_code == 204
    assert browser.get("/console/").status_code == 302


def test_suspending_a_user_ends_their_console_session(app, actors):
    from carbon_credits.services import users as user_service
    admin, auditor = actors.user("admin"), actors.user("auditor")
    browser = sign_in(app, auditor)
    with app.app_context():
        user_service.set_suspended(user_id=auditor.id, suspended=True, reason="test",
                                   actor_user_id=admin.id)
    assert browser.get("/console/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/api/v1/me", "/console/\\evil"])
def test_sign_in_never_redirects_outside_the_console(app, actors, target):
    auditor = actors.user("auditor")
    browser = sign_in(app, auditor, next_page=target)
    # sign_in asserted a 302; where to is checked here with a second sign-in's answer
    r = browser.post("/console/login", data={"identifier": auditor.email,
                                             "password": auditor.password, "next": target,
                                             "csrf_token": csrf_token(browser, "/console/")})
    assert r.status_code == 302 and r.headers["Location"] == "/console/"


def test_sign_in_goes_back_to_the_page_asked_for(app, actors):
    auditor = actors.user("auditor")
    browser = app.test_client()
    r = browser.get("/console/reports")
    assert r.headers["Location"] == "/console/login?next=/console/reports"
    token = csrf_token(browser)
    r = browser.post("/console/login", data={"identifier": auditor.email, "next": "/console/reports",
                                             "password": auditor.password, "csrf_token": token})
    assert r.headers["Location"] == "/console/reports"


def test_signing_in_again_revokes_the_session_the_cookie_held(app, actors):
    from models import AuthSession, db
    auditor, admin = actors.user("auditor"), actors.user("admin")
    browser = sign_in(app, auditor)
    r = browser.post("/console/login", data={"identifier": admin.email, "password": admin.password,
                                             "csrf_token": csrf_token(browser, "/console/")})
    assert r.status_code == 302
    with app.app_context():
        rows = {row.user_id: row.revoked_reason for row in db.session.scalars(
            select(AuthSession).where(AuthSession.user_agent.like("console: %")))}
    assert rows == {auditor.id: "logout", admin.id: None}
    assert admin.email.split("@")[0] in browser.get("/console/").get_data(as_text=True)
