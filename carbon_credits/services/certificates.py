"""The certified-reduction registry: issue lots from verified actions, transfer and retire
serials, verify a serial publicly, and check the registry's invariants. See docs/certificates.md.

Double counting is kept out by the database: an action's grams join at most one lot
(UNIQUE(action_id) on `certificate_lot_actions`), a lot issues whole units only from the grams
of its own actions (CHECK issued + remainder = verified), and reversing an action inside a lot
is refused (`refuse_reversal_inside_lot`, which `reverse_action` asks).

Lock order: issuance locks the registry's serial counter, then the chosen actions (by id);
transfers and retirements lock the lot, then its blocks (by serial). Reversals lock the action
first and then only read membership, so no cycle exists.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import certificates as rules
from carbon_credits.config import get_settings
from carbon_credits.domain.actions import scheme_day
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import keyset_after, take_page
from carbon_credits.services.partners import get_partner_or_raise
from carbon_credits.services.uow import unit_of_work
from models import (Action, CertificateBlock, CertificateEvent, CertificateLot, CertificateLotAction,
                    CertificateSerialCounter, Partner, db, utcnow)

OBJECT_TYPE = "certificate_lot"
LIVE_STATUSES = ("active", "retired")  # superseded blocks were split into others
UNIT_MG = rules.DEFAULT_UNIT_MG


# --- issuance -------------------------------------------------------------------------------

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
    today = scheme_day(at, get_settings().scheme_timezone)
    return today - dt.timedelta(days=1 + review_period_days)


def issue_lot(*, methodology_code: str, version: int, period_from: dt.date, period_to: dt.date,
              actor_user_id: uuid.UUID, unit_mg: int = UNIT_MG) -> CertificateLot:
    """Issue a lot from every verified, not yet certified reduction of one methodology version
    over a period of settled scheme days (422 `period_not_settled` otherwise): whole units only
    (rounded down), the remainder recorded and never issued."""
    errors = {}
    if period_to < period_from:
        errors["period_to"] = ["Must not be before period_from."]
    elif period_to.year != period_from.year:
        errors["period_to"] = ["A lot's period lies within one calendar year (its vintage)."]
    if errors:
        raise ValidationFailed("The period is not valid.", errors=errors)
    issued_at = utcnow()
    review_days = get_settings().lot_review_period_days
    settled = last_settled_day(issued_at, review_days)
    if period_to > settled:
        raise ValidationFailed(
            f"A lot may cover only settled scheme days: closed and past the {review_days}-day "
            f"review period, so up to {settled.isoformat()} now.", code="period_not_settled",
            errors={"period_to": [f"Must be on or before {settled.isoformat()}."]})
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
        lot.summary = {
            "methodology": {"code": code, "version": mv.version},
            "period": {"from": period_from.isoformat(), "to": period_to.isoformat()},
            "vintage_year": year,
            "action_count": len(rows),
            "verified_g": format(mg_to_grams(verified_mg), "f"),
            "unit_g": format(mg_to_grams(unit_mg), "f"),
            "quantity": quantity,
            "issued_g": format(mg_to_grams(lot.issued_mg), "f"),
            "issued_tco2e": format(rules.tonnes(lot.issued_mg), "f"),
            "remainder_unissued_g": format(mg_to_grams(remainder_mg), "f"),
            "serials": rules.format_range(code, year, first, last),
        }
        db.session.add(lot)
        db.session.flush()
        try:
            db.session.execute(insert(CertificateLotAction), [
                {"lot_id": lot.id, "action_id": r.id, "contributed_mg": r.credited_mg} for r in rows])
        except IntegrityError as error:  # the counter lock should make this unreachable
            if "action_id" not in str(error.orig):
                raise
            raise Conflict("Some of these reductions are already in another lot.",
                           code="already_in_lot") from None
        block = _new_block(lot, first, last, holder=None)
        _event(lot, block, "issue", actor_user_id=actor_user_id)
        record_audit(action="certificate.issue", object_type=OBJECT_TYPE, object_id=lot.id,
                     actor_user_id=actor_user_id, details=lot.summary)
    return lot


# --- transfer and retirement ----------------------------------------------------------------

@dataclasses.dataclass
class RegistryMove:
    """What a transfer or retirement did: the lot and the new blocks it created."""

    lot: CertificateLot
    event: str
    blocks: list[CertificateBlock]

    @property
    def quantity(self) -> int:
        return sum(b.quantity for b in self.blocks)


def _new_block(lot: CertificateLot, first: int, last: int, *, holder: uuid.UUID | None,
               parent: CertificateBlock | None = None, **retirement) -> CertificateBlock:
    block = CertificateBlock(id=uuid.uuid4(), lot_id=lot.id, parent_id=parent.id if parent else None,
                             serial_start=first, serial_end=last, quantity=last - first + 1,
                             holder_partner_id=holder, created_at=utcnow(),
                             status="retired" if retirement else "active", **retirement)
    db.session.add(block)
    db.session.flush()
    return block


def _event(lot, block, event, *, actor_user_id, from_partner_id=None, to_partner_id=None,
           beneficiary=None, purpose=None) -> None:
    db.session.add(CertificateEvent(
        lot_id=lot.id, block_id=block.id, event=event, serial_start=block.serial_start,
        serial_end=block.serial_end, quantity=block.quantity, from_partner_id=from_partner_id,
        to_partner_id=to_partner_id, beneficiary=beneficiary, purpose=purpose,
        actor_user_id=actor_user_id, created_at=utcnow()))


def _lock_lot(lot_id: uuid.UUID) -> CertificateLot:
    lot = db.session.execute(select(CertificateLot).where(CertificateLot.id == lot_id)
                             .with_for_update().execution_options(populate_existing=True)
                             ).scalar_one_or_none()
    if lot is None:
        raise NotFound("Certificate lot not found.", code="lot_not_found")
    return lot


def _serials_in_lot(lot: CertificateLot, serial: str, field: str) -> int:
    try:
        parsed = rules.parse_serial(serial)
    except ValueError:
        raise ValidationFailed("Not a serial.", errors={field: ["Not a serial of this registry."]}) from None
    if (parsed.code, parsed.year) != (lot.methodology_code, lot.vintage_year) or parsed.first != parsed.last \
            or not lot.serial_start <= parsed.first <= lot.serial_end:
        raise ValidationFailed("The serial is not in this lot.",
                               errors={field: ["Not a serial of this lot."]})
    return parsed.first


def _choose(lot: CertificateLot, holder: uuid.UUID | None, *, quantity: int | None,
            first_serial: str | None, last_serial: str | None) -> list[tuple[CertificateBlock, int, int]]:
    """The serials to move, as (block, first, last) parts of the holder's active blocks, locked.
    By quantity: the holder's lowest serials. By range: every serial must be the holder's."""
    holder_clause = (CertificateBlock.holder_partner_id.is_(None) if holder is None
                     else CertificateBlock.holder_partner_id == holder)
    base = (select(CertificateBlock).where(CertificateBlock.lot_id == lot.id)
            .order_by(CertificateBlock.serial_start).with_for_update()
            .execution_options(populate_existing=True))
    if quantity is not None:
        blocks = list(db.session.scalars(base.where(CertificateBlock.status == "active", holder_clause)))
        if sum(b.quantity for b in blocks) < quantity:
            raise Conflict(f"The holder has {sum(b.quantity for b in blocks)} active serials in this "
                           f"lot, fewer than {quantity}.", code="insufficient_serials")
        parts, left = [], quantity
        for b in blocks:
            if left == 0:
                break
            take = min(left, b.quantity)
            parts.append((b, b.serial_start, b.serial_start + take - 1))
            left -= take
        return parts
    first = _serials_in_lot(lot, first_serial, "first_serial")
    last = _serials_in_lot(lot, last_serial, "last_serial")
    if last < first:
        raise ValidationFailed("The range is empty.", errors={"last_serial": ["Must not precede first_serial."]})
    blocks = list(db.session.scalars(base.where(CertificateBlock.status.in_(LIVE_STATUSES),
                                                CertificateBlock.serial_start <= last,
                                                CertificateBlock.serial_end >= first)))
    if any(b.status == "retired" for b in blocks):
        raise Conflict("Some of these serials are retired; retired serials never move again.",
                       code="already_retired")
    if any(b.holder_partner_id != holder for b in blocks):
        raise Conflict("Some of these serials are not held by this holder.", code="serials_not_held")
    return [(b, max(b.serial_start, first), min(b.serial_end, last)) for b in blocks]


def _move(*, lot_id, holder, quantity, first_serial, last_serial, actor_user_id, event,
          to_partner_id=None, retirement=None) -> RegistryMove:
    lot = _lock_lot(lot_id)
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
                _new_block(lot, start, end, holder=holder, parent=block)
            elif retirement:
                new = _new_block(lot, start, end, holder=holder, parent=block, **retirement)
                _event(lot, new, event, actor_user_id=actor_user_id, from_partner_id=holder,
                       beneficiary=retirement["beneficiary"], purpose=retirement["purpose"])
                moved.append(new)
            else:
                new = _new_block(lot, start, end, holder=to_partner_id, parent=block)
                _event(lot, new, event, actor_user_id=actor_user_id, from_partner_id=holder,
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
                   last_serial: str | None = None, holder_partner_id: uuid.UUID | None = None) -> RegistryMove:
    """Retire (cancel for an offset claim) active serials of a holder; they never move again."""
    _check_amount(quantity, first_serial, last_serial)
    with unit_of_work():
        _holder_or_raise(holder_partner_id)
        now = utcnow()
        move = _move(lot_id=lot_id, holder=holder_partner_id, quantity=quantity, first_serial=first_serial,
                     last_serial=last_serial, actor_user_id=actor_user_id, event="retire",
                     retirement={"beneficiary": beneficiary, "purpose": purpose, "retired_at": now,
                                 "retired_by": actor_user_id})
        record_audit(action="certificate.retire", object_type=OBJECT_TYPE, object_id=lot_id,
                     actor_user_id=actor_user_id,
                     details={"holder_partner_id": str(holder_partner_id) if holder_partner_id else None,
                              "quantity": move.quantity, "beneficiary": beneficiary, "purpose": purpose,
                              "serials": [serials_of(move.lot, b) for b in move.blocks]})
    return move


# --- reads ----------------------------------------------------------------------------------

def serials_of(lot: CertificateLot, block) -> str:
    return rules.format_range(lot.methodology_code, lot.vintage_year, block.serial_start, block.serial_end)


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
    if after:
        query = query.where(keyset_after([CertificateLot.issued_at, CertificateLot.id], after))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda lot: (lot.issued_at.isoformat(), lot.id))


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
    if lot is None or (lot.methodology_code, lot.vintage_year) != (parsed.code, parsed.year) \
            or parsed.last > lot.serial_end:
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


# --- no double counting through reversals ---------------------------------------------------

def refuse_reversal_inside_lot(action: Action) -> None:
    """Asked by `reverse_action`: an action whose grams were issued as certificates stays
    credited (the certificates may be sold or retired already); reversing it is refused (409)."""
    lot_id = db.session.scalar(select(CertificateLotAction.lot_id)
                               .where(CertificateLotAction.action_id == action.id))
    if lot_id is not None:
        raise Conflict(f"This action's reduction is certified in lot {lot_id}; it cannot be "
                       "reversed.", code="in_certified_lot")


# --- invariants -----------------------------------------------------------------------------

def check_registry_invariants() -> list[str]:
    """Issued <= verified, no action in two lots or outside its lot's terms, no lot covering a
    day not settled when it was issued, disjoint serials, holdings that add up to each lot,
    retired blocks as they were retired."""
    problems: list[str] = []
    lots = list(db.session.scalars(select(CertificateLot).order_by(CertificateLot.serial_start)))
    previous = None
    for lot in lots:
        if previous is not None and lot.serial_start <= previous.serial_end:
            problems.append(f"registry: lots {previous.id} and {lot.id} share serials")
        previous = lot
    if lots:
        counter = db.session.get(CertificateSerialCounter, rules.REGISTRY_CODE)
        if counter is None or counter.next_serial <= lots[-1].serial_end:
            problems.append("registry: the serial counter is behind the issued serials")

    for action_id, n in db.session.execute(
            select(CertificateLotAction.action_id, func.count()).group_by(CertificateLotAction.action_id)
            .having(func.count() > 1)):
        problems.append(f"registry: action {action_id} is in {n} lots")

    members = db.session.execute(
        select(CertificateLotAction.lot_id, CertificateLotAction.action_id,
               CertificateLotAction.contributed_mg, Action.status, Action.credited_mg,
               Action.methodology_version_id, Action.scheme_day)
        .join(Action, Action.id == CertificateLotAction.action_id)).all()
    by_lot: dict[uuid.UUID, list] = {}
    for m in members:
        by_lot.setdefault(m.lot_id, []).append(m)
    issued_by_version: dict[uuid.UUID, int] = {}
    for lot in lots:
        rows = by_lot.get(lot.id, [])
        issued_by_version[lot.methodology_version_id] = \
            issued_by_version.get(lot.methodology_version_id, 0) + lot.issued_mg
        if len(rows) != lot.action_count or sum(r.contributed_mg for r in rows) != lot.verified_mg:
            problems.append(f"registry: lot {lot.id} members do not add up to its verified grams")
        if lot.issued_mg != lot.quantity * lot.unit_mg or lot.issued_mg > lot.verified_mg:
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
        problems.extend(_check_holdings(lot))
    for version_id, issued in issued_by_version.items():
        verified = db.session.scalar(select(func.coalesce(func.sum(Action.credited_mg), 0))
                                     .where(Action.methodology_version_id == version_id,
                                            Action.status == "credited"))
        if issued > verified:
            problems.append(f"registry: methodology version {version_id} issued {issued} mg "
                            f"from {verified} mg verified")
    return problems


def _check_holdings(lot: CertificateLot) -> list[str]:
    problems = []
    blocks = lot_holdings(lot.id)
    expected = lot.serial_start
    for b in blocks:
        if b.serial_start != expected:
            problems.append(f"registry: lot {lot.id} holdings overlap or leave a gap at serial {expected}")
            break
        expected = b.serial_end + 1
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
