"""Registration, login, refresh rotation, logout and every bad-credential path."""
from __future__ import annotations

import time

import jwt
import pytest

from models import RefreshToken, RevokedAccessToken, User
from tests.conftest import TEST_SECRET, all_table_counts, assert_problem, table_counts

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"


def register_and_login(client, email="ana@example.test", password="long enough pw"):
    r = client.post(REGISTER, json={"email": email, "password": password, "display_name": "Ana"})
    assert r.status_code == 202, r.json
    r = client.post(LOGIN, json={"identifier": email, "password": password})
    assert r.status_code == 200, r.json
    return r.json


def test_register_login_and_me(client):
    r = client.post(REGISTER, json={"email": "Ana@Example.test", "password": "long enough pw",
                                    "display_name": "Ana"})
    assert r.status_code == 202
    assert r.json["status"] == "verification_sent" and "id" not in r.json
    tokens = client.post(LOGIN, json={"identifier": "ana@example.test", "password": "long enough pw"}).json
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    me = client.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json["display_name"] == "Ana" and me.json["balance"] == 0
    assert me.json["email"] == "ana@example.test" and me.json["roles"] == ["citizen"]
    assert me.json["total_reduction_g"] == "0.000"


def test_register_with_phone(client):
    r = client.post(REGISTER, json={"phone": "+8613800000000", "password": "long enough pw",
                                    "display_name": "Li"})
    assert r.status_code == 202
    for spelling in ("+8613800000000", "13800000000", "008613800000000"):
        r = client.post(LOGIN, json={"identifier": spelling, "password": "long enough pw"})
        assert r.status_code == 200, spelling


def test_duplicate_registration_is_202_like_a_new_one_and_adds_no_user(client, app):
    first = client.post(REGISTER, json={"email": "ana@example.test", "password": "long enough pw",
                                        "display_name": "Ana"})
    before = table_counts(app, User)
    again = client.post(REGISTER, json={"email": "ANA@example.test", "password": "another long pw",
                                        "display_name": "Other"})
    assert again.status_code == first.status_code == 202
    assert again.json == first.json
    assert table_counts(app, User) == before


@pytest.mark.parametrize("body, field", [
    ({"password": "long enough pw", "display_name": "A"}, "email"),
    ({"email": "not-an-email", "password": "long enough pw", "display_name": "A"}, "email"),
    ({"email": "a@example.test", "password": "short", "display_name": "A"}, "password"),
    ({"email": "a@example.test", "password": "long enough pw", "display_name": ""}, "display_name"),
    ({"email": "a@example.test", "password": "long enough pw", "display_name": "A", "roles": ["admin"]}, "roles"),
    ({"email": "a@example.test", "password": 1234567890123, "display_name": "A"}, "password"),
])
def test_bad_registration_is_422_and_changes_nothing(client, app, body, field):
    before = all_table_counts(app)
    r = client.post(REGISTER, json=body)
    problem = assert_problem(r, 422, "validation")
    assert field in problem["errors"]
    assert all_table_counts(app) == before


def test_wrong_password_and_unknown_user_get_the_same_401(client):
    register_and_login(client)
    a = client.post(LOGIN, json={"identifier": "ana@example.test", "password": "wrong password"})
    b = client.post(LOGIN, json={"identifier": "nobody@example.test", "password": "wrong password"})
    assert_problem(a, 401, "invalid_credentials")
    assert_problem(b, 401, "invalid_credentials")
    assert a.json["detail"] == b.json["detail"]


@pytest.mark.usefixtures("steady_throttle_clock")
def test_login_is_throttled_with_retry_after(client):
    register_and_login(client)
    statuses = [client.post(LOGIN, json={"identifier": "ana@example.test", "password": "bad guess"}).status_code
                for _ in range(12)]
    assert statuses[-1] == 429
    r = client.post(LOGIN, json={"identifier": "ana@example.test", "password": "bad guess"})
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1


def _forge(claims: dict, key: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _valid_claims(user_id: str) -> dict:
    now = int(time.time())
    return {"sub": user_id, "iss": "carbon-credits", "aud": "carbon-credits-api", "iat": now,
            "exp": now + 600, "jti": "x" * 32, "typ": "access", "fam": "f" * 32, "roles": ["admin"]}


def test_bad_tokens_are_401(client, actors):
    citizen = actors.user("citizen")
    good = _valid_claims(str(citizen.id))
    header, payload, sig = citizen.access.split(".")
    evil_payload = jwt.utils.base64url_encode(b'{"sub":"x"}').decode()
    cases = {
        "missing": None,
        "garbage": "not.a.token",
        "tampered": f"{header}.{evil_payload}.{sig}",
        "alg_none": jwt.encode(good, None, algorithm="none"),
        "wrong_key": _forge(good, key="another-secret-key-0123456789abcdef0123"),
        "expired": _forge({**good, "iat": int(time.time()) - 4000, "exp": int(time.time()) - 3000}),
        "wrong_audience": _forge({**good, "aud": "someone-else"}),
        "wrong_issuer": _forge({**good, "iss": "someone-else"}),
        "no_jti": _forge({k: v for k, v in good.items() if k != "jti"}),
        "refresh_as_access": citizen.refresh,
    }
    for name, token in cases.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = client.get(ME, headers=headers)
        assert_problem(r, 401)
        assert "WWW-Authenticate" in r.headers, name


def test_forged_admin_claim_in_a_valid_token_grants_nothing(client, actors):
    citizen = actors.user("citizen")
    # A token signed with the right key that claims `admin` (in the citizen's live session):
    # roles come from the database.
    fam = jwt.decode(citizen.access, options={"verify_signature": False})["fam"]
    token = _forge({**_valid_claims(str(citizen.id)), "fam": fam})
    r = client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 403, "role_required")


def test_refresh_rotates_and_reuse_revokes_the_family(client, app):
    tokens = register_and_login(client)
    first = client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json
    assert rotated["refresh_token"] != tokens["refresh_token"]
    # Presenting the spent token again: refused, and the whole family is revoked.
    reuse = client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(reuse, 401, "refresh_token_reused")
    r = client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert_problem(r, 401, "invalid_token")


def test_access_token_cannot_be_used_to_refresh(client):
    tokens = register_and_login(client)
    r = client.post(REFRESH, json={"refresh_token": tokens["access_token"]})
    assert_problem(r, 401, "invalid_token")


def test_logout_revokes_access_and_refresh(client, app):
    tokens = register_and_login(client)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post(LOGOUT, headers=headers).status_code == 204
    assert_problem(client.get(ME, headers=headers), 401, "token_revoked")
    assert_problem(client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}), 401)
    assert table_counts(app, RevokedAccessToken)["revoked_access_tokens"] == 1


def test_revocation_survives_a_redis_flush(client):
    from carbon_credits import kvstore
    tokens = register_and_login(client)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    client.post(LOGOUT, headers=headers)
    kvstore.get_store().flushdb()
    assert_problem(client.get(ME, headers=headers), 401, "token_revoked")


def test_suspended_user_tokens_stop_at_once(client, actors):
    admin = actors.user("admin")
    citizen = actors.user("citizen")
    assert client.get(ME, headers=citizen.headers).status_code == 200
    r = client.post(f"/api/v1/admin/users/{citizen.id}/suspend", json={"reason": "fraud"},
                    headers=admin.headers)
    assert r.status_code == 200 and r.json["suspended"] is True
    assert_problem(client.get(ME, headers=citizen.headers), 401, "account_suspended")
    assert_problem(client.post(REFRESH, json={"refresh_token": citizen.refresh}), 401)
    r = client.post(LOGIN, json={"identifier": citizen.email, "password": citizen.password})
    assert_problem(r, 403, "account_suspended")
    r = client.post(f"/api/v1/admin/users/{citizen.id}/suspend", json={"suspended": False},
                    headers=admin.headers)
    assert client.post(LOGIN, json={"identifier": citizen.email, "password": citizen.password}).status_code == 200


def test_refresh_tokens_are_stored_per_login(client, app):
    register_and_login(client)
    assert table_counts(app, RefreshToken)["refresh_tokens"] == 1
