"""Transfers and retirements: active serials of a lot (a quantity or a range) move from a holder
to an enterprise buyer, or are retired for an offset claim and never move again; only while the
lot's latest verification statement is positive (409 `lot_not_verified` otherwise). A
retirement may be counted for a carbon-neutral event (services/events.py).

Lock order: the lot, then its blocks (by serial). The verification gate is read under the lot's
lock, which signing a statement takes too. A moved part of a block supersedes it; the block is
carved into new blocks (the rest stays with the holder)."""
from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import select, update

from carbon_credits.domain import certificates as rules
from carbon_credits.domain.errors import Conflict, ValidationFailed
from carbon_credits.services import events as event_service
from carbon_credits.services.audit import record_audit
from carbon_credits.services.webhooks.payloads import emit_lot
from carbon_credits.services.certificates.blocks import (LIVE_STATUSES, OBJECT_TYPE, lock_lot,
                                                         new_block, record_event, serials_of)
from carbon_credits.services.certificates.retirement_certificates import certify_retirement
from carbon_credits.services.certificates.verifications import refuse_unless_verified
from carbon_credits.services.partners import get_partner_or_raise
from carbon_credits.services.uow import unit_of_work
from models import CertificateBlock, CertificateLot, Partner, db, utcnow


@dataclasses.dataclass
class RegistryMove:
    """What a transfer or retirement did: the lot and the new blocks it created (and, for a
    retirement, the certificate naming them)."""

    lot: CertificateLot
    event: str
    blocks: list[CertificateBlock]
    certificate_id: uuid.UUID | None = None

    @property
    def quantity(self) -> int:
        return sum(b.quantity for b in self.blocks)


def _serials_in_lot(lot: CertificateLot, serial: str, field: str) -> int:
    try:
        parsed = rules.parse_serial(serial)
    except ValueError:
        raise ValidationFailed("Not a serial.", errors={field: ["Not a serial of this registry."]}) from None
    if not rules.is_serial_of_lot(parsed, code=lot.methodology_code, year=lot.vintage_year,
                                  serial_start=lot.serial_start, serial_end=lot.serial_end):
        raise ValidationFailed("The serial is not in this lot.",
                               errors={field: ["Not a serial of this lot."]})
    return parsed.first


def _blocks_query(lot: CertificateLot):
    """The lot's blocks in serial order, locked."""
    return (select(CertificateBlock).where(CertificateBlock.lot_id == lot.id)
            .order_by(CertificateBlock.serial_start).with_for_update()
            .execution_options(populate_existing=True))


def _choose_quantity(lot: CertificateLot, holder: uuid.UUID | None,
                     quantity: int) -> list[tuple[CertificateBlock, int, int]]:
    """The holder's lowest active serials."""
    holder_clause = (CertificateBlock.holder_partner_id.is_(None) if holder is None
                     else CertificateBlock.holder_partner_id == holder)
    blocks = list(db.session.scalars(
        _blocks_query(lot).where(CertificateBlock.status == "active", holder_clause)))
    if sum(b.quantity for b in blocks) < quantity:
        raise Conflict(f"The holder has {sum(b.quantity for b in blocks)} active serials in this "
                       f"lot, fewer than {quantity}.", code="insufficient_serials")
    parts = rules.lowest_serials([(b.serial_start, b.quantity) for b in blocks], quantity)
    return [(blocks[index], first, last) for index, first, last in parts]


def _choose_range(lot: CertificateLot, holder: uuid.UUID | None, first_serial: str,
                  last_serial: str) -> list[tuple[CertificateBlock, int, int]]:
    """Every serial of the range, each of which must be the holder's and active."""
    first = _serials_in_lot(lot, first_serial, "first_serial")
    last = _serials_in_lot(lot, last_serial, "last_serial")
    if last < first:
        raise ValidationFailed("The range is empty.", errors={"last_serial": ["Must not precede first_serial."]})
    blocks = list(db.session.scalars(_blocks_query(lot).where(
        CertificateBlock.status.in_(LIVE_STATUSES), CertificateBlock.serial_start <= last,
        CertificateBlock.serial_end >= first)))
    if any(b.status == "retired" for b in blocks):
        raise Conflict("Some of these serials are retired; retired serials never move again.",
                       code="already_retired")
    if any(b.holder_partner_id != holder for b in blocks):
        raise Conflict("Some of these serials are not held by this holder.", code="serials_not_held")
    return [(b, max(b.serial_start, first), min(b.serial_end, last)) for b in blocks]


def _choose(lot: CertificateLot, holder: uuid.UUID | None, *, quantity: int | None,
            first_serial: str | None, last_serial: str | None) -> list[tuple[CertificateBlock, int, int]]:
    """The serials to move, as (block, first, last) parts of the holder's active blocks, locked.
    By quantity: the holder's lowest serials. By range: every serial must be the holder's."""
    if quantity is not None:
        return _choose_quantity(lot, holder, quantity)
    return _choose_range(lot, holder, first_serial, last_serial)


def _move(*, lot_id, holder, quantity, first_serial, last_serial, actor_user_id, event,
          to_partner_id=None, retirement=None) -> RegistryMove:
    lot = lock_lot(lot_id)
    refuse_unless_verified(lot)
    parts = _choose(lot, holder, quantity=quantity, first_serial=first_serial, last_serial=last_serial)
    moved: list[CertificateBlock] = []
    for block, first, last in parts:
        done = db.session.execute(update(CertificateBlock)
                                  .where(CertificateBlock.id == block.id, CertificateBlock.status == "active")
                                  .values(status="superseded")).rowcount
        if done != 1:  # the lot lock makes this unreachable; the condition is the last guard
            raise Conflict("These serials changed meanwhile; try again.", code="serials_changed")
        for start, end, taken in rules.carve(block.serial_start, block.serial_end, first, last):
            if not taken:
                new_block(lot, start, end, holder=holder, parent=block)
            elif retirement:
                new = new_block(lot, start, end, holder=holder, parent=block, **retirement)
                record_event(lot, new, event, actor_user_id=actor_user_id, from_partner_id=holder,
                             beneficiary=retirement["beneficiary"], purpose=retirement["purpose"])
                moved.append(new)
            else:
                new = new_block(lot, start, end, holder=to_partner_id, parent=block)
                record_event(lot, new, event, actor_user_id=actor_user_id, from_partner_id=holder,
                             to_partner_id=to_partner_id)
                moved.append(new)
    return RegistryMove(lot=lot, event=event, blocks=moved)


def _check_amount(quantity, first_serial, last_serial) -> None:
    by_range = first_serial is not None or last_serial is not None
    if (quantity is None) == (not by_range) or (by_range and (first_serial is None or last_serial is None)):
        raise ValidationFailed("Give either a quantity or a serial range (first_serial and last_serial).",
                               errors={"quantity": ["Either quantity or first_serial and last_serial."]})


def _holder_or_raise(partner_id: uuid.UUID | None) -> Partner | None:
    return None if partner_id is None else get_partner_or_raise(partner_id)


def transfer_serials(*, lot_id: uuid.UUID, buyer_partner_id: uuid.UUID, actor_user_id: uuid.UUID,
                     quantity: int | None = None, first_serial: str | None = None,
                     last_serial: str | None = None, from_partner_id: uuid.UUID | None = None) -> RegistryMove:
    """Transfer active serials of a lot (a quantity or a range) from a holder (default: the
    scheme's issuance account) to a registered enterprise buyer."""
    _check_amount(quantity, first_serial, last_serial)
    with unit_of_work():
        buyer = get_partner_or_raise(buyer_partner_id)
        if buyer.kind != "enterprise_buyer" or buyer.is_suspended:
            raise ValidationFailed("Serials go to registered, active enterprise buyers only.",
                                   code="not_a_buyer",
                                   errors={"buyer_partner_id": ["Not an active enterprise buyer."]})
        _holder_or_raise(from_partner_id)
        if buyer.id == from_partner_id:
            raise ValidationFailed("The buyer already holds these serials.",
                                   errors={"buyer_partner_id": ["Must differ from the holder."]})
        move = _move(lot_id=lot_id, holder=from_partner_id, quantity=quantity, first_serial=first_serial,
                     last_serial=last_serial, actor_user_id=actor_user_id, event="transfer",
                     to_partner_id=buyer.id)
        record_audit(action="certificate.transfer", object_type=OBJECT_TYPE, object_id=lot_id,
                     actor_user_id=actor_user_id,
                     details={"from_partner_id": str(from_partner_id) if from_partner_id else None,
                              "to_partner_id": str(buyer.id), "quantity": move.quantity,
                              "serials": [serials_of(move.lot, b) for b in move.blocks]})
    return move


def retire_serials(*, lot_id: uuid.UUID, beneficiary: str, purpose: str, actor_user_id: uuid.UUID,
                   quantity: int | None = None, first_serial: str | None = None,
                   last_serial: str | None = None, holder_partner_id: uuid.UUID | None = None,
                   event_id: uuid.UUID | None = None) -> RegistryMove:
    """Retire (cancel for an offset claim) active serials of a holder; they never move again.
    The retirement gets one certificate listing every block it retired (docs/verification.md,
    section 8). With `event_id`, the holder must be the event's buyer, and each retired block is
    counted for the event in the same transaction (docs/events.md)."""
    _check_amount(quantity, first_serial, last_serial)
    with unit_of_work():
        _holder_or_raise(holder_partner_id)
        event = None if event_id is None else event_service.event_for_retirement(
            event_id=event_id, holder_partner_id=holder_partner_id)
        now = utcnow()
        move = _move(lot_id=lot_id, holder=holder_partner_id, quantity=quantity, first_serial=first_serial,
                     last_serial=last_serial, actor_user_id=actor_user_id, event="retire",
                     retirement={"beneficiary": beneficiary, "purpose": purpose, "retired_at": now,
                                 "retired_by": actor_user_id})
        move.certificate_id = certify_retirement(lot=move.lot, blocks=move.blocks,
                                                 beneficiary=beneficiary, purpose=purpose,
                                                 retired_at=now).id
        if event is not None:
            event_service.count_for_event(event=event, lot=move.lot, blocks=move.blocks)
        record_audit(action="certificate.retire", object_type=OBJECT_TYPE, object_id=lot_id,
                     actor_user_id=actor_user_id,
                     details={"holder_partner_id": str(holder_partner_id) if holder_partner_id else None,
                              "quantity": move.quantity, "beneficiary": beneficiary, "purpose": purpose,
                              "serials": [serials_of(move.lot, b) for b in move.blocks],
                              "event_id": str(event_id) if event_id else None,
                              "certificate_id": str(move.certificate_id)})
        emit_lot("lot.retired", move.lot, quantity=move.quantity, partner_id=holder_partner_id,
                 holder_partner_id=holder_partner_id, beneficiary=beneficiary, purpose=purpose,
                 certificate_id=move.certificate_id)
    return move
