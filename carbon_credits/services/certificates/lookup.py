"""Reads of the registry: lots, their contributing actions, holdings and history, and the
public lookup of a serial (no personal data)."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from carbon_credits.domain import certificates as rules
from carbon_credits.domain.errors import NotFound
from carbon_credits.services.certificates.blocks import LIVE_STATUSES, serials_of
from carbon_credits.services.pagination import keyset_after, newest_first_page, take_page
from models import (Action, CertificateBlock, CertificateEvent, CertificateLot, CertificateLotAction,
                    Partner, db)


def get_lot_or_raise(lot_id: uuid.UUID) -> CertificateLot:
    lot = db.session.get(CertificateLot, lot_id)
    if lot is None:
        raise NotFound("Certificate lot not found.", code="lot_not_found")
    return lot


def list_lots(*, methodology_code: str | None = None, after: tuple | None = None, limit: int = 50):
    """Newest first, keyset-paginated."""
    query = select(CertificateLot).order_by(CertificateLot.issued_at.desc(), CertificateLot.id.desc())
    if methodology_code:
        query = query.where(CertificateLot.methodology_code == methodology_code)
    return newest_first_page(query, CertificateLot.issued_at, CertificateLot.id,
                             after=after, limit=limit)


def lot_actions(*, lot_id: uuid.UUID, after: tuple | None = None, limit: int = 50):
    """The lot's contributing actions with the milligrams each contributed, by action id
    (keyset-paginated): what an auditor samples to trace a lot back to its actions."""
    get_lot_or_raise(lot_id)
    query = (select(CertificateLotAction.action_id, CertificateLotAction.contributed_mg,
                    Action.action_type, Action.mode, Action.category, Action.channel,
                    Action.scheme_day, Action.occurred_at, Action.status)
             .join(Action, Action.id == CertificateLotAction.action_id)
             .where(CertificateLotAction.lot_id == lot_id)
             .order_by(CertificateLotAction.action_id))
    if after:
        query = query.where(keyset_after([CertificateLotAction.action_id], after, descending=False))
    rows = list(db.session.execute(query.limit(limit + 1)))
    return take_page(rows, limit, lambda row: (row.action_id,))


def lot_holdings(lot_id: uuid.UUID) -> list[CertificateBlock]:
    """The lot's live blocks (active or retired), in serial order."""
    return list(db.session.scalars(
        select(CertificateBlock).where(CertificateBlock.lot_id == lot_id,
                                       CertificateBlock.status.in_(LIVE_STATUSES))
        .order_by(CertificateBlock.serial_start)))


def lot_events(lot_id: uuid.UUID) -> list[CertificateEvent]:
    return list(db.session.scalars(select(CertificateEvent).where(CertificateEvent.lot_id == lot_id)
                                   .order_by(CertificateEvent.id)))


def events_by_lot(lot_ids) -> dict[uuid.UUID, list[CertificateEvent]]:
    """The registry history of several lots in one statement, oldest first per lot."""
    found: dict[uuid.UUID, list[CertificateEvent]] = {}
    if lot_ids:
        for event in db.session.scalars(select(CertificateEvent).where(
                CertificateEvent.lot_id.in_(list(lot_ids))).order_by(CertificateEvent.id)):
            found.setdefault(event.lot_id, []).append(event)
    return found


def partner_names(ids) -> dict[uuid.UUID, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(ids))).all())


def verify_serial(*, serial: str) -> dict:
    """Public verification of a serial or serial range: its lot, methodology, period, status and
    retirement details. Nothing about the citizens behind it."""
    try:
        parsed = rules.parse_serial(serial)
    except ValueError:
        raise NotFound("No such serial.", code="serial_not_found") from None
    lot = db.session.scalars(select(CertificateLot).where(CertificateLot.serial_start <= parsed.first,
                                                          CertificateLot.serial_end >= parsed.first)
                             ).one_or_none()
    if lot is None or not rules.range_in_lot(parsed, code=lot.methodology_code,
                                             year=lot.vintage_year, serial_end=lot.serial_end):
        raise NotFound("No such serial.", code="serial_not_found")
    blocks = list(db.session.scalars(
        select(CertificateBlock).where(CertificateBlock.lot_id == lot.id,
                                       CertificateBlock.status.in_(LIVE_STATUSES),
                                       CertificateBlock.serial_start <= parsed.last,
                                       CertificateBlock.serial_end >= parsed.first)
        .order_by(CertificateBlock.serial_start)))
    names = partner_names(b.holder_partner_id for b in blocks)
    statuses = {b.status for b in blocks}
    return {
        "serial": rules.format_range(lot.methodology_code, lot.vintage_year, parsed.first, parsed.last),
        "status": statuses.pop() if len(statuses) == 1 else "mixed",
        "lot": lot,
        "blocks": [{"serials": serials_of(lot, b), "quantity": b.quantity, "status": b.status,
                    "holder": names.get(b.holder_partner_id, "scheme issuance account"),
                    "beneficiary": b.beneficiary, "purpose": b.purpose, "retired_at": b.retired_at}
                   for b in blocks],
    }
