"""Helpers shared by the certificate tests: a third-party verifier signs a statement on a lot
(docs/certificates.md, section 7); serials move only after a positive one."""
from __future__ import annotations

LOTS = "/api/v1/admin/certificates/lots"


def verifications_path(lot_id) -> str:
    return f"{LOTS}/{lot_id}/verifications"


def statement_body(**overrides) -> dict:
    body = {"sample_size": 1, "opinion": "positive",
            "findings": "Sampled actions traced to the operator's records; quantification agrees.",
            "verifier_organisation": "Jiangsu Carbon Verification Co.",
            "report_reference": "JCV-2026-0001"}
    return {**body, **overrides}


def sign_statement(client, verifier, lot_id, *, headers: dict | None = None, **overrides):
    """POST a verification statement on the lot as `verifier`; the response, unchecked."""
    return client.post(verifications_path(lot_id), json=statement_body(**overrides),
                       headers={**verifier.headers, **(headers or {})})


def verify_lot(client, verifier, lot_id, opinion: str = "positive", **overrides) -> dict:
    """Sign a statement (positive by default, which lets the lot's serials move): its body."""
    r = sign_statement(client, verifier, lot_id, opinion=opinion, **overrides)
    assert r.status_code == 201, r.get_json()
    return r.get_json()
