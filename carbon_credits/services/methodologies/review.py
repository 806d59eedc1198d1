"""Review: draft -> submitted -> approved, or submitted -> rejected (with a reason).

The approver must not be the version's drafter, editor or submitter, nor hold `auditor`
through a grant one of them requested or approved (four-eyes, 403, services/duties.py). At
most one version is in force per scope at any instant: approval locks the scope's methodology
rows before checking for overlap (409). Approving version N+1 of a code ends the version of
that code in force at N+1's `effective_from` at that instant, in the same transaction (no gap,
no retirement first).
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select

from carbon_credits.domain.errors import Conflict, ValidationFailed
from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES
from carbon_credits.services.audit import record_audit
from carbon_credits.services.duties import ensure_independent
from carbon_credits.services.methodologies.calculation import definition_of
from carbon_credits.services.methodologies.catalogue import OBJECT_TYPE, snapshot
from carbon_credits.services.methodologies.locks import (lock_methodology, lock_scope,
                                                         lock_version, scope_of_or_raise)
from carbon_credits.services.uow import unit_of_work
from models import AuditEntry, Methodology, MethodologyVersion, db, utcnow

AUTHORING_ACTIONS = ("methodology.version_create", "methodology.version_edit",
                     "methodology.version_submit")


def transition_refused(row: MethodologyVersion, action: str) -> Conflict:
    return Conflict(f"Cannot {action} a version that is {row.status}.", code="invalid_transition")


def submit_version(*, code: str, version: int, actor_user_id: uuid.UUID) -> MethodologyVersion:
    """draft -> submitted: the content is frozen for review."""
    with unit_of_work():
        methodology = lock_methodology(code)
        row = lock_version(methodology, version)
        if row.status != "draft":
            raise transition_refused(row, "submit")
        if row.effective_from is None:
            raise ValidationFailed("Set effective_from before submitting.",
                                   errors={"effective_from": ["Required to submit."]})
        row.status, row.submitted_by, row.submitted_at = "submitted", actor_user_id, utcnow()
        record_audit(action="methodology.version_submit", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id, details={"version": row.version})
    return row


def authors_of(code: str, row: MethodologyVersion) -> set[uuid.UUID]:
    """Everyone who drafted, edited or submitted this version (from the audit trail)."""
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == OBJECT_TYPE, AuditEntry.object_id == code,
        AuditEntry.action.in_(AUTHORING_ACTIONS)))
    authors = {e.actor_user_id for e in entries
               if e.actor_user_id is not None and (e.details or {}).get("version") == row.version}
    return authors | {u for u in (row.drafted_by, row.submitted_by) if u is not None}


def _window_overlaps(row: MethodologyVersion) -> tuple:
    """SQL criteria: another in-force-status version's non-empty window meets `row`'s."""
    return (MethodologyVersion.id != row.id,
            MethodologyVersion.status.in_(IN_FORCE_STATUSES),
            or_(MethodologyVersion.effective_until.is_(None),
                MethodologyVersion.effective_until > row.effective_from),
            or_(MethodologyVersion.effective_until.is_(None),
                MethodologyVersion.effective_until > MethodologyVersion.effective_from),
            *([MethodologyVersion.effective_from < row.effective_until]
              if row.effective_until is not None else []))


def overlapping(scope: str, row: MethodologyVersion) -> MethodologyVersion | None:
    """A version of the scope (any code) that would be in force at the same time as `row`."""
    return db.session.scalars(
        select(MethodologyVersion).join(MethodologyVersion.methodology)
        .where(Methodology.scope_key == scope, *_window_overlaps(row))
        .execution_options(populate_existing=True).limit(1)).one_or_none()


def _supersede(methodology: Methodology, row: MethodologyVersion, now: dt.datetime,
               actor_user_id: uuid.UUID) -> None:
    """End the version of the same code in force at `row.effective_from` at that instant.
    A same-code version starting at or after it is not replaced (409), nor is history
    rewritten: the switch instant may not be in the past."""
    same_code = db.session.scalars(
        select(MethodologyVersion)
        .where(MethodologyVersion.methodology_id == methodology.id, *_window_overlaps(row))
        .order_by(MethodologyVersion.effective_from)
        .with_for_update().execution_options(populate_existing=True)).all()
    for other in same_code:
        if other.effective_from >= row.effective_from:
            raise Conflict(f"Version {row.version} starts at or before version {other.version} "
                           f"({other.effective_from.isoformat()}), so it cannot replace it; "
                           "start it later or retire that version first.",
                           code="replacement_starts_too_early")
        if row.effective_from < now - dt.timedelta(seconds=5):
            raise Conflict(f"Version {row.version} would end version {other.version} at "
                           f"{row.effective_from.isoformat()}, in the past; credits already "
                           "computed under it must stay explained. Start it now or later.",
                           code="replacement_in_the_past")
        other.effective_until = row.effective_from
        record_audit(action="methodology.version_superseded", object_type=OBJECT_TYPE,
                     object_id=methodology.code, actor_user_id=actor_user_id,
                     details={"version": other.version, "status": other.status,
                              "effective_until": row.effective_from.isoformat(),
                              "superseded_by": row.version})


def approve_version(*, code: str, version: int, actor_user_id: uuid.UUID) -> MethodologyVersion:
    """submitted -> approved, by someone independent of its authors, if no version of another
    code overlaps it in its scope; the version of this code in force at its start ends there."""
    with unit_of_work():
        scope = scope_of_or_raise(code)
        lock_scope(scope)
        methodology = lock_methodology(code)
        row = lock_version(methodology, version)
        if row.status != "submitted":
            raise transition_refused(row, "approve")
        ensure_independent(decider_id=actor_user_id, requester_ids=authors_of(code, row),
                           role="auditor", what="this version (you drafted, edited or submitted it)")
        _supersede(methodology, row, utcnow(), actor_user_id)
        clash = overlapping(scope, row)
        if clash is not None:
            raise Conflict(f"Its effective period overlaps {clash.methodology.code} version "
                           f"{clash.version}, in force for the same scope.",
                           code="methodology_overlap")
        definition_of(row)  # the stored content still parses (defence in depth)
        row.status, row.approved_by, row.approved_at = "approved", actor_user_id, utcnow()
        record_audit(action="methodology.version_approve", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id,
                     details={"version": row.version, "content": snapshot(row)})
    return row


def reject_version(*, code: str, version: int, reason: str,
                   actor_user_id: uuid.UUID) -> MethodologyVersion:
    """submitted -> rejected, with the reviewer's reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A rejection needs a reason.", errors={"reason": ["Required."]})
    with unit_of_work():
        methodology = lock_methodology(code)
        row = lock_version(methodology, version)
        if row.status != "submitted":
            raise transition_refused(row, "reject")
        row.status, row.rejected_by, row.rejected_at = "rejected", actor_user_id, utcnow()
        row.rejection_reason = reason
        record_audit(action="methodology.version_reject", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id, details={"version": row.version, "reason": reason})
    return row
