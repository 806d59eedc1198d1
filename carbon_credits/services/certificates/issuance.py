"""Issuing a lot: every verified, not yet certified reduction of one methodology version over a
period of settled scheme days becomes whole units with consecutive serials.

Lock order: the registry's serial counter, then the chosen actions (by id)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import exists, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from carbon_credits.config import get_settings
from carbon_credits.domain import certificates as rules
from carbon_credits.domain.errors import Conflict, ValidationFailed
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services.audit import record_audit
from carbon_credits.services.webhooks.payloads import emit_lot
from carbon_credits.services.certificates.blocks import OBJECT_TYPE, new_block, record_event
from carbon_credits.services.certificates.manifests import fix_manifest
from carbon_credits.services.uow import unit_of_work
from models import Action, CertificateLot, CertificateLotAction, CertificateSerialCounter, db, utcnow

UNIT_MG = rules.DEFAULT_UNIT_MG


def _lock_counter() -> CertificateSerialCounter:
    """The registry's serial counter, created if missing, locked FOR UPDATE: issuances queue
    here, so each sees the previous one's lot members and takes the next serials."""
    insert_ = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert_(CertificateSerialCounter)
                       .values(registry_code=rules.REGISTRY_CODE, next_serial=1)
                       .on_conflict_do_nothing(index_elements=["registry_code"]))
    return db.session.execute(
        select(CertificateSerialCounter)
        .where(CertificateSerialCounter.registry_code == rules.REGISTRY_CODE)
        .with_for_update().execution_options(populate_existing=True)).scalar_one()


def _eligible_actions(version_id: uuid.UUID, period_from: dt.date, period_to: dt.date):
    """Verified reductions not yet in a lot: credited (not pending, not reversed) with grams,
    of this methodology version, on a scheme day in the period. Locked, so a concurrent
    reversal either waits for the lot or drops the action from it."""
    in_a_lot = exists().where(CertificateLotAction.action_id == Action.id)
    return db.session.execute(
        select(Action.id, Action.credited_mg)
        .where(Action.methodology_version_id == version_id, Action.status == "credited",
               Action.credited_mg > 0, Action.scheme_day >= period_from,
               Action.scheme_day <= period_to, ~in_a_lot)
        .order_by(Action.id).with_for_update(of=Action)).all()


def last_settled_day(at: dt.datetime, review_period_days: int) -> dt.date:
    """The last scheme day a lot issued at `at` may cover: closed, and its review period
    (LOT_REVIEW_PERIOD_DAYS) over, so reversals of fraud found in review still can happen."""
    return rules.last_settled_day(at, review_period_days, get_settings().scheme_timezone)


def _refuse_unsettled(period_to: dt.date, issued_at: dt.datetime, review_days: int) -> None:
    """422 `period_not_settled` for a period reaching past the last settled scheme day."""
    settled = last_settled_day(issued_at, review_days)
    if period_to > settled:
        raise ValidationFailed(
            f"A lot may cover only settled scheme days: closed and past the {review_days}-day "
            f"review period, so up to {settled.isoformat()} now.", code="period_not_settled",
            errors={"period_to": [f"Must be on or before {settled.isoformat()}."]})


def _add_members(lot: CertificateLot, rows) -> None:
    try:
        db.session.execute(insert(CertificateLotAction), [
            {"lot_id": lot.id, "action_id": r.id, "contributed_mg": r.credited_mg} for r in rows])
    except IntegrityError as error:  # the counter lock should make this unreachable
        if "action_id" not in str(error.orig):
            raise
        raise Conflict("Some of these reductions are already in another lot.",
                       code="already_in_lot") from None


def issue_lot(*, methodology_code: str, version: int, period_from: dt.date, period_to: dt.date,
              actor_user_id: uuid.UUID, unit_mg: int = UNIT_MG) -> CertificateLot:
    """Issue a lot from every verified, not yet certified reduction of one methodology version
    over a period of settled scheme days (422 `period_not_settled` otherwise): whole units only
    (rounded down), the remainder recorded and never issued."""
    errors = rules.period_errors(period_from, period_to)
    if errors:
        raise ValidationFailed("The period is not valid.", errors=errors)
    issued_at = utcnow()
    review_days = get_settings().lot_review_period_days
    _refuse_unsettled(period_to, issued_at, review_days)
    with unit_of_work():
        mv = methodology_service.get_version_or_raise(code=methodology_code, version=version)
        counter = _lock_counter()
        rows = _eligible_actions(mv.id, period_from, period_to)
        verified_mg = sum(r.credited_mg for r in rows)
        quantity, remainder_mg = rules.issuable_units(verified_mg, unit_mg)
        if quantity == 0:
            what = ("No verified reductions are left to certify" if not rows else
                    f"The {mg_to_grams(verified_mg)} g left to certify are less than one unit")
            raise Conflict(f"{what} for {methodology_code} v{version} from {period_from} "
                           f"to {period_to}.", code="nothing_to_issue")
        first = counter.next_serial
        last = first + quantity - 1
        counter.next_serial = last + 1
        code, year = mv.methodology.code, period_from.year
        lot = CertificateLot(
            id=uuid.uuid4(), registry_code=rules.REGISTRY_CODE, methodology_version_id=mv.id,
            methodology_code=code, methodology_version=mv.version, period_from=period_from,
            period_to=period_to, vintage_year=year, unit_mg=unit_mg, quantity=quantity,
            serial_start=first, serial_end=last, action_count=len(rows), verified_mg=verified_mg,
            issued_mg=quantity * unit_mg, remainder_mg=remainder_mg, status="issued",
            issued_by=actor_user_id, issued_at=issued_at, review_period_days=review_days)
        lot.summary = rules.lot_summary(
            code=code, version=mv.version, period_from=period_from, period_to=period_to,
            action_count=len(rows), verified_mg=verified_mg, unit_mg=unit_mg, quantity=quantity,
            remainder_mg=remainder_mg, first=first, last=last)
        db.session.add(lot)
        db.session.flush()
        _add_members(lot, rows)
        fix_manifest(lot, [(r.id, r.credited_mg) for r in rows])
        block = new_block(lot, first, last, holder=None)
        record_event(lot, block, "issue", actor_user_id=actor_user_id)
        record_audit(action="certificate.issue", object_type=OBJECT_TYPE, object_id=lot.id,
                     actor_user_id=actor_user_id, details=lot.summary)
        emit_lot("lot.issued", lot, quantity=quantity, vintage_year=year,
                 period_from=period_from.isoformat(), period_to=period_to.isoformat(),
                 serial_start=first, serial_end=last)
    return lot
