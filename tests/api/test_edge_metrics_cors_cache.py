"""The edge: /metrics only for the monitoring network or its token, no-store on every response
carrying a token or personal data, CORS only for configured origins (docs/operations.md)."""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import subprocess
import sys
import uuid

import pytest

from carbon_credits import config
from carbon_credits.config import ConfigError, load_settings
from tests.conftest import REDIS_URL, TEST_SECRET, assert_problem

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
METRICS_TOKEN = "m" * 20 + "-scrape-token-0123456789"
APP_ORIGIN = "https://app.example.test"


def with_settings(monkeypatch, **changes):
    monkeypatch.setattr(config, "_current", dataclasses.replace(config.get_settings(), **changes))


def networks(*cidrs):
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# ---------------------------------------------------------------------------------------------
# /metrics


def test_metrics_are_served_to_the_allowed_network(client):
    r = client.get("/metrics")  # the test client's address is 127.0.0.1, in the default list
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert b"http_requests_total" in r.data and b"carbon_business_metrics_up" in r.data


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.7", "2001:db8::5", "::ffff:203.0.113.9"])
def test_metrics_are_refused_to_any_other_address(client, address):
    r = client.get("/metrics", environ_overrides={"REMOTE_ADDR": address})
    assert_problem(r, 403, "metrics_forbidden")
    assert b"http_requests_total" not in r.data and b"carbon_" not in r.data


def test_metrics_token_opens_metrics_from_anywhere(client, monkeypatch):
    with_settings(monkeypatch, metrics_token=METRICS_TOKEN)
    r = client.get("/metrics", environ_overrides=OUTSIDE,
                   headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200 and b"http_requests_total" in r.data


@pytest.mark.parametrize("authorization", [f"Bearer {METRICS_TOKEN[:-1]}", f"Bearer {METRICS_TOKEN}x",
                                           f"Basic {METRICS_TOKEN}", "Bearer ", "Bearer é",
                                           METRICS_TOKEN])
def test_a_wrong_metrics_token_is_refused(client, monkeypatch, authorization):
    with_settings(monkeypatch, metrics_token=METRICS_TOKEN)
    r = client.get("/metrics", environ_overrides=OUTSIDE, headers={"Authorization": authorization})
    assert_problem(r, 403, "metrics_forbidden")


def test_without_a_configured_token_no_bearer_opens_metrics(client, actors):
    assert config.get_settings().metrics_token is None
    admin = actors.user("admin")  # a user's access token is not a metrics token
    for headers in ({"Authorization": "Bearer "}, {"Authorization": "Bearer None"}, admin.headers):
        assert_problem(client.get("/metrics", environ_overrides=OUTSIDE, headers=headers), 403,
                       "metrics_forbidden")


def test_configured_networks_replace_the_default(client, monkeypatch):
    with_settings(monkeypatch, metrics_allowed_networks=networks("10.0.0.0/8", "fd00::/8"))
    for address in ("10.20.30.40", "::ffff:10.20.30.40", "fd00::1"):  # dual-stack listeners too
        assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": address}).status_code == 200
    for address in ("127.0.0.1", "11.0.0.1", "::1"):
        assert_problem(client.get("/metrics", environ_overrides={"REMOTE_ADDR": address}), 403)


def test_health_probes_stay_public(client):
    assert client.get("/healthz", environ_overrides=OUTSIDE).json == {"status": "ok"}
    r = client.get("/readyz", environ_overrides=OUTSIDE)
    assert r.status_code == 200 and r.json["status"] == "ready"


def test_metrics_settings_are_validated_at_start():
    base = {"SECRET_KEY": TEST_SECRET, "CARBON_ENV": "test"}
    assert load_settings(base).metrics_allowed_networks == networks("127.0.0.1/32", "::1/128")
    assert load_settings(base).metrics_token is None
    parsed = load_settings({**base, "METRICS_ALLOWED_NETWORKS": " 10.0.0.0/8, 192.0.2.7 ,::1"})
    assert parsed.metrics_allowed_networks == networks("10.0.0.0/8", "192.0.2.7/32", "::1/128")
    assert load_settings({**base, "METRICS_ALLOWED_NETWORKS": "none"}).metrics_allowed_networks == ()
    for bad in ("10.0.0.1/8", "localhost", "10.0.0.0/33", "10.0.0.0/8,,"):
        with pytest.raises(ConfigError, match="METRICS_ALLOWED_NETWORKS"):
            load_settings({**base, "METRICS_ALLOWED_NETWORKS": bad})
    assert load_settings({**base, "METRICS_TOKEN": METRICS_TOKEN}).metrics_token == METRICS_TOKEN
    for bad in ("short", "x" * 31, "x" * 20 + " " + "y" * 20, "é" * 40):
        with pytest.raises(ConfigError, match="METRICS_TOKEN"):
            load_settings({**base, "METRICS_TOKEN": bad})


# ---------------------------------------------------------------------------------------------
# Cache-Control: no-store


def no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_token_responses_are_never_stored(client, actors):
    user = actors.user("citizen")
    login = client.post("/api/v1/auth/login", json={"identifier": user.email, "password": user.password})
    assert login.status_code == 200 and no_store(login)
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": login.json["refresh_token"]})
    assert refresh.status_code == 200 and no_store(refresh)
    failed = client.post("/api/v1/auth/login", json={"identifier": user.email, "password": "wrong pw!!"})
    assert failed.status_code == 401 and no_store(failed)  # errors on /auth/* too


def test_personal_responses_are_never_stored(client, actors):
    citizen, admin = actors.user("citizen"), actors.user("admin")
    me = client.get("/api/v1/me", headers=citizen.headers)
    assert me.status_code == 200 and no_store(me)
    assert no_store(client.get("/api/v1/me"))  # the 401 too: one rule for the whole path
    listed = client.get("/api/v1/admin/users", headers=admin.headers)
    assert listed.status_code == 200 and no_store(listed)
    catalogue_with_token = client.get("/api/v1/methodologies", headers=citizen.headers)
    assert catalogue_with_token.status_code == 200 and no_store(catalogue_with_token)


def test_signed_partner_responses_are_never_stored(client, actors):
    citizen, operator = actors.user("citizen"), actors.partner("transit_operator")
    ref = f"CARD-{uuid.uuid4().hex[:8]}"
    asked = client.post("/api/v1/me/bindings", json={"partner_id": str(operator.id), "external_ref": ref},
                        headers=citizen.headers)
    raw = json.dumps({"external_ref": ref,
                      "confirmation_code": asked.json["confirmation_code"]}).encode()
    r = client.post("/api/v1/partner/bindings/confirm", data=raw, headers=operator.signed(raw))
    assert r.status_code == 200 and no_store(r)
    unsigned = client.post("/api/v1/partner/bindings/confirm", data=raw,
                           headers={**operator.signed(raw), "X-Signature": "sha256=00"})
    assert unsigned.status_code == 401 and no_store(unsigned)


def test_public_catalogue_stays_cacheable(client):
    for path in ("/api/v1/methodologies", "/api/v1/rewards", "/healthz"):
        r = client.get(path)
        assert r.status_code == 200 and not no_store(r), path


# ---------------------------------------------------------------------------------------------
# CORS


PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}


def test_without_configured_origins_no_cors_headers_are_sent(client):
    assert config.get_settings().cors_origins == ()
    r = client.get("/api/v1/methodologies", headers={"Origin": APP_ORIGIN})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = client.options("/api/v1/auth/login", headers=PREFLIGHT)
    assert not any(name.startswith("Access-Control-") for name in r.headers.keys())


# Flask-CORS is wired when the app is built, so configured origins need an app of their own; it
# is built in a child process, leaving this session's app and the shared extension objects alone.
PROBE = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from api import create_app
settings, requests = json.loads(sys.argv[1])
client = create_app({**settings, "TESTING": True}).test_client()
out = []
for method, path, headers in requests:
    r = client.open(path, method=method, headers=headers)
    out.append({"status": r.status_code, "headers": {k.lower(): v for k, v in r.headers.items()}})
print(json.dumps(out))
"""


def probe_with_origins(app, origins: str, requests: list) -> list[dict]:
    settings = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": REDIS_URL or "",
                "SECRET_KEY": TEST_SECRET, "CARBON_ENV": "test", "CORS_ORIGINS": origins}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps([settings, requests])],
                          capture_output=True, text=True, timeout=120, check=False,
                          cwd=config.PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_configured_origins_may_call_the_api_and_others_may_not(app, actors):
    citizen = actors.user("citizen")
    other = "https://evil.example"
    get, preflight, authed, refused, evil_get, evil_preflight = probe_with_origins(
        app, f"{APP_ORIGIN}, http://localhost:5173", [
            ("GET", "/api/v1/methodologies", {"Origin": APP_ORIGIN}),
            ("OPTIONS", "/api/v1/me/bindings", PREFLIGHT),
            ("GET", "/api/v1/me", {"Origin": APP_ORIGIN, **citizen.headers}),
            ("GET", "/api/v1/me", {"Origin": APP_ORIGIN}),
            ("GET", "/api/v1/methodologies", {"Origin": other}),
            ("OPTIONS", "/api/v1/me/bindings", {**PREFLIGHT, "Origin": other}),
        ])
    assert get["status"] == 200 and get["headers"]["access-control-allow-origin"] == APP_ORIGIN
    assert "origin" in get["headers"]["vary"].lower()
    assert set(get["headers"]["access-control-expose-headers"].split(", ")) == {
        "Retry-After", "X-Request-ID", "Location"}
    assert "access-control-allow-credentials" not in get["headers"]  # bearer tokens, no cookies

    # The preflight of a protected POST is answered without credentials, and changes nothing.
    assert preflight["status"] == 200
    assert preflight["headers"]["access-control-allow-origin"] == APP_ORIGIN
    assert set(preflight["headers"]["access-control-allow-headers"].split(", ")) == {
        "authorization", "content-type", "idempotency-key"}
    assert "POST" in preflight["headers"]["access-control-allow-methods"]

    assert authed["status"] == 200 and authed["headers"]["access-control-allow-origin"] == APP_ORIGIN
    assert refused["status"] == 401  # the browser may read the problem too
    assert refused["headers"]["access-control-allow-origin"] == APP_ORIGIN
    for answer in (evil_get, evil_preflight):
        assert "access-control-allow-origin" not in answer["headers"]


def test_cors_origins_are_validated_at_start():
    base = {"SECRET_KEY": TEST_SECRET, "CARBON_ENV": "production",
            "DATABASE_URL": "postgresql://u@db/cc", "PUBLIC_BASE_URL": "https://carbon.example.cn"}
    assert load_settings(base).cors_origins == ()
    parsed = load_settings({**base, "CORS_ORIGINS": "https://App.Example.cn, http://localhost:5173,"
                                                    "https://[::1]:8443"})
    assert parsed.cors_origins == ("https://app.example.cn", "http://localhost:5173",
                                   "https://[::1]:8443")
    for bad in ("*", "https://app.example.cn/", "https://app.example.cn/path", "app.example.cn",
                "ftp://app.example.cn", "https://*.example.cn", "https://u:p@app.example.cn",
                "https://app.example.cn:99999", "https://app.example.cn?x=1", "https://"):
        with pytest.raises(ConfigError, match="CORS_ORIGINS"):
            load_settings({**base, "CORS_ORIGINS": bad})
    assert load_settings({**base, "CARBON_ENV": "development", "CORS_ORIGINS": "*"}).cors_origins == ("*",)

