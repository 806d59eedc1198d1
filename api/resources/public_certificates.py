"""Signed retirement certificates, public (docs/verification.md, section 8): JSON by default, the
PDF with its QR code for `Accept: application/pdf`. Public, cacheable, with strong ETags."""
from __future__ import annotations

import uuid

from flask import request
from marshmallow import Schema, fields

from api.auth import access
from api.caching import public_json, public_response
from api.certificate_pdf import certificate_pdf
from api.extensions import Blueprint
from carbon_credits.services import certificates as certificate_service

blp = Blueprint("public_certificates", __name__, url_prefix="/api/v1/public",
                description="Signed retirement certificates (JSON or PDF, no login)")

PDF = "application/pdf"


class SignedRetirementCertificateSchema(Schema):
    certificate_id = fields.String(metadata={"format": "uuid"})
    document = fields.String(metadata={"description": "The payload as a compact JWS (EdDSA), "
                                                      "signed with the service key"})
    certificate = fields.Dict(metadata={
        "description": "The signed payload (type carbon-credits/retirement-certificate/v1): "
                       "serials, quantity, grams, beneficiary, purpose, lot, lookup_url"})


CERTIFICATE_EXAMPLE = {
    "certificate_id": "5d0c6f1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", "document": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJ0eXBlIjoi...",
    "certificate": {
        "type": "carbon-credits/retirement-certificate/v1",
        "certificate_id": "5d0c6f1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f",
        "lot_id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "serials": ["CC-SH-METRO-2026-000000001-000000005"], "quantity": 5, "unit_mg": 1000000,
        "retired_mg": 5000000, "retired_g": "5000.000", "beneficiary": "苏州某科技有限公司",
        "purpose": "2026 年会碳中和", "retired_at": "2026-12-06T02:15:00.123456+00:00",
        "methodology": {"code": "SH-METRO", "version": 1}, "vintage_year": 2026,
        "period": {"from": "2026-10-01", "to": "2026-10-31"},
        "lot_merkle_root": "9f2c4e1a0b3d5f7e9a1c3e5f7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d",
        "event_id": None,
        "lookup_url": "https://carbon.suzhou.gov.cn/verify?serial=CC-SH-METRO-2026-000000001-000000005"}}

CERTIFICATE_DOC = {"responses": {"200": {
    "description": f"JSON, or the PDF (QR code, JWS printed) with `Accept: {PDF}`",
    "content": {"application/json": {"schema": SignedRetirementCertificateSchema,
                                     "example": CERTIFICATE_EXAMPLE},
                PDF: {"schema": {"type": "string", "format": "binary"}}}}}}


def _wants_pdf() -> bool:
    """True when the client prefers the PDF to JSON (`*/*` and no Accept mean JSON)."""
    return request.accept_mimetypes.best_match(["application/json", PDF]) == PDF


@blp.route("/certificates/<uuid:certificate_id>", methods=["GET"])
@access.public
@blp.response(200, SignedRetirementCertificateSchema, example=CERTIFICATE_EXAMPLE)
@blp.doc(**CERTIFICATE_DOC)
def get_certificate(certificate_id: uuid.UUID):
    """A signed retirement certificate: beneficiary, purpose, serials and grams (JSON, or the PDF).

    Public (no login), cacheable, with a strong `ETag` (`If-None-Match` gives a 304). JSON by
    default; `Accept: application/pdf` gives the printable certificate with a QR code that opens
    the serial lookup. `document` is the certificate signed (JWS) with a published key
    (`/.well-known/carbon-credits-keys`), so a copy can be checked offline. Unknown: 404
    (`certificate_not_found`)."""
    signed = certificate_service.signed_certificate(certificate_id=certificate_id)
    if not _wants_pdf():
        return public_json(SignedRetirementCertificateSchema(), signed)
    response = public_response(certificate_pdf(signed), PDF)
    response.headers["Content-Disposition"] = f'inline; filename="certificate-{certificate_id}.pdf"'
    return response
