"""Manual ledger corrections, four-eyes: an auditor or administrator requests one, another
auditor approves it (which posts the `adjustment` transfer in the same transaction) or rejects
it. The database refuses the requester as decider (CHECK `four_eyes` on `ledger_adjustments`),
so the rule holds even if a caller skips this module. The approver must also be independent
of the requester (no `auditor` role through a grant the requester asked for or approved), and
points go to citizens only (no staff role), checked at request and again at approval. See
docs/ledger.md and docs/roles.md.

The use cases return `AdjustmentView` read models (the request with the statement entry it
posted), so the HTTP layer only maps them; a page loads its transfers in the same query.

Lock order: the adjustment row, the target user's row, then (inside the ledger) the citizen's
account. Role changes lock only the user row (then grant rows), so no cycle.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from carbon_credits.domain.ledger import invalid as _invalid
from carbon_credits.domain.vocabulary import (ADJUSTMENT_REASONS, ADJUSTMENT_STATUSES, MAX_POINTS,
                                            STAFF_ROLES)
from carbon_credits.services import ledger
from carbon_credits.services.audit import record_audit
from carbon_credits.services.webhooks.payloads import emit_adjustment
from carbon_credits.services.duties import ensure_independent
from carbon_credits.services.pagination import keyset_after, take_page
from carbon_credits.services.uow import unit_of_work
from models import LedgerAdjustment, LedgerTransfer, User, db, utcnow

OBJECT_TYPE = "ledger_adjustment"


@dataclasses.dataclass(frozen=True)
class AdjustmentView:
    """An adjustment request as auditors see it; `transfer` once approved."""
    id: uuid.UUID
    user_id: uuid.UUID
    points: int
    reason: str
    note: str
    external_ref: str
    status: str
    requested_by: uuid.UUID
    requested_at: dt.datetime
    decided_by: uuid.UUID | None
    decided_at: dt.datetime | None
    decision_note: str | None
    transfer: ledger.StatementEntry | None


def _view(row: LedgerAdjustment, transfer: LedgerTransfer | None) -> AdjustmentView:
    return AdjustmentView(
        id=row.id, user_id=row.user_id, points=row.points, reason=row.reason, note=row.note,
        external_ref=row.external_ref, status=row.status, requested_by=row.requested_by,
        requested_at=row.requested_at, decided_by=row.decided_by, decided_at=row.decided_at,
        decision_note=row.decision_note,
        transfer=ledger.statement_entry(transfer) if transfer is not None else None)


def _view_of(row: LedgerAdjustment) -> AdjustmentView:
    """One request with the transfer it posted, if any (one query when approved)."""
    transfer = None
    if row.transfer_id is not None:
        transfer = db.session.scalars(select(LedgerTransfer)
                                      .where(LedgerTransfer.id == row.transfer_id)).one()
    return _view(row, transfer)


def _text(value, field: str, maximum: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > maximum or "\x00" in value:
        raise _invalid(field, f"Must be 1-{maximum} characters.")
    return value.strip()


def _not_a_citizen(user: User) -> str | None:
    """Why `user` cannot receive an adjustment (None: they can). Points go to citizens only:
    staff crediting staff (or themselves) is exactly what four-eyes is there to stop."""
    roles = user.role_names
    if "citizen" not in roles:
        return "does not hold the citizen role"
    staff = sorted(roles & set(STAFF_ROLES))
    if staff:
        return f"is also {', '.join(staff)} staff"
    return None


def request_adjustment(*, user_id: uuid.UUID, points: int, reason: str, note: str,
                       external_ref: str, actor_user_id: uuid.UUID) -> AdjustmentView:
    """Record a pending correction. The same `external_ref` with the same details returns the
    first request; with other details it is a 409 `adjustment_ref_conflict`."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 \
            or abs(points) > MAX_POINTS:
        raise _invalid("points", f"Must be a non-zero whole number from -{MAX_POINTS} to {MAX_POINTS}.")
    if reason not in ADJUSTMENT_REASONS:
        raise _invalid("reason", f"Must be one of {', '.join(ADJUSTMENT_REASONS)}.")
    note = _text(note, "note", 1000)
    external_ref = _text(external_ref, "external_ref", 200)
    with unit_of_work():
        target = db.session.get(User, user_id)
        if target is None:
            raise NotFound("User not found.")
        why = _not_a_citizen(target)
        if why is not None:
            raise ValidationFailed(f"Adjustments go to citizens only; this account {why}.",
                                   code="adjustment_target_not_citizen",
                                   errors={"user_id": ["Must be a citizen with no staff role."]})
        prior = db.session.scalars(select(LedgerAdjustment)
                                   .where(LedgerAdjustment.external_ref == external_ref)).first()
        if prior is not None:
            if (prior.user_id, prior.points, prior.reason, prior.note) != (user_id, points, reason, note):
                raise _ref_conflict(external_ref)
            return _view_of(prior)
        row = LedgerAdjustment(id=uuid.uuid4(), user_id=user_id, points=points, reason=reason,
                               note=note, external_ref=external_ref, status="pending",
                               requested_by=actor_user_id, requested_at=utcnow())
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:  # the same ref, requested concurrently
            raise _ref_conflict(external_ref) from None
        record_audit(action="ledger.adjustment_requested", object_type=OBJECT_TYPE,
                     object_id=row.id, actor_user_id=actor_user_id,
                     details={"user_id": str(user_id), "points": points, "reason": reason,
                              "note": note, "external_ref": external_ref})
    return _view(row, None)


def approve_adjustment(*, adjustment_id: uuid.UUID, actor_user_id: uuid.UUID,
                       note: str | None = None) -> AdjustmentView:
    """pending -> approved by someone independent of the requester (services/duties.py),
    posting the transfer, if the target is still a citizen without a staff role (409
    otherwise). A take-back the balance cannot cover is a 409 `insufficient_balance` and stays
    pending."""
    note = _text(note, "note", 1000) if note is not None else None
    with unit_of_work():
        row = _lock_pending(adjustment_id, actor_user_id)
        ensure_independent(decider_id=actor_user_id, requester_ids=[row.requested_by],
                           role="auditor", what="this adjustment")
        # Roles may have changed since the request: check again, with the target's row locked
        # (role changes lock it too), before any point moves.
        target = db.session.execute(select(User).where(User.id == row.user_id).with_for_update()
                                    .execution_options(populate_existing=True)).scalar_one()
        why = _not_a_citizen(target)
        if why is not None:
            raise Conflict(f"Adjustments go to citizens only; this account now {why}. Reject "
                           "the request.", code="adjustment_target_not_citizen")
        transfer = ledger.post_adjustment(user_id=row.user_id, points=row.points,
                                          reason=row.reason, note=row.note,
                                          external_ref=f"adjustment:{row.id}",
                                          actor_user_id=actor_user_id)
        _decide(row, "approved", actor_user_id, note, transfer_id=transfer.id)
    return _view(row, transfer)


def reject_adjustment(*, adjustment_id: uuid.UUID, actor_user_id: uuid.UUID,
                      note: str) -> AdjustmentView:
    """pending -> rejected by someone other than the requester, with a reason."""
    note = _text(note, "note", 1000)
    with unit_of_work():
        row = _lock_pending(adjustment_id, actor_user_id)
        _decide(row, "rejected", actor_user_id, note, transfer_id=None)
    return _view(row, None)


def _lock_pending(adjustment_id: uuid.UUID, actor_user_id: uuid.UUID) -> LedgerAdjustment:
    row = db.session.scalars(select(LedgerAdjustment).where(LedgerAdjustment.id == adjustment_id)
                             .with_for_update().execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound("Adjustment not found.", code="adjustment_not_found")
    if row.status != "pending":
        raise Conflict(f"This adjustment was already {row.status}.", code="adjustment_not_pending")
    if row.requested_by == actor_user_id:
        raise PermissionDenied("You requested this adjustment; another auditor must decide it.",
                               code="four_eyes")
    return row


def _decide(row: LedgerAdjustment, status: str, actor_user_id: uuid.UUID, note: str | None, *,
            transfer_id: uuid.UUID | None) -> None:
    # Conditional on `pending` as well as the row lock: a decision is taken at most once.
    decided = db.session.execute(
        update(LedgerAdjustment)
        .where(LedgerAdjustment.id == row.id, LedgerAdjustment.status == "pending")
        .values(status=status, decided_by=actor_user_id, decided_at=utcnow(),
                decision_note=note, transfer_id=transfer_id)
        .execution_options(synchronize_session="fetch")).rowcount
    if decided != 1:
        raise Conflict("This adjustment was already decided.", code="adjustment_not_pending")
    record_audit(action=f"ledger.adjustment_{status}", object_type=OBJECT_TYPE, object_id=row.id,
                 actor_user_id=actor_user_id,
                 details={"note": note, "transfer_id": str(transfer_id) if transfer_id else None})
    emit_adjustment(row, status=status, note=note)


def _ref_conflict(ref: str) -> Conflict:
    return Conflict(f"external_ref {ref!r} was already used for another adjustment.",
                    code="adjustment_ref_conflict")


def get_adjustment_or_raise(adjustment_id: uuid.UUID) -> AdjustmentView:
    row = db.session.get(LedgerAdjustment, adjustment_id)
    if row is None:
        raise NotFound("Adjustment not found.", code="adjustment_not_found")
    return _view_of(row)


def list_adjustments(*, status: str | None = None, after: tuple | None = None,
                     limit: int = 50) -> tuple[list[AdjustmentView], tuple | None]:
    """Newest first, keyset-paginated; `status` filters (e.g. the pending queue). One query:
    each request comes with the transfer it posted (outer join)."""
    if status is not None and status not in ADJUSTMENT_STATUSES:
        raise _invalid("status", f"Must be one of {', '.join(ADJUSTMENT_STATUSES)}.")
    query = (select(LedgerAdjustment, LedgerTransfer)
             .outerjoin(LedgerTransfer, LedgerTransfer.id == LedgerAdjustment.transfer_id)
             .order_by(LedgerAdjustment.requested_at.desc(), LedgerAdjustment.id.desc()))
    if status:
        query = query.where(LedgerAdjustment.status == status)
    if after:
        query = query.where(keyset_after([LedgerAdjustment.requested_at, LedgerAdjustment.id], after))
    rows = db.session.execute(query.limit(limit + 1)).all()
    page, last = take_page(rows, limit, lambda r: (r[0].requested_at.isoformat(), r[0].id))
    return [_view(row, transfer) for row, transfer in page], last


def check_adjustment_invariants() -> list[str]:
    """Every `adjustment` transfer is linked from an approved request whose decider is not its
    requester and whose points equal the transfer's signed amount; every approved request
    links to one."""
    problems: list[str] = []
    rows = db.session.execute(
        select(LedgerTransfer.id, LedgerTransfer.amount, LedgerTransfer.citizen_account_id,
               LedgerTransfer.credit_account_id, LedgerAdjustment.id.label("request_id"),
               LedgerAdjustment.points, LedgerAdjustment.status, LedgerAdjustment.requested_by,
               LedgerAdjustment.decided_by)
        .outerjoin(LedgerAdjustment, LedgerAdjustment.transfer_id == LedgerTransfer.id)
        .where(LedgerTransfer.kind == "adjustment"))
    for r in rows:
        if r.request_id is None:
            problems.append(f"adjustment transfer {r.id} has no approved request")
            continue
        signed = r.amount if r.credit_account_id == r.citizen_account_id else -r.amount
        if r.status != "approved" or r.decided_by is None or r.decided_by == r.requested_by:
            problems.append(f"adjustment {r.request_id}: posted without a second person's approval")
        if signed != r.points:
            problems.append(f"adjustment {r.request_id}: asked for {r.points} points, posted {signed}")
    dangling = db.session.scalars(
        select(LedgerAdjustment.id)
        .outerjoin(LedgerTransfer, LedgerTransfer.id == LedgerAdjustment.transfer_id)
        .where(LedgerAdjustment.status == "approved", LedgerTransfer.id.is_(None)))
    problems += [f"adjustment {i}: approved but no transfer was posted" for i in dangling]
    return problems
