"""Signed retirement certificates (docs/verification.md, section 8): each retirement request
gets one certificate naming the beneficiary, the purpose, the serials and the grams, signed
with the service key when asked for.

The certificate rows are written with the retirement, in its transaction. The document is built
from them and from the lot's frozen terms, none of which ever change, so the same certificate
signs to the same bytes (Ed25519 is deterministic and the payload holds no clock reading)."""
from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid

from sqlalchemy import select

from carbon_credits.config import get_settings
from carbon_credits.domain import proofs
from carbon_credits.domain.errors import NotFound
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.services import signing
from carbon_credits.services.certificates.blocks import serials_of
from carbon_credits.services.certificates.manifests import manifest_for
from models import (CarbonEventRetirement, CertificateBlock, CertificateLot, RetirementCertificate,
                    RetirementCertificateBlock, db)


def certify_retirement(*, lot: CertificateLot, blocks: list[CertificateBlock], beneficiary: str,
                       purpose: str, retired_at: dt.datetime) -> RetirementCertificate:
    """The certificate of a retirement that just happened, inside its unit of work: one row
    naming the claim, and one row per retired block."""
    certificate = RetirementCertificate(id=uuid.uuid4(), lot_id=lot.id, beneficiary=beneficiary,
                                        purpose=purpose, quantity=sum(b.quantity for b in blocks),
                                        retired_at=retired_at)
    db.session.add(certificate)
    db.session.flush()  # the member rows refer to it
    db.session.add_all([RetirementCertificateBlock(block_id=b.id, certificate_id=certificate.id)
                        for b in blocks])
    db.session.flush()
    return certificate


def get_certificate_or_raise(certificate_id: uuid.UUID) -> RetirementCertificate:
    certificate = db.session.get(RetirementCertificate, certificate_id)
    if certificate is None:
        raise NotFound("Retirement certificate not found.", code="certificate_not_found")
    return certificate


def certificate_blocks(certificate_id: uuid.UUID) -> list[CertificateBlock]:
    """The blocks a certificate retired, in serial order."""
    return list(db.session.scalars(
        select(CertificateBlock)
        .join(RetirementCertificateBlock, RetirementCertificateBlock.block_id == CertificateBlock.id)
        .where(RetirementCertificateBlock.certificate_id == certificate_id)
        .order_by(CertificateBlock.serial_start)))


def _event_id(blocks: list[CertificateBlock]) -> str | None:
    """The carbon-neutral event the retirement was counted for (all its blocks or none)."""
    event_id = db.session.scalar(
        select(CarbonEventRetirement.event_id)
        .where(CarbonEventRetirement.block_id.in_([b.id for b in blocks]))
        .order_by(CarbonEventRetirement.id).limit(1))
    return None if event_id is None else str(event_id)


def lookup_url(serial: str) -> str:
    """The public serial lookup page for `serial` (a single serial or a range)."""
    return f"{get_settings().public_base_url}/verify?{urllib.parse.urlencode({'serial': serial})}"


def certificate_payload(certificate: RetirementCertificate) -> dict:
    """The signed document's payload: canonical-JSON-ready (no floats, no datetimes)."""
    # First: a lot issued before manifests existed gets its tree fixed now, in a unit of work.
    merkle_root = manifest_for(certificate.lot_id).root_hash
    lot = db.session.get(CertificateLot, certificate.lot_id)
    blocks = certificate_blocks(certificate.id)
    serials = [serials_of(lot, b) for b in blocks]
    retired_mg = certificate.quantity * lot.unit_mg
    return {
        "type": proofs.CERTIFICATE_TYPE, "certificate_id": str(certificate.id),
        "lot_id": str(lot.id), "serials": serials, "quantity": certificate.quantity,
        "unit_mg": lot.unit_mg, "retired_mg": retired_mg,
        "retired_g": format(mg_to_grams(retired_mg), "f"),
        "beneficiary": certificate.beneficiary, "purpose": certificate.purpose,
        "retired_at": certificate.retired_at.astimezone(dt.timezone.utc).isoformat(),
        "methodology": {"code": lot.methodology_code, "version": lot.methodology_version},
        "vintage_year": lot.vintage_year,
        "period": {"from": lot.period_from.isoformat(), "to": lot.period_to.isoformat()},
        "lot_merkle_root": merkle_root, "event_id": _event_id(blocks),
        "lookup_url": lookup_url(serials[0]) if serials else None,
    }


def signed_certificate(*, certificate_id: uuid.UUID) -> dict:
    """The certificate as served: its id, the JWS and the payload it signs
    (404 `certificate_not_found`)."""
    signing.active_key()  # may create the first key: before anything is read
    payload = certificate_payload(get_certificate_or_raise(certificate_id))
    return {"certificate_id": payload["certificate_id"], "document": signing.sign(payload),
            "certificate": payload}
