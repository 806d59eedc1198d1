"""Blocks of serials and the registry's event log: writing a block or an event, naming a
block's serials, locking a lot. Shared by issuance, transfers and retirements, and
verification statements."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from carbon_credits.domain import certificates as rules
from carbon_credits.domain.errors import NotFound
from models import CertificateBlock, CertificateEvent, CertificateLot, db, utcnow

OBJECT_TYPE = "certificate_lot"
LIVE_STATUSES = rules.LIVE_BLOCK_STATUSES  # superseded blocks were split into others


def lock_lot(lot_id: uuid.UUID) -> CertificateLot:
    """The lot's row, locked FOR UPDATE (404 `lot_not_found`): transfers, retirements and
    verification statements of one lot queue here, so each sees the previous one's effect."""
    lot = db.session.execute(select(CertificateLot).where(CertificateLot.id == lot_id)
                             .with_for_update().execution_options(populate_existing=True)
                             ).scalar_one_or_none()
    if lot is None:
        raise NotFound("Certificate lot not found.", code="lot_not_found")
    return lot


def serials_of(lot: CertificateLot, block) -> str:
    return rules.format_range(lot.methodology_code, lot.vintage_year, block.serial_start, block.serial_end)


def new_block(lot: CertificateLot, first: int, last: int, *, holder: uuid.UUID | None,
              parent: CertificateBlock | None = None, **retirement) -> CertificateBlock:
    block = CertificateBlock(id=uuid.uuid4(), lot_id=lot.id, parent_id=parent.id if parent else None,
                             serial_start=first, serial_end=last, quantity=last - first + 1,
                             holder_partner_id=holder, created_at=utcnow(),
                             status="retired" if retirement else "active", **retirement)
    db.session.add(block)
    db.session.flush()
    return block


def record_event(lot, block, event, *, actor_user_id, from_partner_id=None, to_partner_id=None,
                 beneficiary=None, purpose=None) -> None:
    db.session.add(CertificateEvent(
        lot_id=lot.id, block_id=block.id, event=event, serial_start=block.serial_start,
        serial_end=block.serial_end, quantity=block.quantity, from_partner_id=from_partner_id,
        to_partner_id=to_partner_id, beneficiary=beneficiary, purpose=purpose,
        actor_user_id=actor_user_id, created_at=utcnow()))
