"""Issue 17, done when: a lot is issued, verified and partly retired through the API; the
certificate, the manifest, one citizen's inclusion proof, a receipt and the chain heads are
then checked offline by the independent verifier (verifier/, run as its README says), and every
single-byte tampering of each document is detected.

The documents are exactly what the endpoints served; the verifier sees nothing else but the
published key set."""
from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys
import warnings

import pytest
from joserfc import jws
from joserfc.jwk import KeySet

import carbon_verify
from carbon_credits.services import ledger, signing
from models import db
from tests.api.test_actions import operator, rider, seeded, send_batch, trip  # noqa: F401
from tests.api.test_certificates import (auditor, issue, long_claim_window,  # noqa: F401
                                         metro_month, serial, verifier)
from tests.certificates_support import verify_lot

VERIFIER_DIR = pathlib.Path(__file__).resolve().parents[2] / "verifier"
LOTS = "/api/v1/admin/certificates/lots"
KINDS = ("receipt", "manifest", "lot-proof", "certificate", "chain-heads")


def _get(client, path, **kwargs):
    r = client.get(path, **kwargs)
    assert r.status_code == 200, (path, r.get_json())
    return r.get_json()


def _seal(app) -> None:
    with app.app_context():
        assert ledger.seal_all(settle_seconds=0) > 0
        db.session.remove()


def _all_pages(client, path, **query) -> list[dict]:
    pages, cursor = [], None
    while True:
        page = _get(client, path, query_string={**query, **({"cursor": cursor} if cursor else {})})
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


@pytest.fixture
def served(client, app, auditor, verifier, operator, rider, metro_month):  # noqa: F811
    """Everything a citizen, a buyer and a journalist would hold after: issue, verify, retire
    three serials, credit one more ride, two seals."""
    lot = issue(client, auditor, metro_month).json
    verify_lot(client, verifier, lot["id"])
    retired = client.post(f"{LOTS}/{lot['id']}/retirements", headers=auditor.headers, json={
        "first_serial": serial(lot, 2), "last_serial": serial(lot, 4),
        "beneficiary": "苏州某科技有限公司", "purpose": "2026 年会碳中和"})
    assert retired.status_code == 201, retired.json
    _seal(app)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)
    more = send_batch(client, operator, [{**trip(now), "external_id": "LATER", "external_ref": "CARD-0001"}])
    assert more.json["results"][0]["status"] == "credited"
    _seal(app)
    action_id = metro_month["ids"][0]
    manifest_path = f"/api/v1/public/lots/{lot['id']}/manifest"
    return {
        "keys": _get(client, "/.well-known/carbon-credits-keys"),
        "receipt": _get(client, f"/api/v1/actions/{action_id}/receipt", headers=rider.headers),
        "manifest": _get(client, manifest_path),
        "manifest_pages": _all_pages(client, manifest_path, limit=4),
        "lot-proof": _get(client, f"/api/v1/actions/{action_id}/lot-proof", headers=rider.headers),
        "certificate": _get(client, f"/api/v1/public/certificates/{retired.json['certificate_id']}"),
        "chain-heads": _all_pages(client, "/api/v1/public/chain-heads", limit=1),
    }


def _verify(kind: str, document, keys):
    return {"receipt": carbon_verify.verify_receipt, "manifest": carbon_verify.verify_manifest,
            "lot-proof": carbon_verify.verify_lot_proof,
            "certificate": carbon_verify.verify_certificate,
            "chain-heads": carbon_verify.verify_chain_heads}[kind](document, keys)


def _run_cli(tmp_path, keys, kind, document, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(VERIFIER_DIR)}
    return subprocess.run([sys.executable, "-m", "carbon_verify", "--keys", str(tmp_path / "keys.json"),
                           kind, str(path), *extra], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60, check=False)


def test_the_offline_verifier_accepts_what_the_service_served(served, tmp_path):
    keys = served["keys"]
    documents = {**{kind: served[kind] for kind in KINDS}, "manifest": served["manifest_pages"]}
    for kind, document in documents.items():
        done = _run_cli(tmp_path, keys, kind, document)
        assert done.returncode == 0, (kind, done.stdout, done.stderr)
    (tmp_path / "manifest-whole.json").write_text(json.dumps(served["manifest"]))
    done = _run_cli(tmp_path, keys, "certificate", served["certificate"],
                    "--manifest", str(tmp_path / "manifest-whole.json"))
    assert done.returncode == 0, (done.stdout, done.stderr)
    (tmp_path / "heads.json").write_text(json.dumps(served["chain-heads"]))
    done = _run_cli(tmp_path, keys, "receipt", served["receipt"],
                    "--chain-heads", str(tmp_path / "heads.json"))
    assert done.returncode == 0, (done.stdout, done.stderr)
    heads = [page["items"][0] for page in served["chain-heads"]]
    assert len(heads) == 2 and served["receipt"]["receipt"]["chain"] is not None


def test_another_jose_library_verifies_every_signature(served):
    """Interoperability: joserfc, given only the published key set, accepts each JWS."""
    key_set = KeySet.import_key_set(served["keys"])
    documents = [served["receipt"]["document"], served["manifest"]["document"],
                 served["lot-proof"]["document"], served["certificate"]["document"],
                 *[item["document"] for page in served["chain-heads"] for item in page["items"]]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RFC 9864 deprecates the name "EdDSA"; the contract fixes it
        for document in documents:
            compact = jws.deserialize_compact(document, key_set, algorithms=["EdDSA"])
            assert json.loads(compact.payload)["type"].startswith("carbon-credits/")


def _variants(byte: int) -> set[int]:
    """Two substitutes for one byte: a low-bit flip and a case flip (catches decoders that
    ignore base64 padding bits or hex case)."""
    return {byte ^ 0x01, byte ^ 0x20} - {byte}


def _undetected(kind: str, document, keys) -> tuple[list[tuple[int, int]], int]:
    """Every single-byte change of `document` as served (compact JSON, UTF-8) that the
    verifier still accepts, as (position, new byte), and how many changes parsed and were
    checked. Unparseable results count as detected."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    missed, checked = [], 0
    for position, byte in enumerate(text):
        for new in _variants(byte):
            changed = text[:position] + bytes([new]) + text[position + 1:]
            try:
                parsed = json.loads(changed.decode("utf-8"))
            except ValueError:
                continue  # not JSON (or not UTF-8) any more: refused before any check
            checked += 1
            if _verify(kind, parsed, keys).ok:
                missed.append((position, new))
    return missed, checked


@pytest.mark.parametrize("kind", KINDS)
def test_every_single_byte_tampering_is_detected(served, kind):
    keys = served["keys"]
    assert _verify(kind, served[kind], keys).ok
    missed, checked = _undetected(kind, served[kind], keys)
    assert missed == []
    assert checked > 500  # a change in every signature, hash, salt, path and copied value


def test_tampering_the_manifest_a_certificate_is_checked_against_is_detected(served):
    keys = served["keys"]
    assert carbon_verify.verify_certificate(served["certificate"], keys, manifest=served["manifest"]).ok
    text = json.dumps(served["manifest"], ensure_ascii=False, separators=(",", ":")).encode()
    for position, byte in enumerate(text):
        for new in _variants(byte):
            try:
                parsed = json.loads((text[:position] + bytes([new]) + text[position + 1:]).decode())
            except ValueError:
                continue
            assert not carbon_verify.verify_certificate(served["certificate"], keys,
                                                        manifest=parsed).ok, position


def test_documents_signed_before_a_rotation_still_verify_with_the_new_key_set(served, client, app):
    with app.app_context():
        signing.rotate_key(reason="yearly rotation")
        db.session.remove()
    keys = _get(client, "/.well-known/carbon-credits-keys")
    assert [k["status"] for k in keys["keys"]] == ["active", "retired"]
    for kind in KINDS:
        assert _verify(kind, served[kind], keys).ok, kind
    fresh = _get(client, f"/api/v1/public/certificates/{served['certificate']['certificate_id']}")
    assert fresh["document"] != served["certificate"]["document"]  # signed with the new key
    assert carbon_verify.verify_certificate(fresh, keys).ok
    retired_only = {"keys": [k for k in keys["keys"] if k["status"] == "retired"]}
    assert not carbon_verify.verify_certificate(fresh, retired_only).ok
