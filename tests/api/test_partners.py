"""Partner administration and signed-request verification."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from carbon_credits.services import partners as partner_service
from models import AuditEntry, Partner, PartnerSecret, SeenSignature
from tests.conftest import assert_problem, redis_key_count, table_counts


def test_admin_creates_partner_and_secret_is_shown_once(client, actors, app):
    admin = actors.user("admin")
    r = client.post("/api/v1/admin/partners", json={"name": "Metro Co", "kind": "transit_operator"},
                    headers=admin.headers)
    assert r.status_code == 201
    created = r.json
    assert created["secret"].startswith("sk_") and created["key_id"].startswith("pk_")
    listed = client.get("/api/v1/admin/partners", headers=admin.headers).json["items"]
    assert listed[0]["id"] == created["id"] and "secret" not in listed[0]
    one = client.get(f"/api/v1/admin/partners/{created['id']}", headers=admin.headers).json
    assert "secret" not in one
    # The secret is encrypted at rest.
    with app.app_context():
        from models import db
        stored = db.session.query(PartnerSecret).one().secret_encrypted
        assert created["secret"].encode() not in bytes(stored)
    assert table_counts(app, AuditEntry)["audit_log"] >= 2  # registration + partner.create


def test_partner_directory_is_public_and_has_no_secrets(client, actors):
    actors.partner("transit_operator", name="Bus Co")
    items = client.get("/api/v1/partners").json["items"]
    assert items[0]["name"] == "Bus Co" and set(items[0]) == {"id", "name", "kind", "scopes"}


def test_duplicate_partner_name_is_409(client, actors):
    admin = actors.user("admin")
    body = {"name": "Same", "kind": "merchant"}
    assert client.post("/api/v1/admin/partners", json=body, headers=admin.headers).status_code == 201
    assert_problem(client.post("/api/v1/admin/partners", json=body, headers=admin.headers), 409)


def test_bad_partner_kind_is_422(client, actors, app):
    admin = actors.user("admin")
    r = client.post("/api/v1/admin/partners", json={"name": "X", "kind": "bank"}, headers=admin.headers)
    assert_problem(r, 422)
    assert table_counts(app, Partner)["partners"] == 0


class TestSignatureVerification:
    """Unit-level checks of verify_signed_request on the real database."""

    def _verify(self, partner, body=b"{}", ts=None, signature=None, key_id=None, now=None):
        ts = str(int(time.time()) if ts is None else ts)
        sig = signature or partner_service.sign(partner.secret, ts, body)
        return partner_service.verify_signed_request(key_id=key_id or partner.key_id, timestamp=ts,
                                                     signature=sig, raw_body=body, now=now)

    @pytest.fixture
    def partner(self, actors):
        return actors.partner()

    def test_valid_signature(self, app_ctx, partner):
        assert self._verify(partner).id == partner.id

    @pytest.mark.parametrize("skew", [-301, 301, -10**6])
    def test_stale_or_future_timestamp(self, app_ctx, partner, skew):
        from carbon_credits.domain.errors import AuthenticationFailed
        with pytest.raises(AuthenticationFailed) as err:
            self._verify(partner, ts=int(time.time()) + skew)
        assert err.value.code == "signature_stale"

    def test_bad_signature_unknown_key_and_malformed(self, app_ctx, partner):
        from carbon_credits.domain.errors import AuthenticationFailed
        for kwargs, code in [
            ({"signature": "sha256=" + "0" * 64}, "signature_invalid"),
            ({"key_id": "pk_unknown"}, "signature_invalid"),
            ({"signature": "md5=abc"}, "signature_malformed"),
            ({"ts": "yesterday"}, "signature_bad_timestamp"),
        ]:
            with pytest.raises(AuthenticationFailed) as err:
                self._verify(partner, **kwargs)
            assert err.value.code == code

    def test_body_tampering_is_detected(self, app_ctx, partner):
        from carbon_credits.domain.errors import AuthenticationFailed
        ts = str(int(time.time()))
        sig = partner_service.sign(partner.secret, ts, b'{"a":1}')
        with pytest.raises(AuthenticationFailed):
            partner_service.verify_signed_request(key_id=partner.key_id, timestamp=ts, signature=sig,
                                                  raw_body=b'{"a":2}')

    def test_replay_is_refused(self, app, partner):
        from carbon_credits.domain.errors import AuthenticationFailed
        from models import db
        ts = str(int(time.time()))
        sig = partner_service.sign(partner.secret, ts, b"{}")
        with app.app_context():
            partner_service.verify_signed_request(key_id=partner.key_id, timestamp=ts, signature=sig,
                                                  raw_body=b"{}")
            db.session.commit()  # the request that used it succeeded
        with app.app_context():
            with pytest.raises(AuthenticationFailed) as err:
                partner_service.verify_signed_request(key_id=partner.key_id, timestamp=ts,
                                                      signature=sig, raw_body=b"{}")
            assert err.value.code == "signature_replayed"

    def test_rotation_keeps_old_secret_for_the_grace_period_only(self, app, actors, partner):
        admin = actors.user("admin")
        with app.app_context():
            issued = partner_service.rotate_secret(partner_id=partner.id, actor_user_id=admin.id)
        new_secret = issued.secret
        with app.app_context():
            assert self._verify(partner).id == partner.id          # old secret, within grace
            ts = str(int(time.time()))
            partner_service.verify_signed_request(
                key_id=partner.key_id, timestamp=ts, raw_body=b"[]",
                signature=partner_service.sign(new_secret, ts, b"[]"))
            later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=25)
            from carbon_credits.domain.errors import AuthenticationFailed
            with pytest.raises(AuthenticationFailed):
                self._verify(partner, ts=int(later.timestamp()), now=later)

    def test_suspended_partner_is_refused_at_once(self, app, actors, partner):
        admin = actors.user("admin")
        with app.app_context():
            partner_service.set_partner_suspended(partner_id=partner.id, suspended=True,
                                                  actor_user_id=admin.id)
        with app.app_context():
            from carbon_credits.domain.errors import AuthenticationFailed
            with pytest.raises(AuthenticationFailed) as err:
                self._verify(partner)
            assert err.value.code == "partner_suspended"


def test_rotate_secret_endpoint_returns_new_secret(client, actors):
    admin = actors.user("admin")
    partner = actors.partner()
    r = client.post(f"/api/v1/admin/partners/{partner.id}/rotate-secret", headers=admin.headers)
    assert r.status_code == 200 and r.json["secret"] != partner.secret


def test_replay_protection_without_redis_uses_the_database(app, actors, monkeypatch):
    from carbon_credits import kvstore
    monkeypatch.setattr(kvstore, "is_redis", lambda: False)
    partner = actors.partner()
    ts = str(int(time.time()))
    sig = partner_service.sign(partner.secret, ts, b"{}")
    from models import db
    with app.app_context():
        partner_service.verify_signed_request(key_id=partner.key_id, timestamp=ts, signature=sig,
                                              raw_body=b"{}")
        db.session.commit()
    assert table_counts(app, SeenSignature)["seen_signatures"] == 1
    with app.app_context():
        from carbon_credits.domain.errors import AuthenticationFailed
        with pytest.raises(AuthenticationFailed):
            partner_service.verify_signed_request(key_id=partner.key_id, timestamp=ts, signature=sig,
                                                  raw_body=b"{}")
