"""Retirement: approved -> retired, ending a version's window (never in the past).

Retiring the in-force version of a scope that nothing takes over from would stop crediting
the scope: that is four-eyes, a pending `methodology_retirements` row until another admin or
auditor approves it (or rejects it, with a note). Retirements take the approvals' lock order.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update

from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from carbon_credits.services.audit import record_audit
from carbon_credits.services.duties import ensure_independent
from carbon_credits.services.methodologies.catalogue import (OBJECT_TYPE, REVIEWER_ROLES,
                                                             get_version_or_raise, in_force_clause)
from carbon_credits.services.methodologies.content import aware
from carbon_credits.services.methodologies.locks import (lock_methodology, lock_scope,
                                                         lock_version, scope_of_or_raise)
from carbon_credits.services.methodologies.review import transition_refused
from carbon_credits.services.uow import unit_of_work
from models import Methodology, MethodologyRetirement, MethodologyVersion, db, utcnow


def _retirement_end(row: MethodologyVersion, asked: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a retirement ends `row`: the asked end (default now), never after its current end
    nor before its start."""
    end = asked or now
    if row.effective_until is not None:
        end = min(end, row.effective_until)
    return max(end, row.effective_from)


def _stops_its_scope(scope: str, row: MethodologyVersion, now: dt.datetime, end: dt.datetime) -> bool:
    """In force now, and no version of the scope takes over at `end`: retiring it would stop
    all crediting of the scope."""
    if row.effective_from > now or (row.effective_until is not None and row.effective_until <= now):
        return False
    successor = db.session.scalar(
        select(MethodologyVersion.id).join(MethodologyVersion.methodology)
        .where(Methodology.scope_key == scope, MethodologyVersion.id != row.id,
               *in_force_clause(end)).limit(1))
    return successor is None


def _retire(code: str, row: MethodologyVersion, end: dt.datetime, actor_user_id: uuid.UUID,
            now: dt.datetime, **details) -> None:
    row.status, row.retired_by, row.retired_at = "retired", actor_user_id, now
    row.effective_until = end
    record_audit(action="methodology.version_retire", object_type=OBJECT_TYPE, object_id=code,
                 actor_user_id=actor_user_id,
                 details={"version": row.version, "effective_until": end.isoformat(), **details})


def _lock_for_retirement(code: str, version: int) -> tuple[str, MethodologyVersion]:
    """The scope's methodology rows (the lock order of approvals), then the version."""
    scope = scope_of_or_raise(code)
    lock_scope(scope)
    return scope, lock_version(lock_methodology(code), version)


def _request_retirement(code: str, row: MethodologyVersion, asked: dt.datetime | None,
                        reason: str | None, actor_user_id: uuid.UUID,
                        now: dt.datetime) -> MethodologyRetirement:
    request = MethodologyRetirement(id=uuid.uuid4(), methodology_version_id=row.id,
                                    effective_until=asked, reason=reason, status="pending",
                                    requested_by=actor_user_id, requested_at=now)
    db.session.add(request)
    db.session.flush()
    record_audit(action="methodology.version_retirement_requested", object_type=OBJECT_TYPE,
                 object_id=code, actor_user_id=actor_user_id,
                 details={"version": row.version, "retirement_id": str(request.id),
                          "effective_until": asked.isoformat() if asked else None,
                          "reason": reason})
    return request


def retire_version(*, code: str, version: int, effective_until: dt.datetime | None = None,
                   reason: str | None = None,
                   actor_user_id: uuid.UUID) -> MethodologyVersion | MethodologyRetirement:
    """approved -> retired: it stops being in force at `effective_until` (default now; never in
    the past, so credits already computed under it stay explained). If it is in force and no
    version takes over at that end, the scope would stop crediting: that is four-eyes, so a
    pending retirement request is returned instead (another person approves it)."""
    now = utcnow()
    asked = aware(effective_until, "effective_until")
    if (asked or now) < now - dt.timedelta(seconds=5):
        raise ValidationFailed("A version cannot be retired in the past.",
                               errors={"effective_until": ["Must not be in the past."]})
    with unit_of_work():
        scope, row = _lock_for_retirement(code, version)
        if row.status != "approved":
            raise transition_refused(row, "retire")
        end = _retirement_end(row, asked, now)
        if not _stops_its_scope(scope, row, now, end):
            _retire(code, row, end, actor_user_id, now)
            return row
        pending = _pending_retirement(row)
        if pending is not None:
            return pending
        return _request_retirement(code, row, asked, reason, actor_user_id, now)


def _pending_retirement(row: MethodologyVersion) -> MethodologyRetirement | None:
    return db.session.scalars(
        select(MethodologyRetirement)
        .where(MethodologyRetirement.methodology_version_id == row.id,
               MethodologyRetirement.status == "pending")
        .with_for_update().execution_options(populate_existing=True)).one_or_none()


def _pending_retirement_or_raise(code: str, row: MethodologyVersion) -> MethodologyRetirement:
    request = _pending_retirement(row)
    if request is None:
        raise NotFound(f"{code} version {row.version} has no pending retirement request.",
                       code="retirement_not_found")
    return request


def _close_retirement(request: MethodologyRetirement, status: str, actor_user_id: uuid.UUID,
                      note: str | None, now: dt.datetime) -> None:
    # Conditional on `pending` as well as the row lock: decided at most once.
    closed = db.session.execute(
        update(MethodologyRetirement)
        .where(MethodologyRetirement.id == request.id, MethodologyRetirement.status == "pending")
        .values(status=status, decided_by=actor_user_id, decided_at=now, decision_note=note)
        .execution_options(synchronize_session="fetch")).rowcount
    if closed != 1:
        raise Conflict("This retirement request was already decided.", code="retirement_not_pending")


def approve_retirement(*, code: str, version: int, actor_user_id: uuid.UUID,
                       note: str | None = None) -> MethodologyVersion:
    """Approve someone else's pending retirement (independent of the requester): the version
    is retired at the asked end, or now if that has passed."""
    now = utcnow()
    with unit_of_work():
        _, row = _lock_for_retirement(code, version)
        request = _pending_retirement_or_raise(code, row)
        ensure_independent(decider_id=actor_user_id, requester_ids=[request.requested_by],
                           role=REVIEWER_ROLES, what="this retirement")
        if row.status != "approved":
            raise transition_refused(row, "retire")
        end = _retirement_end(row, max(request.effective_until or now, now), now)
        _close_retirement(request, "approved", actor_user_id, note, now)
        _retire(code, row, end, actor_user_id, now, retirement_id=str(request.id),
                requested_by=str(request.requested_by))
    return row


def reject_retirement(*, code: str, version: int, actor_user_id: uuid.UUID,
                      note: str) -> MethodologyRetirement:
    """Reject someone else's pending retirement, with a note; the version stays in force."""
    now = utcnow()
    with unit_of_work():
        _, row = _lock_for_retirement(code, version)
        request = _pending_retirement_or_raise(code, row)
        if request.requested_by == actor_user_id:
            raise PermissionDenied("You requested this retirement; someone else must decide it.",
                                   code="four_eyes")
        _close_retirement(request, "rejected", actor_user_id, note, now)
        record_audit(action="methodology.version_retirement_rejected", object_type=OBJECT_TYPE,
                     object_id=code, actor_user_id=actor_user_id,
                     details={"version": row.version, "retirement_id": str(request.id),
                              "note": note})
    return request


def list_retirements(*, code: str, version: int) -> list[MethodologyRetirement]:
    """Every retirement request of one version, newest first."""
    row = get_version_or_raise(code=code, version=version)
    return list(db.session.scalars(
        select(MethodologyRetirement).where(MethodologyRetirement.methodology_version_id == row.id)
        .order_by(MethodologyRetirement.requested_at.desc())))
