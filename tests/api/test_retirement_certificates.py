"""Signed retirement certificates (docs/verification.md, section 8): every retirement gets one
certificate naming the beneficiary, purpose, serials and grams, signed with the service key;
anyone fetches it without login, as JSON or as a PDF carrying a QR code of the public serial
lookup and the signature itself."""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import uuid

import pypdf
import pytest
import zxingcpp
from sqlalchemy import func, select

from models import CertificateBlock, RetirementCertificate, RetirementCertificateBlock, db
from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (admin, auditor, buyer, long_claim_window, lot,  # noqa: F401
                                         metro_month, serial, verifier)
from tests.conftest import all_table_counts, assert_problem
from tests.events_support import create_event, give_to_buyer, retire_for_event

LOTS = "/api/v1/admin/certificates/lots"
CERTIFICATES = "/api/v1/public/certificates"
BENEFICIARY = "苏州某科技有限公司"
PURPOSE = "2026 年会碳中和 (annual meeting)"
PDF = {"Accept": "application/pdf"}


def retire(client, who, lot, **body):
    r = client.post(f"{LOTS}/{lot['id']}/retirements",
                    json={"beneficiary": BENEFICIARY, "purpose": PURPOSE, **body}, headers=who.headers)
    assert r.status_code == 201, r.json
    return r.json


def retire_range(client, who, lot, first: int, last: int, **body):
    return retire(client, who, lot, first_serial=serial(lot, first), last_serial=serial(lot, last),
                  **body)


def _b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_retirement_gets_a_signed_certificate_anyone_can_fetch_and_check(client, app, auditor,
                                                                          lot, metro_month):
    from carbon_credits.config import get_settings
    from carbon_credits.domain import proofs
    from carbon_credits.services import signing
    from carbon_credits.services.certificates.manifests import manifest_for

    retired = retire_range(client, auditor, lot, 2, 4)
    certificate_id = retired["certificate_id"]
    assert uuid.UUID(certificate_id) and retired["quantity"] == 3

    r = client.get(f"{CERTIFICATES}/{certificate_id}")  # no login
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Cache-Control"].startswith("public") and r.headers["ETag"]
    body = r.json
    assert set(body) == {"certificate_id", "document", "certificate"}
    assert body["certificate_id"] == certificate_id
    with app.app_context():
        assert signing.verify(body["document"]) == body["certificate"]
        root = manifest_for(uuid.UUID(lot["id"])).root_hash
    header, payload, _ = body["document"].split(".")
    assert _b64url_json(header) == {"alg": "EdDSA", "kid": _b64url_json(header)["kid"]}
    # The signed bytes are the payload's canonical JSON, Chinese as itself.
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == \
        proofs.canonical_json(body["certificate"])

    c = body["certificate"]
    first = f"{serial(lot, 2)}-000000004"
    assert c == {
        "type": "carbon-credits/retirement-certificate/v1", "certificate_id": certificate_id,
        "lot_id": lot["id"], "serials": [first], "quantity": 3, "unit_mg": 1_000_000,
        "retired_mg": 3_000_000, "retired_g": "3000.000", "beneficiary": BENEFICIARY,
        "purpose": PURPOSE, "retired_at": c["retired_at"],
        "methodology": {"code": "SH-METRO", "version": 1}, "vintage_year": lot["vintage_year"],
        "period": {"from": metro_month["from"].isoformat(), "to": metro_month["to"].isoformat()},
        "lot_merkle_root": root, "event_id": None,
        "lookup_url": f"{get_settings().public_base_url}/verify?serial={first}"}
    assert re.fullmatch(r"[0-9a-f]{64}", root)
    retired_at = dt.datetime.fromisoformat(c["retired_at"])
    assert retired_at.utcoffset() == dt.timedelta(0)
    assert retired_at == dt.datetime.fromisoformat(retired["blocks"][0]["retired_at"])

    # Deterministic: the same bytes every time, so the ETag holds and a cache can answer.
    again = client.get(f"{CERTIFICATES}/{certificate_id}")
    assert again.data == r.data and again.headers["ETag"] == r.headers["ETag"]
    cached = client.get(f"{CERTIFICATES}/{certificate_id}",
                        headers={"If-None-Match": r.headers["ETag"]})
    assert cached.status_code == 304
    # The lookup URL is the public page's serial lookup, which shows these serials retired.
    page = client.get(c["lookup_url"].removeprefix(get_settings().public_base_url))
    assert page.status_code == 200 and BENEFICIARY in page.get_data(as_text=True)


def test_retiring_by_quantity_across_two_blocks_gives_one_certificate(client, app, auditor, lot):
    earlier = retire_range(client, auditor, lot, 2, 4)["certificate_id"]
    rest = retire(client, auditor, lot, quantity=6, beneficiary="City Zoo", purpose="The rest")
    assert [b["serials"] for b in rest["blocks"]] == [serial(lot, 1), f"{serial(lot, 5)}-000000009"]
    assert rest["certificate_id"] != earlier

    c = client.get(f"{CERTIFICATES}/{rest['certificate_id']}").json["certificate"]
    assert c["serials"] == [serial(lot, 1), f"{serial(lot, 5)}-000000009"]
    assert (c["quantity"], c["retired_mg"], c["retired_g"]) == (6, 6_000_000, "6000.000")
    assert (c["beneficiary"], c["purpose"]) == ("City Zoo", "The rest")
    assert c["lookup_url"].endswith(f"/verify?serial={serial(lot, 1)}")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RetirementCertificate)) == 2
        members = db.session.execute(select(RetirementCertificateBlock.certificate_id, func.count())
                                     .group_by(RetirementCertificateBlock.certificate_id)).all()
        db.session.remove()
    assert sorted((str(cid), n) for cid, n in members) == sorted(
        [(earlier, 1), (rest["certificate_id"], 2)])


def test_a_replayed_retirement_names_the_same_certificate(client, app, auditor, lot):
    headers = {**auditor.headers, "Idempotency-Key": "retire-once-0001"}
    body = {"quantity": 2, "beneficiary": BENEFICIARY, "purpose": PURPOSE}
    a = client.post(f"{LOTS}/{lot['id']}/retirements", json=body, headers=headers)
    before = all_table_counts(app)
    b = client.post(f"{LOTS}/{lot['id']}/retirements", json=body, headers=headers)
    assert a.status_code == b.status_code == 201 and a.json == b.json
    assert all_table_counts(app) == before


def test_a_retirement_for_an_event_names_the_event(client, admin, auditor, buyer, lot):
    event = create_event(client, admin, buyer.id)
    give_to_buyer(client, admin, lot, buyer.id, 5)
    r = retire_for_event(client, auditor, lot, event_id=event["id"], holder_id=buyer.id,
                         first=1, last=2)
    assert r.status_code == 201, r.json
    c = client.get(f"{CERTIFICATES}/{r.json['certificate_id']}").json["certificate"]
    assert c["event_id"] == event["id"] and c["beneficiary"] == "Suzhou Marathon 2026"


def _pdf_text(reader: pypdf.PdfReader) -> str:
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def test_the_pdf_carries_the_facts_a_qr_code_of_the_lookup_and_the_signature(client, auditor, lot):
    certificate_id = retire_range(client, auditor, lot, 1, 5)["certificate_id"]
    signed = client.get(f"{CERTIFICATES}/{certificate_id}").json
    c = signed["certificate"]

    r = client.get(f"{CERTIFICATES}/{certificate_id}", headers=PDF)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == f'inline; filename="certificate-{certificate_id}.pdf"'
    assert r.headers["Cache-Control"].startswith("public") and "Accept" in r.headers["Vary"]
    reader = pypdf.PdfReader(io.BytesIO(r.data))
    assert reader.metadata.title == f"Retirement certificate {certificate_id}"
    assert BENEFICIARY in reader.metadata.subject

    text = _pdf_text(reader)
    for fact in (BENEFICIARY, PURPOSE, certificate_id, c["serials"][0], c["retired_g"],
                 c["lot_id"], c["lot_merkle_root"], "碳减排量注销证明", "Retirementcertificate",
                 "SH-METROversion1"):
        assert "".join(fact.split()) in text, fact
    assert signed["document"] in text  # the whole JWS, so the paper copy can be checked

    (image,) = [image for page in reader.pages for image in page.images]
    (code,) = zxingcpp.read_barcodes(image.image)
    assert code.format == zxingcpp.BarcodeFormat.QRCode and code.text == c["lookup_url"]

    # The same bytes every time: a reprint is identical, and caches hold.
    again = client.get(f"{CERTIFICATES}/{certificate_id}", headers=PDF)
    assert again.data == r.data and again.headers["ETag"] == r.headers["ETag"]
    assert r.headers["ETag"] != client.get(f"{CERTIFICATES}/{certificate_id}").headers["ETag"]


def test_a_long_purpose_and_many_serials_flow_onto_further_pages(client, auditor, lot):
    ids = [retire_range(client, auditor, lot, n, n, purpose="年会碳中和，" * 80)["certificate_id"]
           for n in (2, 4)]
    rest = retire(client, auditor, lot, quantity=7, purpose="长" * 500)
    pages = []
    for certificate_id in [*ids, rest["certificate_id"]]:
        signed = client.get(f"{CERTIFICATES}/{certificate_id}").json
        reader = pypdf.PdfReader(io.BytesIO(
            client.get(f"{CERTIFICATES}/{certificate_id}", headers=PDF).data))
        text = _pdf_text(reader)
        assert signed["document"] in text and signed["certificate"]["purpose"] in text
        assert all(s in text for s in signed["certificate"]["serials"])
        pages.append(len(reader.pages))
    assert pages[-1] == 2  # three serial ranges, 500 characters of purpose: a second page


@pytest.mark.parametrize("accept", ["*/*", "text/csv", "application/json, application/pdf;q=0.5",
                                    "text/html"])
def test_json_stays_the_default(client, auditor, lot, accept):
    certificate_id = retire_range(client, auditor, lot, 1, 1)["certificate_id"]
    r = client.get(f"{CERTIFICATES}/{certificate_id}", headers={"Accept": accept})
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.json["certificate_id"] == certificate_id


def test_unknown_or_malformed_certificates_are_404_problems(client, auditor, lot):
    retire_range(client, auditor, lot, 1, 1)
    for headers in ({}, PDF):
        assert_problem(client.get(f"{CERTIFICATES}/{uuid.uuid4()}", headers=headers),
                       404, "certificate_not_found")
        assert_problem(client.get(f"{CERTIFICATES}/not-a-uuid", headers=headers), 404)
        assert_problem(client.get(f"{CERTIFICATES}/{serial(lot, 1)}", headers=headers), 404)


def test_a_certificate_signed_before_a_key_rotation_still_verifies(client, app, auditor, lot):
    from carbon_credits.services import signing
    certificate_id = retire_range(client, auditor, lot, 1, 3)["certificate_id"]
    before = client.get(f"{CERTIFICATES}/{certificate_id}").json
    with app.app_context():
        signing.rotate_key()
        db.session.remove()
    after = client.get(f"{CERTIFICATES}/{certificate_id}").json
    assert after["certificate"] == before["certificate"]
    assert after["document"] != before["document"]  # signed with the new key now
    with app.app_context():
        assert signing.verify(before["document"]) == signing.verify(after["document"])
        db.session.remove()


@pytest.mark.no_verify
def test_ledger_verify_finds_certificates_that_disagree_with_their_blocks(client, app, auditor, lot):
    from carbon_credits.services.verify import verify_all
    retired = retire_range(client, auditor, lot, 2, 4)
    with app.app_context():
        assert verify_all() == []
        active = db.session.scalars(select(CertificateBlock)
                                    .where(CertificateBlock.status == "active")
                                    .order_by(CertificateBlock.serial_start)).first()
        active_id, active_quantity = active.id, active.quantity
        table = RetirementCertificate.__table__
        claim = {"lot_id": uuid.UUID(lot["id"]), "beneficiary": BENEFICIARY, "purpose": PURPOSE,
                 "retired_at": dt.datetime.fromisoformat(retired["blocks"][0]["retired_at"])}
        empty, wrong = uuid.uuid4(), uuid.uuid4()
        # A certificate listing no block, and one listing a block that is still active.
        db.session.execute(table.insert().values(id=empty, quantity=3, **claim))
        db.session.execute(table.insert().values(id=wrong, quantity=active_quantity, **claim))
        db.session.execute(RetirementCertificateBlock.__table__.insert().values(
            block_id=active_id, certificate_id=wrong))
        db.session.commit()
        problems = verify_all()
        db.session.remove()
    assert sorted(p for p in problems if "retirement certificate" in p) == sorted([
        f"registry: retirement certificate {empty} is for 3 serials, its blocks hold 0",
        f"registry: retirement certificate {wrong} lists block {active_id}, which it did not retire"])
