"""The registry's invariants, checked by `ledger verify` and after every test: issued <= verified,
no action in two lots or outside its lot's terms, no lot covering a day not settled when it was
issued, disjoint serials, holdings that add up to each lot, retired blocks as they were retired,
each retirement on exactly one certificate that names it as it was retired."""
from __future__ import annotations

import uuid

from sqlalchemy import exists, func, select

from carbon_credits.domain import certificates as rules
from carbon_credits.services.certificates.issuance import last_settled_day
from carbon_credits.services.certificates.lookup import lot_events, lot_holdings
from models import (Action, CertificateBlock, CertificateLot, CertificateLotAction,
                    CertificateSerialCounter, RetirementCertificate, RetirementCertificateBlock, db)


def check_registry_invariants() -> list[str]:
    """Issued <= verified, no action in two lots or outside its lot's terms, no lot covering a
    day not settled when it was issued, disjoint serials, holdings that add up to each lot,
    retired blocks as they were retired."""
    lots = list(db.session.scalars(select(CertificateLot).order_by(CertificateLot.serial_start)))
    problems = _check_serials(lots)
    for action_id, n in db.session.execute(
            select(CertificateLotAction.action_id, func.count()).group_by(CertificateLotAction.action_id)
            .having(func.count() > 1)):
        problems.append(f"registry: action {action_id} is in {n} lots")
    by_lot = _members_by_lot()
    issued_by_version: dict[uuid.UUID, int] = {}
    for lot in lots:
        issued_by_version[lot.methodology_version_id] = \
            issued_by_version.get(lot.methodology_version_id, 0) + lot.issued_mg
        problems.extend(_check_lot(lot, by_lot.get(lot.id, [])))
        problems.extend(_check_holdings(lot))
    for version_id, issued in issued_by_version.items():
        verified = db.session.scalar(select(func.coalesce(func.sum(Action.credited_mg), 0))
                                     .where(Action.methodology_version_id == version_id,
                                            Action.status == "credited"))
        if issued > verified:
            problems.append(f"registry: methodology version {version_id} issued {issued} mg "
                            f"from {verified} mg verified")
    return problems


def _check_serials(lots: list[CertificateLot]) -> list[str]:
    """Lots (in serial order) share no serials; the counter is past the last one issued."""
    problems = [f"registry: lots {lots[i - 1].id} and {lots[i].id} share serials"
                for i in rules.overlapping_neighbours([(lot.serial_start, lot.serial_end) for lot in lots])]
    if lots:
        counter = db.session.get(CertificateSerialCounter, rules.REGISTRY_CODE)
        if counter is None or counter.next_serial <= lots[-1].serial_end:
            problems.append("registry: the serial counter is behind the issued serials")
    return problems


def _members_by_lot() -> dict[uuid.UUID, list]:
    members = db.session.execute(
        select(CertificateLotAction.lot_id, CertificateLotAction.action_id,
               CertificateLotAction.contributed_mg, Action.status, Action.credited_mg,
               Action.methodology_version_id, Action.scheme_day)
        .join(Action, Action.id == CertificateLotAction.action_id)).all()
    by_lot: dict[uuid.UUID, list] = {}
    for m in members:
        by_lot.setdefault(m.lot_id, []).append(m)
    return by_lot


def _check_lot(lot: CertificateLot, rows: list) -> list[str]:
    """The lot's members, grams and period against its terms."""
    problems = []
    if len(rows) != lot.action_count or sum(r.contributed_mg for r in rows) != lot.verified_mg:
        problems.append(f"registry: lot {lot.id} members do not add up to its verified grams")
    if not rules.lot_issues_within_verified(issued_mg=lot.issued_mg, quantity=lot.quantity,
                                            unit_mg=lot.unit_mg, verified_mg=lot.verified_mg):
        problems.append(f"registry: lot {lot.id} issues more than its verified grams")
    settled = last_settled_day(lot.issued_at, lot.review_period_days)
    if lot.period_to > settled or not 0 <= lot.review_period_days <= 365:
        problems.append(f"registry: lot {lot.id} covers scheme days up to {lot.period_to}, "
                        f"not settled when it was issued (last settled day {settled})")
    for r in rows:
        if r.status != "credited" or r.credited_mg != r.contributed_mg:
            problems.append(f"registry: action {r.action_id} in lot {lot.id} is {r.status} "
                            "or its credit changed")
        if r.methodology_version_id != lot.methodology_version_id \
                or not lot.period_from <= r.scheme_day <= lot.period_to:
            problems.append(f"registry: action {r.action_id} is outside lot {lot.id}'s terms")
    return problems


def _check_holdings(lot: CertificateLot) -> list[str]:
    """Live blocks tile the lot's serials exactly; retired blocks match their retirement."""
    problems = []
    blocks = lot_holdings(lot.id)
    expected, contiguous = rules.contiguous_run(lot.serial_start,
                                                [(b.serial_start, b.serial_end) for b in blocks])
    if not contiguous:
        problems.append(f"registry: lot {lot.id} holdings overlap or leave a gap at serial {expected}")
    if sum(b.quantity for b in blocks) != lot.quantity or expected != lot.serial_end + 1:
        problems.append(f"registry: lot {lot.id} holdings do not add up to its quantity")
    retire_events = {e.block_id: e for e in lot_events(lot.id) if e.event == "retire"}
    for b in blocks:
        if b.status != "retired":
            continue
        e = retire_events.get(b.id)
        if e is None or (e.serial_start, e.serial_end, e.beneficiary, e.purpose) != (
                b.serial_start, b.serial_end, b.beneficiary, b.purpose):
            problems.append(f"registry: retired block {b.id} differs from its retirement record")
    return problems


def check_retirement_certificates() -> list[str]:
    """Every retired block is on a retirement certificate (at most one: the primary key), and
    every certificate lists retired blocks of its lot, with its beneficiary, purpose and time,
    adding up to its quantity."""
    uncertified = db.session.scalars(select(CertificateBlock.id).where(
        CertificateBlock.status == "retired",
        ~exists().where(RetirementCertificateBlock.block_id == CertificateBlock.id)))
    problems = [f"registry: retired block {block_id} is on no retirement certificate"
                for block_id in uncertified]
    rows = db.session.execute(
        select(RetirementCertificate, CertificateBlock)
        .outerjoin(RetirementCertificateBlock,
                   RetirementCertificateBlock.certificate_id == RetirementCertificate.id)
        .outerjoin(CertificateBlock, CertificateBlock.id == RetirementCertificateBlock.block_id))
    blocks_of: dict[uuid.UUID, tuple[RetirementCertificate, list[CertificateBlock]]] = {}
    for certificate, block in rows:
        listed = blocks_of.setdefault(certificate.id, (certificate, []))[1]
        if block is not None:
            listed.append(block)
    for certificate, blocks in blocks_of.values():
        problems.extend(_check_certificate(certificate, blocks))
    return problems


def _check_certificate(certificate: RetirementCertificate, blocks: list[CertificateBlock]) -> list[str]:
    claim = (certificate.lot_id, certificate.beneficiary, certificate.purpose, certificate.retired_at)
    problems = [f"registry: retirement certificate {certificate.id} lists block {b.id}, which it "
                "did not retire" for b in blocks
                if b.status != "retired" or (b.lot_id, b.beneficiary, b.purpose, b.retired_at) != claim]
    if sum(b.quantity for b in blocks) != certificate.quantity:
        problems.append(f"registry: retirement certificate {certificate.id} is for "
                        f"{certificate.quantity} serials, its blocks hold "
                        f"{sum(b.quantity for b in blocks)}")
    return problems
