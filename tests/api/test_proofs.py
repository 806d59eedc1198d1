"""Verifiability (docs/verification.md): published keys, signed chain heads, lot manifests and
a citizen's lot proof, checked here with the service's own primitives and PyJWT; the
independent verifier is run on the same documents in tests/verification/."""
from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from carbon_credits.domain import proofs
from carbon_credits.services import signing
from carbon_credits.services.ledger import heads, seal_all
from models import CertificateLotAction, CertificateLotManifest, LedgerChainHead, SignedChainHead, db
from tests.api.test_actions import operator, rider, seeded, send_batch, trip  # noqa: F401
from tests.api.test_certificates import (auditor, issue, long_claim_window,  # noqa: F401
                                         metro_month)
from tests.conftest import IS_POSTGRES, all_table_counts, assert_problem

KEYS = "/.well-known/carbon-credits-keys"
HEADS = "/api/v1/public/chain-heads"


def payload_of(document: str) -> dict:
    part = document.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify_with_pyjwt(document: str, jwks: dict) -> dict:
    """A JOSE library other than our signing path: PyJWT with the published JWK Set."""
    kid = jwt.get_unverified_header(document)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwt.PyJWK(jwk).key
    return json.loads(jwt.api_jws.PyJWS().decode(document, key, algorithms=["EdDSA"]))


def tamper(table: str, sql: str, params: dict | None = None) -> None:
    """Run `sql` behind the application's back, with `table`'s append-only triggers out of the
    way (the test database is rebuilt after the test)."""
    if IS_POSTGRES:
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for event in ("update", "delete"):
            db.session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{event}"))
    db.session.execute(text(sql), params or {})
    db.session.commit()


# --- keys ----------------------------------------------------------------------------------------

def test_the_key_set_is_public_and_each_kid_is_its_thumbprint(client):
    r = client.get(KEYS)
    assert r.status_code == 200 and "public" in r.headers["Cache-Control"]
    (key,) = r.json["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["status"]) == ("OKP", "Ed25519", "EdDSA", "active")
    assert key["kid"] == proofs.jwk_thumbprint(key["x"])
    assert len(base64.urlsafe_b64decode(key["x"] + "=")) == 32
    assert client.get(KEYS).json == r.json  # one key, created once


def test_documents_signed_before_a_rotation_still_verify(client, app):
    with app.app_context():
        before = signing.sign({"type": "t", "n": 1})
        signing.rotate_key(reason="test")
        after = signing.sign({"type": "t", "n": 2})
        db.session.remove()
    jwks = client.get(KEYS).json
    assert [k["status"] for k in jwks["keys"]] == ["active", "retired"]
    assert jwt.get_unverified_header(before)["kid"] == jwks["keys"][1]["kid"]
    assert jwt.get_unverified_header(after)["kid"] == jwks["keys"][0]["kid"]
    assert verify_with_pyjwt(before, jwks) == {"type": "t", "n": 1}
    assert verify_with_pyjwt(after, jwks) == {"type": "t", "n": 2}


def test_the_protected_header_is_exactly_alg_and_kid(app):
    with app.app_context():
        document = signing.sign({"type": "t"})
        db.session.remove()
    header = document.split(".")[0]
    assert set(json.loads(base64.urlsafe_b64decode(header + "=="))) == {"alg", "kid"}
    assert payload_of(document) == {"type": "t"}


def test_canonical_json_refuses_floats():
    with pytest.raises(TypeError):
        proofs.canonical_json({"grams": 1.5})
    assert proofs.canonical_json({"b": 1, "a": "苏州"}) == '{"a":"苏州","b":1}'.encode()


# --- chain heads ------------------------------------------------------------------------------------

def _credit_and_seal(client, operator, rider, n: int, start: int = 0):  # noqa: F811
    """`n` rides credited to `rider`, then a seal; returns how many transfers it sealed."""
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    rides = [{**trip(now - dt.timedelta(hours=2 * (start + i))), "external_id": f"H-{start + i}",
              "external_ref": "CARD-0001"} for i in range(n)]
    assert {r["status"] for r in send_batch(client, operator, rides).json["results"]} == {"credited"}
    with client.application.app_context():
        sealed = seal_all(settle_seconds=0)
        db.session.remove()
    return sealed


def test_each_seal_that_adds_links_publishes_a_signed_head(client, app, seeded, operator, rider):  # noqa: F811
    assert _credit_and_seal(client, operator, rider, 2) >= 2
    with app.app_context():
        assert seal_all(settle_seconds=0) == 0  # nothing new: no new head
        chain = db.session.get(LedgerChainHead, 1)
        position, link = chain.position, chain.hash
        db.session.remove()
    first = client.get(HEADS).json["items"]
    assert len(first) == 1 and first[0]["position"] == position and first[0]["hash"] == link
    jwks = client.get(KEYS).json
    signed = verify_with_pyjwt(first[0]["document"], jwks)
    assert signed == {"type": proofs.CHAIN_HEAD_TYPE, "position": position, "hash": link,
                      "transfers_sealed": position, "sealed_at": signed["sealed_at"], "previous": None}
    _credit_and_seal(client, operator, rider, 1, start=10)
    page = client.get(HEADS, query_string={"limit": 1}).json
    newest = verify_with_pyjwt(page["items"][0]["document"], jwks)
    assert newest["previous"] == {"position": position, "hash": link}
    older = client.get(HEADS, query_string={"limit": 1, "cursor": page["next_cursor"]}).json
    assert older["items"] == first and older["next_cursor"] is None


@pytest.mark.no_verify
def test_a_rewritten_link_contradicts_the_signed_head(client, app, seeded, operator, rider):  # noqa: F811
    _credit_and_seal(client, operator, rider, 1)
    with app.app_context():
        head = db.session.scalar(select(SignedChainHead))
        assert heads.check_signed_heads() == []
        tamper("ledger_seals", "UPDATE ledger_seals SET hash = :h WHERE position = :p",
               {"h": "0" * 64, "p": head.position})
        assert any("not the signed hash" in p for p in heads.check_signed_heads())
        db.session.remove()


@pytest.mark.no_verify
def test_an_edited_signed_head_no_longer_verifies(client, app, seeded, operator, rider):  # noqa: F811
    _credit_and_seal(client, operator, rider, 1)
    with app.app_context():
        tamper("signed_chain_heads", "UPDATE signed_chain_heads SET transfers_sealed = 99")
        assert any("differs from the stored head" in p for p in heads.check_signed_heads())
        db.session.remove()


def test_the_daily_file_holds_a_finished_days_heads(client, app, seeded, operator, rider):  # noqa: F811
    _credit_and_seal(client, operator, rider, 1)
    with app.app_context():
        head = db.session.scalar(select(SignedChainHead))
        zone = dt.timezone(dt.timedelta(hours=8))
        day = head.sealed_at.astimezone(zone).date()
        body = heads.daily_file(day, now=head.sealed_at + dt.timedelta(days=2))
        db.session.remove()
    (line,) = body.decode().splitlines()
    assert json.loads(line) == {"position": head.position, "hash": head.hash, "document": head.jws}
    assert_problem(client.get(f"{HEADS}/daily/{day.isoformat()}"), 409, "day_not_over")
    yesterday = client.get(f"{HEADS}/daily/{(day - dt.timedelta(days=1)).isoformat()}")
    assert yesterday.status_code == 200 and yesterday.data == b""
    assert yesterday.mimetype == "application/x-ndjson"


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-1-01", "20261201", "2026-12-01x",
                                 "2026-W01-1", "２０２６-12-01"])
def test_a_malformed_day_is_404_and_changes_nothing(client, app, day):
    before = all_table_counts(app)
    assert_problem(client.get(f"{HEADS}/daily/{day}"), 404, "day_not_found")
    assert all_table_counts(app) == before


@pytest.mark.parametrize("args", [{"limit": 0}, {"limit": 1001}, {"cursor": "not-a-cursor"},
                                  {"limit": "x"}])
def test_bad_chain_head_queries_are_422(client, args):
    assert_problem(client.get(HEADS, query_string=args), 422)


# --- lot manifests and proofs --------------------------------------------------------------------

@pytest.fixture
def lot(client, auditor, metro_month):  # noqa: F811
    r = issue(client, auditor, metro_month)
    assert r.status_code == 201, r.json
    return r.json


def _manifest(client, lot_id, **query):
    r = client.get(f"/api/v1/public/lots/{lot_id}/manifest", query_string=query)
    assert r.status_code == 200, r.json
    return r.json


def test_the_manifest_is_signed_and_its_leaves_add_up_to_the_lot(client, lot):
    manifest = _manifest(client, lot["id"])
    document = verify_with_pyjwt(manifest["document"], client.get(KEYS).json)
    assert document["type"] == proofs.LOT_TYPE and document["lot_id"] == lot["id"]
    assert document["quantity"] == lot["quantity"] and document["verification"] is None
    leaves = manifest["leaves"]
    assert len(leaves) == manifest["tree_size"] == document["merkle"]["tree_size"] == 10
    assert [leaf["action"] for leaf in leaves] == sorted({leaf["action"] for leaf in leaves})
    assert sum(leaf["contributed_mg"] for leaf in leaves) == document["verified_mg"]
    assert {json.dumps(leaf["methodology"]) for leaf in leaves} == {json.dumps(document["methodology"])}
    root = proofs.merkle_root([proofs.lot_leaf_hash(leaf) for leaf in leaves]).hex()
    assert root == manifest["root"] == document["merkle"]["root"]
    assert client.get(f"/api/v1/public/lots/{lot['id']}/manifest").data == \
        client.get(f"/api/v1/public/lots/{lot['id']}/manifest").data  # deterministic


def test_the_manifest_pages_join_up(client, lot):
    whole = _manifest(client, lot["id"])["leaves"]
    first = _manifest(client, lot["id"], limit=4)
    assert first["first_index"] == 0 and first["next_cursor"]
    second = _manifest(client, lot["id"], limit=4, cursor=first["next_cursor"])
    third = _manifest(client, lot["id"], limit=4, cursor=second["next_cursor"])
    assert third["next_cursor"] is None
    assert first["leaves"] + second["leaves"] + third["leaves"] == whole


def test_no_leaf_names_an_action_or_a_citizen(client, lot, app, metro_month):  # noqa: F811
    body = client.get(f"/api/v1/public/lots/{lot['id']}/manifest").get_data(as_text=True)
    for action_id in metro_month["ids"]:
        assert action_id not in body
    with app.app_context():
        assert db.session.get(CertificateLotManifest, uuid.UUID(lot["id"])).leaf_secret.hex() not in body
        db.session.remove()


def test_the_lot_document_carries_the_latest_verification(client, lot, actors):
    from tests.certificates_support import verify_lot
    statement = verify_lot(client, actors.user("verifier"), lot["id"])
    document = payload_of(_manifest(client, lot["id"])["document"])
    assert document["verification"]["statement_id"] == statement["id"]
    assert document["verification"]["opinion"] == "positive"


def test_an_owner_proves_their_action_is_in_the_lot(client, lot, rider, metro_month):  # noqa: F811
    action_id = metro_month["ids"][3]
    r = client.get(f"/api/v1/actions/{action_id}/lot-proof", headers=rider.headers)
    assert r.status_code == 200, r.json
    proof = r.json
    document = verify_with_pyjwt(proof["document"], client.get(KEYS).json)
    assert proof["leaf"]["action"] == proofs.action_commitment(bytes.fromhex(proof["salt"]), action_id)
    root = proofs.root_from_path(proof["leaf_index"], proof["tree_size"],
                                 proofs.lot_leaf_hash(proof["leaf"]),
                                 [bytes.fromhex(h) for h in proof["audit_path"]])
    assert root.hex() == document["merkle"]["root"]
    assert proof["leaf"] in _manifest(client, lot["id"])["leaves"]


def test_nobody_else_gets_the_proof(client, lot, actors, metro_month):  # noqa: F811
    action_id = metro_month["ids"][0]
    assert_problem(client.get(f"/api/v1/actions/{action_id}/lot-proof",
                              headers=actors.user("citizen").headers), 404)
    assert_problem(client.get(f"/api/v1/actions/{action_id}/lot-proof"), 401)


def test_an_action_in_no_lot_has_no_proof(client, rider, metro_month):  # noqa: F811
    assert_problem(client.get(f"/api/v1/actions/{metro_month['ids'][0]}/lot-proof",
                              headers=rider.headers), 404, "not_in_a_lot")


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 10001}, {"cursor": "zz"}])
def test_bad_manifest_queries_are_422(client, lot, query):
    assert_problem(client.get(f"/api/v1/public/lots/{lot['id']}/manifest", query_string=query), 422)


def test_a_cursor_past_the_end_is_422(client, lot):
    from api.pagination import encode_cursor
    assert_problem(client.get(f"/api/v1/public/lots/{lot['id']}/manifest",
                              query_string={"cursor": encode_cursor([11])}), 422)
    assert_problem(client.get(f"/api/v1/public/lots/{lot['id']}/manifest",
                              query_string={"cursor": encode_cursor([-1])}), 422)


def test_an_unknown_lot_has_no_manifest(client):
    assert_problem(client.get("/api/v1/public/lots/00000000-0000-0000-0000-000000000001/manifest"),
                   404, "lot_not_found")


def test_a_lot_issued_before_manifests_gets_one_when_first_asked(client, app, auditor,  # noqa: F811
                                                                  metro_month, monkeypatch, rider):  # noqa: F811
    from carbon_credits.services.certificates import issuance
    monkeypatch.setattr(issuance, "fix_manifest", lambda lot, members: None)
    lot = issue(client, auditor, metro_month).json
    with app.app_context():
        assert db.session.get(CertificateLotManifest, uuid.UUID(lot["id"])) is None
        db.session.remove()
    manifest = _manifest(client, lot["id"])
    assert manifest["tree_size"] == 10
    assert _manifest(client, lot["id"])["root"] == manifest["root"]  # fixed once
    proof = client.get(f"/api/v1/actions/{metro_month['ids'][0]}/lot-proof", headers=rider.headers).json
    assert proof["tree_size"] == 10


@pytest.mark.no_verify
def test_a_changed_membership_no_longer_matches_the_root(client, app, lot):
    from carbon_credits.services.certificates.manifests import check_manifests
    with app.app_context():
        assert check_manifests() == []
        member = db.session.scalars(select(CertificateLotAction)).first()
        tamper("certificate_lot_actions",
               "UPDATE certificate_lot_actions SET contributed_mg = contributed_mg + 1 "
               "WHERE action_id = :a", {"a": member.action_id.hex if not IS_POSTGRES else member.action_id})
        assert any("manifest root" in p for p in check_manifests())
        db.session.remove()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24) | st.dates().map(dt.date.isoformat))
def test_a_day_in_the_path_is_a_real_iso_date_or_404(text_):
    """The daily file's day: exactly YYYY-MM-DD naming a real date, else NotFound (never a 500,
    never a different day than the one written)."""
    from api.resources.proofs import parse_day
    from carbon_credits.domain.errors import NotFound
    try:
        day = parse_day(text_)
    except NotFound as error:
        assert error.code == "day_not_found"
    else:
        assert day.isoformat() == text_
