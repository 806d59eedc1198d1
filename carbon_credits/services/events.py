"""Carbon-neutral events (docs/events.md): record an event's footprint, list events, count the
serials its enterprise buyer retires against it, and show what it achieved: footprint,
retirements, shortfall, and `neutral` only when the retirements cover the footprint.

An event is never edited (the table is append-only): a footprint cannot be lowered after too
little was retired. Retiring against an event is `retire_serials(event_id=...)`, which calls
`event_for_retirement` before it locks the lot and `count_for_event` in its unit of work, so a
retirement and its counting commit together. "Nothing retired twice" is the registry's rule
(only active blocks move, under the lot's lock); UNIQUE(block_id) on the counted retirements is
the database's second guard."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select

from carbon_credits.domain import certificates as certificate_rules
from carbon_credits.domain import neutrality as rules
from carbon_credits.domain.errors import NotFound, ValidationFailed
from carbon_credits.domain.regions import optional_region
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import newest_first_page
from carbon_credits.services.uow import unit_of_work
from models import (CarbonEvent, CarbonEventRetirement, CertificateBlock, CertificateLot, Partner,
                    db, utcnow)

OBJECT_TYPE = "carbon_event"
BUYER_KIND = "enterprise_buyer"


def get_event_or_raise(event_id: uuid.UUID) -> CarbonEvent:
    event = db.session.get(CarbonEvent, event_id)
    if event is None:
        raise NotFound("Event not found.", code="event_not_found")
    return event


def _buyer_or_raise(partner_id: uuid.UUID) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.kind != BUYER_KIND or partner.is_suspended:
        raise ValidationFailed("An event's buyer is a registered, active enterprise buyer.",
                               code="not_a_buyer",
                               errors={"buyer_partner_id": ["Not an active enterprise buyer."]})
    return partner


def _record_errors(*, name: str, organiser: str, footprint_basis: str,
                   footprint_report_ref: str | None, **rule_args) -> dict:
    errors = rules.event_errors(**rule_args)
    texts = [("name", name), ("organiser", organiser), ("footprint_basis", footprint_basis)]
    if footprint_report_ref is not None:
        texts.append(("footprint_report_ref", footprint_report_ref))
    for field, value in texts:
        if not isinstance(value, str) or not value.strip():
            errors[field] = ["Must not be blank."]
    return errors


def create_event(*, name: str, kind: str, organiser: str, buyer_partner_id: uuid.UUID,
                 starts_on: dt.date, ends_on: dt.date, footprint_g: int, footprint_basis: str,
                 actor_user_id: uuid.UUID, region: str | None = None,
                 footprint_report_ref: str | None = None) -> CarbonEvent:
    """Record an event's footprint and the enterprise buyer answerable for its neutrality."""
    errors = _record_errors(name=name, organiser=organiser, footprint_basis=footprint_basis,
                            footprint_report_ref=footprint_report_ref, kind=kind,
                            starts_on=starts_on, ends_on=ends_on, footprint_g=footprint_g)
    if errors:
        raise ValidationFailed("The event is not valid.", errors=errors)
    region = optional_region(region)
    with unit_of_work():
        buyer = _buyer_or_raise(buyer_partner_id)
        event = CarbonEvent(id=uuid.uuid4(), name=name, kind=kind, organiser=organiser,
                            buyer_partner_id=buyer.id, region=region, starts_on=starts_on,
                            ends_on=ends_on, footprint_g=footprint_g,
                            footprint_basis=footprint_basis,
                            footprint_report_ref=footprint_report_ref, created_by=actor_user_id,
                            created_at=utcnow())
        db.session.add(event)
        record_audit(action="event.created", object_type=OBJECT_TYPE, object_id=event.id,
                     actor_user_id=actor_user_id,
                     details={"name": name, "kind": kind, "buyer_partner_id": str(buyer.id),
                              "footprint_g": footprint_g, "starts_on": starts_on.isoformat(),
                              "ends_on": ends_on.isoformat()})
    return event


def list_events(*, after: tuple | None = None, limit: int = 50) -> tuple[list[CarbonEvent], tuple | None]:
    """Newest first, keyset-paginated."""
    query = select(CarbonEvent).order_by(CarbonEvent.created_at.desc(), CarbonEvent.id.desc())
    return newest_first_page(query, CarbonEvent.created_at, CarbonEvent.id, after=after,
                             limit=limit)


# --- retiring against an event (inside retire_serials' unit of work) ----------------------------

def event_for_retirement(*, event_id: uuid.UUID,
                         holder_partner_id: uuid.UUID | None) -> CarbonEvent:
    """The event serials are about to be retired against: it exists (404 `event_not_found`) and
    the holder retiring them is its buyer (422 `not_event_buyer`)."""
    event = get_event_or_raise(event_id)
    if holder_partner_id != event.buyer_partner_id:
        raise ValidationFailed(
            "Only the event's buyer retires serials against it: send the buyer as "
            "holder_partner_id, for serials it holds.", code="not_event_buyer",
            errors={"holder_partner_id": ["Must be the event's buyer."]})
    return event


def count_for_event(*, event: CarbonEvent, lot: CertificateLot,
                    blocks: list[CertificateBlock]) -> None:
    """Count the just retired blocks of `lot` for `event`: one row per block, its grams being
    quantity x the lot's unit."""
    now = utcnow()
    db.session.add_all([CarbonEventRetirement(
        event_id=event.id, block_id=block.id, lot_id=lot.id, quantity=block.quantity,
        retired_mg=block.quantity * lot.unit_mg, partner_id=event.buyer_partner_id,
        created_at=now) for block in blocks])


# --- reads --------------------------------------------------------------------------------------

def retired_by_event(event_ids) -> dict[uuid.UUID, tuple[int, int]]:
    """(retired milligrams, retired units) per event, in one statement."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(CarbonEventRetirement.event_id, func.sum(CarbonEventRetirement.retired_mg),
               func.sum(CarbonEventRetirement.quantity))
        .where(CarbonEventRetirement.event_id.in_(ids))
        .group_by(CarbonEventRetirement.event_id))
    return {event_id: (int(mg), int(units)) for event_id, mg, units in rows}


def buyer_names(events) -> dict[uuid.UUID, str]:
    ids = {e.buyer_partner_id for e in events}
    if not ids:
        return {}
    return dict(db.session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(ids))).all())


def summary(event: CarbonEvent, retired_mg: int, retired_units: int) -> dict:
    """The figures an event is judged by, as integers: footprint, retired and shortfall
    milligrams, units retired, and whether it is neutral."""
    judged = rules.neutrality(footprint_g=event.footprint_g, retired_mg=retired_mg)
    return {"footprint_mg": judged.footprint_mg, "retired_mg": judged.retired_mg,
            "shortfall_mg": judged.shortfall_mg, "retired_quantity": retired_units,
            "neutral": judged.neutral}


def event_retirements(event_id: uuid.UUID) -> list[dict]:
    """The retirements counted for the event, oldest first: serials, lot, methodology, vintage,
    the buyer who retired them, the claim and when. Nothing about citizens."""
    rows = db.session.execute(
        select(CarbonEventRetirement.lot_id, CarbonEventRetirement.quantity,
               CarbonEventRetirement.retired_mg, CertificateBlock.serial_start,
               CertificateBlock.serial_end, CertificateBlock.beneficiary, CertificateBlock.purpose,
               CertificateBlock.retired_at, CertificateLot.methodology_code,
               CertificateLot.methodology_version, CertificateLot.vintage_year,
               Partner.name.label("buyer"))
        .join(CertificateBlock, CertificateBlock.id == CarbonEventRetirement.block_id)
        .join(CertificateLot, CertificateLot.id == CarbonEventRetirement.lot_id)
        .join(Partner, Partner.id == CarbonEventRetirement.partner_id)
        .where(CarbonEventRetirement.event_id == event_id)
        .order_by(CarbonEventRetirement.id))
    return [{"serials": certificate_rules.format_range(r.methodology_code, r.vintage_year,
                                                       r.serial_start, r.serial_end),
             "lot_id": r.lot_id, "quantity": r.quantity, "retired_mg": r.retired_mg,
             "methodology": {"code": r.methodology_code, "version": r.methodology_version},
             "vintage_year": r.vintage_year, "buyer": r.buyer, "beneficiary": r.beneficiary,
             "purpose": r.purpose, "retired_at": r.retired_at} for r in rows]


def event_page(event_id: uuid.UUID) -> dict:
    """The public page of an event: the event, its buyer's name, its figures and every
    retirement counted for it."""
    event = get_event_or_raise(event_id)
    retirements = event_retirements(event.id)
    figures = summary(event, sum(r["retired_mg"] for r in retirements),
                      sum(r["quantity"] for r in retirements))
    return {"event": event, "buyer": buyer_names([event]).get(event.buyer_partner_id),
            **figures, "retirements": retirements}


def check_event_invariants() -> list[str]:
    """Every retirement counted for an event is a retired block of its lot, of the same serials,
    retired by the event's buyer, for quantity x unit milligrams."""
    rows = db.session.execute(
        select(CarbonEventRetirement.id, CarbonEventRetirement.lot_id,
               CarbonEventRetirement.quantity, CarbonEventRetirement.retired_mg,
               CarbonEventRetirement.partner_id, CertificateBlock.status,
               CertificateBlock.lot_id.label("block_lot_id"),
               CertificateBlock.quantity.label("block_quantity"), CertificateBlock.holder_partner_id,
               CertificateLot.unit_mg, CarbonEvent.buyer_partner_id)
        .join(CertificateBlock, CertificateBlock.id == CarbonEventRetirement.block_id)
        .join(CertificateLot, CertificateLot.id == CarbonEventRetirement.lot_id)
        .join(CarbonEvent, CarbonEvent.id == CarbonEventRetirement.event_id))
    return [f"events: retirement {r.id} does not match the retired block it counts"
            for r in rows
            if r.status != "retired" or r.block_lot_id != r.lot_id
            or r.block_quantity != r.quantity or r.retired_mg != r.quantity * r.unit_mg
            or not r.partner_id == r.holder_partner_id == r.buyer_partner_id]
