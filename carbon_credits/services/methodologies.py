"""Methodology registry: codes, versions and their lifecycle, selection by time, dry runs.

Lifecycle: draft -> submitted -> approved -> retired, or submitted -> rejected (with reason).
Only drafts are edited (with the revision they were read at, the ETag); approved versions are
immutable (409 here, a trigger in the database). The approver must not be the version's
drafter, editor or submitter, nor hold `auditor` through a grant one of them requested or
approved (four-eyes, 403, services/duties.py). At most one version is in force per scope at any
instant: approval locks the scope's methodology rows before checking for overlap (409).
Approving version N+1 of a code ends the version of that code in force at N+1's
`effective_from` at that instant, in the same transaction (no gap, no retirement first).
Retiring the in-force version of a scope that nothing takes over from is four-eyes: a pending
`methodology_retirements` row until another admin or auditor approves it.
Every transition and edit writes an audit row (object_type "methodology", object_id the code).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.config import get_settings
from carbon_credits.domain import methodology as domain
from carbon_credits.domain.errors import (AuthenticationFailed, Conflict, NotFound,
                                          PermissionDenied, ValidationFailed)
from carbon_credits.domain.methodology import (Calculation, Definition, Reason, RevisionRequired,
                                               StaleRevision)
from carbon_credits.services.admin_queries import list_audit_entries
from carbon_credits.services.audit import record_audit
from carbon_credits.services.duties import ensure_independent
from carbon_credits.services.pagination import keyset_after, take_page
from carbon_credits.services.uow import unit_of_work
from models import (AuditEntry, Methodology, MethodologyRetirement, MethodologyVersion, User, db,
                    utcnow)

OBJECT_TYPE = "methodology"
PUBLIC_STATUSES = ("approved", "retired")
IN_FORCE_STATUSES = ("approved", "retired")  # a retired version stays in force until its end
REVIEWER_ROLES = {"admin", "auditor"}
SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "seed_methodologies.json"
CONTENT_FIELDS = ("family", "formula_text", "parameters", "applicability", "daily_cap_g",
                  "effective_from", "effective_until", "change_note")


def scope_key(action_type: str, mode: str | None) -> str:
    return f"{action_type}:{mode}" if mode else action_type


# --- reads ----------------------------------------------------------------------------------

def get_methodology(code: str) -> Methodology | None:
    return db.session.scalars(select(Methodology).where(Methodology.code == code)).one_or_none()


def get_methodology_or_raise(code: str) -> Methodology:
    methodology = get_methodology(code)
    if methodology is None:
        raise NotFound(f"Methodology {code} not found.", code="methodology_not_found")
    return methodology


def get_version_or_raise(*, code: str, version: int) -> MethodologyVersion:
    if not 1 <= version <= 2**31 - 1:  # beyond the Integer column: cannot exist (no DB error)
        raise NotFound(f"Methodology {code} has no version {version}.",
                       code="methodology_version_not_found")
    found = db.session.scalars(
        select(MethodologyVersion).join(MethodologyVersion.methodology)
        .where(Methodology.code == code, MethodologyVersion.version == version)).one_or_none()
    if found is None:
        raise NotFound(f"Methodology {code} has no version {version}.",
                       code="methodology_version_not_found")
    return found


def list_versions(methodology: Methodology, *, include_unapproved: bool) -> list[MethodologyVersion]:
    query = (select(MethodologyVersion).where(MethodologyVersion.methodology_id == methodology.id)
             .order_by(MethodologyVersion.version))
    if not include_unapproved:
        query = query.where(MethodologyVersion.status.in_(PUBLIC_STATUSES))
    return list(db.session.scalars(query))


def can_see_unapproved(user: User | None) -> bool:
    """Drafts, submitted and rejected versions are visible to admins and auditors only."""
    return user is not None and bool(user.role_names & REVIEWER_ROLES)


def get_methodology_for_viewer(*, code: str, viewer: User | None) -> tuple[Methodology, list]:
    """A methodology with the versions the viewer may see; one with none of them is a 404."""
    methodology = get_methodology_or_raise(code)
    versions = list_versions(methodology, include_unapproved=can_see_unapproved(viewer))
    if not versions and not can_see_unapproved(viewer):
        raise NotFound(f"Methodology {code} not found.", code="methodology_not_found")
    return methodology, versions


def _in_force_clause(at: dt.datetime):
    return (MethodologyVersion.status.in_(IN_FORCE_STATUSES),
            MethodologyVersion.effective_from <= at,
            or_(MethodologyVersion.effective_until.is_(None), MethodologyVersion.effective_until > at))


def get_version_in_force(*, action_type: str, mode: str | None,
                         occurred_at: dt.datetime) -> MethodologyVersion | None:
    """The version in force for the scope at `occurred_at` (an action of last March gets last
    March's version, even if another was approved since)."""
    return db.session.scalars(
        select(MethodologyVersion).join(MethodologyVersion.methodology)
        .where(Methodology.scope_key == scope_key(action_type, mode), *_in_force_clause(occurred_at))
        .order_by(MethodologyVersion.effective_from.desc()).limit(1)).one_or_none()


def get_version_in_force_or_raise(*, action_type: str, mode: str | None,
                                  occurred_at: dt.datetime) -> MethodologyVersion:
    version = get_version_in_force(action_type=action_type, mode=mode, occurred_at=occurred_at)
    if version is None:
        scope = scope_key(action_type, mode)
        raise Conflict(f"No methodology is in force for {scope} at {occurred_at.isoformat()}.",
                       code="methodology_not_in_force")
    return version


def _code_version_in_force_or_raise(methodology: Methodology, at: dt.datetime) -> MethodologyVersion:
    version = db.session.scalars(
        select(MethodologyVersion).where(MethodologyVersion.methodology_id == methodology.id,
                                         *_in_force_clause(at)).limit(1)).one_or_none()
    if version is None:
        raise Conflict(f"No version of {methodology.code} is in force at {at.isoformat()}.",
                       code="methodology_not_in_force")
    return version


def list_methodologies_in_force(*, at: dt.datetime | None = None, after: tuple | None,
                                limit: int) -> tuple[list[tuple[Methodology, MethodologyVersion]], tuple | None]:
    """Methodologies with a version in force at `at` (default now), by code; keyset paginated."""
    at = at or utcnow()
    query = (select(Methodology, MethodologyVersion).join(MethodologyVersion.methodology)
             .where(*_in_force_clause(at)).order_by(Methodology.code))
    if after:
        query = query.where(keyset_after([Methodology.code], after, descending=False))
    rows = [tuple(r) for r in db.session.execute(query.limit(limit + 1))]
    return take_page(rows, limit, lambda row: (row[0].code,))


def list_methodologies(*, after: tuple | None, limit: int) -> tuple[list[Methodology], tuple | None]:
    """Every methodology code (admin view), by code."""
    query = select(Methodology).order_by(Methodology.code)
    if after:
        query = query.where(keyset_after([Methodology.code], after, descending=False))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda m: (m.code,))


def list_audit_log(*, code: str, after: tuple | None, limit: int):
    """The audit trail of one methodology code, newest first."""
    get_methodology_or_raise(code)
    return list_audit_entries(object_type=OBJECT_TYPE, object_id=code, action=None,
                              actor_user_id=None, after=after, limit=limit)


# --- content --------------------------------------------------------------------------------

def _cache_key(version: MethodologyVersion):
    return (version.id, version.revision, version.status)


_DEFINITIONS: dict[tuple, Definition] = {}


def definition_of(version: MethodologyVersion) -> Definition:
    """The parsed calculator definition of a stored version (cached for immutable versions)."""
    key = _cache_key(version)
    cached = _DEFINITIONS.get(key) if version.status in IN_FORCE_STATUSES else None
    if cached is not None:
        return cached
    definition = domain.parse_definition(family=version.family, parameters=version.parameters,
                                         rules=version.rules)
    if version.status in IN_FORCE_STATUSES:
        if len(_DEFINITIONS) > 1000:
            _DEFINITIONS.clear()
        _DEFINITIONS[key] = definition
    return definition


def snapshot(version: MethodologyVersion) -> dict:
    """The version's content as plain JSON values (what diffs and audit rows compare)."""
    cap = version.daily_cap_g
    return {
        "family": version.family,
        "formula_text": version.formula_text,
        "parameters": version.parameters,
        "applicability": version.rules,
        "daily_cap_g": None if cap is None else format(domain.quantise_grams(cap), "f"),
        "effective_from": version.effective_from.isoformat() if version.effective_from else None,
        "effective_until": version.effective_until.isoformat() if version.effective_until else None,
        "change_note": version.change_note,
    }


def version_etag(version: MethodologyVersion) -> str:
    """Strong ETag of a version: changes with every edit."""
    return f'"{version.id.hex[:12]}-{version.revision}"'


def _cap_mg(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationFailed("daily_cap_g must be a number.", errors={"daily_cap_g": ["Must be a number."]})
    cap = Decimal(value)
    if not cap.is_finite() or cap < 0 or cap > Decimal(10**9) or cap != cap.quantize(domain.GRAMS):
        raise ValidationFailed("daily_cap_g must be between 0 and 1e9 with at most 3 decimals.",
                               errors={"daily_cap_g": ["Between 0 and 1000000000, at most 3 decimals."]})
    return int(cap * 1000)


def _aware(value, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationFailed(f"{field} must be a date-time with offset.",
                               errors={field: ["Must be a date-time with offset."]})
    return value.astimezone(dt.timezone.utc)


def _apply_content(version: MethodologyVersion, methodology: Methodology, content: Mapping) -> None:
    """Validate the whole resulting content and write it onto `version` (a draft)."""
    family = content.get("family", version.family)
    parameters = content.get("parameters", version.parameters)
    rules = content.get("applicability", version.rules)
    definition = domain.parse_definition(family=family, parameters=_plain_parameters(parameters),
                                         rules=rules, action_type=methodology.action_type)
    start = _aware(content["effective_from"], "effective_from") if "effective_from" in content \
        else version.effective_from
    end = _aware(content["effective_until"], "effective_until") if "effective_until" in content \
        else version.effective_until
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("effective_until must be after effective_from.",
                               errors={"effective_until": ["Must be after effective_from."]})
    version.family = family
    version.parameters = [p.as_dict() for p in definition.parameters.values()]
    version.rules = definition.rules.as_dict()
    if "formula_text" in content or version.formula_text is None:
        version.formula_text = (content.get("formula_text") or domain.DEFAULT_FORMULAS[family]).strip()
    if "daily_cap_g" in content:
        version.daily_cap_mg = _cap_mg(content["daily_cap_g"])
    if "change_note" in content:
        version.change_note = content["change_note"]
    version.effective_from, version.effective_until = start, end


def _plain_parameters(parameters) -> Any:
    """Parameter values may arrive as Decimal (API) or strings (stored); both parse exactly."""
    if not isinstance(parameters, list):
        return parameters
    return [dict(p) if isinstance(p, Mapping) else p for p in parameters]


# --- lifecycle ------------------------------------------------------------------------------

def create_methodology(*, code: str, title: str, action_type: str, mode: str | None,
                       description: str | None, actor_user_id: uuid.UUID | None) -> Methodology:
    """Register a new methodology code with its scope."""
    if action_type not in domain.ACTION_TYPES:
        raise ValidationFailed("action_type must be one of " + ", ".join(domain.ACTION_TYPES),
                               errors={"action_type": ["Unknown action type."]})
    if action_type == "transit" and mode not in domain.TRANSIT_MODES:
        raise ValidationFailed("transit methodologies need a mode: " + ", ".join(domain.TRANSIT_MODES),
                               errors={"mode": ["Required for transit."]})
    if action_type != "transit" and mode is not None:
        raise ValidationFailed("only transit methodologies have a mode",
                               errors={"mode": ["Only for transit."]})
    with unit_of_work():
        methodology = Methodology(code=code, title=title.strip(), description=description,
                                  action_type=action_type, mode=mode,
                                  scope_key=scope_key(action_type, mode), created_by=actor_user_id)
        db.session.add(methodology)
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:
            raise Conflict(f"Methodology {code} already exists.", code="methodology_exists") from None
        record_audit(action="methodology.create", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id,
                     details={"title": methodology.title, "action_type": action_type, "mode": mode})
    return methodology


def _lock_methodology(code: str) -> Methodology:
    methodology = db.session.scalars(
        select(Methodology).where(Methodology.code == code).with_for_update()
        .execution_options(populate_existing=True)).one_or_none()
    if methodology is None:
        raise NotFound(f"Methodology {code} not found.", code="methodology_not_found")
    return methodology


def _lock_version(methodology: Methodology, number: int) -> MethodologyVersion:
    version = db.session.scalars(
        select(MethodologyVersion).where(MethodologyVersion.methodology_id == methodology.id,
                                         MethodologyVersion.version == number)
        .with_for_update(of=MethodologyVersion).execution_options(populate_existing=True)
    ).one_or_none()
    if version is None:
        raise NotFound(f"Methodology {methodology.code} has no version {number}.",
                       code="methodology_version_not_found")
    return version


def create_version(*, code: str, content: Mapping[str, Any], based_on: int | None = None,
                   actor_user_id: uuid.UUID | None) -> MethodologyVersion:
    """A new draft version (number = last + 1); `based_on` copies another version's content
    and `content` overrides it field by field."""
    with unit_of_work():
        methodology = _lock_methodology(code)
        last = db.session.scalar(select(func.max(MethodologyVersion.version))
                                 .where(MethodologyVersion.methodology_id == methodology.id)) or 0
        version = MethodologyVersion(methodology_id=methodology.id, version=last + 1, status="draft",
                                     revision=1, drafted_by=actor_user_id, drafted_at=utcnow(),
                                     seeded=False, family=None, formula_text=None,
                                     parameters=None, rules=None)
        base = {}
        if based_on is not None:
            source = _lock_version(methodology, based_on)
            base = {"family": source.family, "formula_text": source.formula_text,
                    "parameters": source.parameters, "applicability": source.rules,
                    "daily_cap_g": source.daily_cap_g, "effective_from": source.effective_from,
                    "effective_until": source.effective_until}
        merged = {**base, **content}
        if "family" not in merged or "parameters" not in merged:
            raise ValidationFailed("family and parameters are required (or based_on a version).",
                                   errors={k: ["Missing data for required field."]
                                           for k in ("family", "parameters") if k not in merged})
        merged.setdefault("applicability", {})
        _apply_content(version, methodology, merged)
        db.session.add(version)
        db.session.flush()
        record_audit(action="methodology.version_create", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id,
                     details={"version": version.version, "based_on": based_on,
                              "content": snapshot(version)})
    return version


def update_draft(*, code: str, version: int, changes: Mapping[str, Any], if_match: str | None,
                 actor_user_id: uuid.UUID) -> MethodologyVersion:
    """Edit a draft. `if_match` must be the ETag the editor read (428 without, 412 if stale)."""
    with unit_of_work():
        methodology = _lock_methodology(code)
        row = _lock_version(methodology, version)
        _refuse_unless_draft(row)
        if not if_match:
            raise RevisionRequired("Send If-Match with the ETag of the version you edited.")
        if version_etag(row) not in [tag.strip() for tag in if_match.split(",")]:
            raise StaleRevision("The version changed since you read it; reload and retry.")
        before = snapshot(row)
        _apply_content(row, methodology, changes)
        after = snapshot(row)
        changed = domain.diff_snapshots(before, after)
        if changed:
            row.revision += 1
            record_audit(action="methodology.version_edit", object_type=OBJECT_TYPE,
                         object_id=code, actor_user_id=actor_user_id,
                         details={"version": row.version, "revision": row.revision,
                                  "changes": changed})
    return row


def _refuse_unless_draft(row: MethodologyVersion) -> None:
    if row.status in ("approved", "retired"):
        raise Conflict("Approved versions are immutable; draft a new version instead.",
                       code="version_immutable")
    if row.status != "draft":
        raise Conflict(f"Only drafts can be edited; this version is {row.status}.",
                       code="version_not_draft")


def _transition_refused(row: MethodologyVersion, action: str):
    return Conflict(f"Cannot {action} a version that is {row.status}.", code="invalid_transition")


def submit_version(*, code: str, version: int, actor_user_id: uuid.UUID) -> MethodologyVersion:
    """draft -> submitted: the content is frozen for review."""
    with unit_of_work():
        methodology = _lock_methodology(code)
        row = _lock_version(methodology, version)
        if row.status != "draft":
            raise _transition_refused(row, "submit")
        if row.effective_from is None:
            raise ValidationFailed("Set effective_from before submitting.",
                                   errors={"effective_from": ["Required to submit."]})
        row.status, row.submitted_by, row.submitted_at = "submitted", actor_user_id, utcnow()
        record_audit(action="methodology.version_submit", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id, details={"version": row.version})
    return row


def _authors(code: str, row: MethodologyVersion) -> set[uuid.UUID]:
    """Everyone who drafted, edited or submitted this version (from the audit trail)."""
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == OBJECT_TYPE, AuditEntry.object_id == code,
        AuditEntry.action.in_(("methodology.version_create", "methodology.version_edit",
                               "methodology.version_submit"))))
    authors = {e.actor_user_id for e in entries
               if e.actor_user_id is not None and (e.details or {}).get("version") == row.version}
    return authors | {u for u in (row.drafted_by, row.submitted_by) if u is not None}


def _overlapping(scope: str, row: MethodologyVersion) -> MethodologyVersion | None:
    query = (select(MethodologyVersion).join(MethodologyVersion.methodology)
             .where(Methodology.scope_key == scope, MethodologyVersion.id != row.id,
                    MethodologyVersion.status.in_(IN_FORCE_STATUSES),
                    or_(MethodologyVersion.effective_until.is_(None),
                        MethodologyVersion.effective_until > row.effective_from),
                    or_(MethodologyVersion.effective_until.is_(None),
                        MethodologyVersion.effective_until > MethodologyVersion.effective_from))
             .execution_options(populate_existing=True).limit(1))
    if row.effective_until is not None:
        query = query.where(MethodologyVersion.effective_from < row.effective_until)
    return db.session.scalars(query).one_or_none()


def _lock_scope(scope: str) -> None:
    """Serialise approvals per scope: lock every methodology row of the scope, in id order."""
    db.session.execute(select(Methodology.id).where(Methodology.scope_key == scope)
                       .order_by(Methodology.id).with_for_update()).all()


def _supersede(methodology: Methodology, row: MethodologyVersion, now: dt.datetime,
               actor_user_id: uuid.UUID) -> None:
    """End the version of the same code in force at `row.effective_from` at that instant.
    A same-code version starting at or after it is not replaced (409), nor is history
    rewritten: the switch instant may not be in the past."""
    same_code = db.session.scalars(
        select(MethodologyVersion)
        .where(MethodologyVersion.methodology_id == methodology.id, MethodologyVersion.id != row.id,
               MethodologyVersion.status.in_(IN_FORCE_STATUSES),
               or_(MethodologyVersion.effective_until.is_(None),
                   MethodologyVersion.effective_until > row.effective_from),
               or_(MethodologyVersion.effective_until.is_(None),
                   MethodologyVersion.effective_until > MethodologyVersion.effective_from),
               *([MethodologyVersion.effective_from < row.effective_until]
                 if row.effective_until is not None else []))
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
        scope = db.session.scalar(select(Methodology.scope_key).where(Methodology.code == code))
        if scope is None:
            raise NotFound(f"Methodology {code} not found.", code="methodology_not_found")
        _lock_scope(scope)
        methodology = _lock_methodology(code)
        row = _lock_version(methodology, version)
        if row.status != "submitted":
            raise _transition_refused(row, "approve")
        ensure_independent(decider_id=actor_user_id, requester_ids=_authors(code, row),
                           role="auditor", what="this version (you drafted, edited or submitted it)")
        _supersede(methodology, row, utcnow(), actor_user_id)
        clash = _overlapping(scope, row)
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
        methodology = _lock_methodology(code)
        row = _lock_version(methodology, version)
        if row.status != "submitted":
            raise _transition_refused(row, "reject")
        row.status, row.rejected_by, row.rejected_at = "rejected", actor_user_id, utcnow()
        row.rejection_reason = reason
        record_audit(action="methodology.version_reject", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id, details={"version": row.version, "reason": reason})
    return row


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
               *_in_force_clause(end)).limit(1))
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
    scope = db.session.scalar(select(Methodology.scope_key).where(Methodology.code == code))
    if scope is None:
        raise NotFound(f"Methodology {code} not found.", code="methodology_not_found")
    _lock_scope(scope)
    return scope, _lock_version(_lock_methodology(code), version)


def retire_version(*, code: str, version: int, effective_until: dt.datetime | None = None,
                   reason: str | None = None,
                   actor_user_id: uuid.UUID) -> MethodologyVersion | MethodologyRetirement:
    """approved -> retired: it stops being in force at `effective_until` (default now; never in
    the past, so credits already computed under it stay explained). If it is in force and no
    version takes over at that end, the scope would stop crediting: that is four-eyes, so a
    pending retirement request is returned instead (another person approves it)."""
    now = utcnow()
    asked = _aware(effective_until, "effective_until")
    if (asked or now) < now - dt.timedelta(seconds=5):
        raise ValidationFailed("A version cannot be retired in the past.",
                               errors={"effective_until": ["Must not be in the past."]})
    with unit_of_work():
        scope, row = _lock_for_retirement(code, version)
        if row.status != "approved":
            raise _transition_refused(row, "retire")
        end = _retirement_end(row, asked, now)
        if not _stops_its_scope(scope, row, now, end):
            _retire(code, row, end, actor_user_id, now)
            return row
        pending = _pending_retirement(row)
        if pending is not None:
            return pending
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
            raise _transition_refused(row, "retire")
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


def diff_versions(*, code: str, a: int, b: int) -> dict:
    """What changed from version `a` to version `b` of one methodology."""
    first, second = get_version_or_raise(code=code, version=a), get_version_or_raise(code=code, version=b)
    return {"code": code, "from_version": a, "to_version": b,
            "changes": domain.diff_snapshots(snapshot(first), snapshot(second))}


# --- calculation ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Quantification:
    """What the actions module needs to credit (or refuse) one activity."""

    methodology: Methodology
    version: MethodologyVersion
    calculation: Calculation
    reasons: list[Reason]
    outcome: str  # accept | review | reject
    points: int
    daily_cap_g: Decimal | None

    @property
    def reduction_g(self) -> Decimal:
        return self.calculation.reduction_g

    @property
    def breakdown(self) -> list[dict]:
        return self.calculation.breakdown


def _quantify_with(version: MethodologyVersion, activity: Mapping[str, Any],
                   channel: str) -> Quantification:
    definition = definition_of(version)
    reasons = domain.check_applicability(definition, activity, channel=channel)
    outcome = domain.decide(reasons)
    try:
        calculation = domain.calculate(definition, activity)
    except ValidationFailed:
        if outcome != "reject":
            raise
        calculation = Calculation(reduction_g=domain.quantise_grams(Decimal(0)), breakdown=[])
    points = domain.points_for(calculation.reduction_g, get_settings().points_per_gram)
    return Quantification(methodology=version.methodology, version=version,
                          calculation=calculation, reasons=reasons, outcome=outcome,
                          points=points, daily_cap_g=version.daily_cap_g)


def quantify(*, action_type: str, mode: str | None, occurred_at: dt.datetime,
             activity: Mapping[str, Any], channel: str) -> Quantification:
    """Select the version in force for the scope at `occurred_at`, check applicability and
    compute the reduction and points (409 methodology_not_in_force if none is)."""
    version = get_version_in_force_or_raise(action_type=action_type, mode=mode,
                                            occurred_at=occurred_at)
    return _quantify_with(version, activity, channel)


def quantify_with_version(*, version: MethodologyVersion, activity: Mapping[str, Any],
                          channel: str) -> Quantification:
    """Same as `quantify` with a given version (e.g. re-computing a stored action)."""
    return _quantify_with(version, activity, channel)


def dry_run(*, code: str, version: int | None, occurred_at: dt.datetime | None,
            activity: Mapping[str, Any], channel: str = "partner",
            viewer: User | None) -> Quantification:
    """Calculate without recording anything. Anyone may use approved versions; only admins
    and auditors may target drafts, submitted or rejected versions."""
    methodology = get_methodology_or_raise(code)
    if version is not None:
        row = get_version_or_raise(code=code, version=version)
        if row.status not in PUBLIC_STATUSES and not can_see_unapproved(viewer):
            if viewer is None:
                raise AuthenticationFailed("Sign in as an admin or auditor to dry-run a version "
                                           "that is not approved.", code="token_missing")
            raise PermissionDenied("Only admins and auditors may dry-run unapproved versions.",
                                   code="draft_access")
    else:
        row = _code_version_in_force_or_raise(methodology, occurred_at or utcnow())
    return _quantify_with(row, activity, channel)


# --- seed and invariants ----------------------------------------------------------------------

def seeded_scopes(path: Path = SEED_FILE) -> list[dict]:
    """Scope, code and family of each approved seed version, from the data file (no database):
    what the API documents as the inputs each scope needs out of the box."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [{"scope": scope_key(m["action_type"], m.get("mode")), "code": m["code"],
             "family": v["family"]}
            for m in data["methodologies"] for v in m["versions"] if v["status"] == "approved"]


def seed_methodologies(path: Path = SEED_FILE) -> str:
    """Create the seed methodologies and versions that do not exist yet (idempotent). Seeded
    approvals are recorded with no acting user and details {"seed": true}: the reviewed values
    live in the data file under version control, which is where four-eyes happened."""
    data = json.loads(path.read_text(encoding="utf-8"))
    created, present, skipped = [], 0, []
    with unit_of_work():
        for item in data["methodologies"]:
            code = item["code"]
            _lock_scope(scope_key(item["action_type"], item.get("mode")))
            methodology = get_methodology(code)
            if methodology is None:
                methodology = Methodology(code=code, title=item["title"],
                                          description=item.get("description"),
                                          action_type=item["action_type"], mode=item.get("mode"),
                                          scope_key=scope_key(item["action_type"], item.get("mode")))
                db.session.add(methodology)
                db.session.flush()
                record_audit(action="methodology.create", object_type=OBJECT_TYPE, object_id=code,
                             details={"seed": True, "title": methodology.title,
                                      "action_type": methodology.action_type,
                                      "mode": methodology.mode})
            existing = {v.version for v in list_versions(methodology, include_unapproved=True)}
            for spec in item["versions"]:
                if spec["version"] in existing:
                    present += 1
                    continue
                row = MethodologyVersion(id=uuid.uuid4(), methodology_id=methodology.id,
                                         version=spec["version"], status="draft", revision=1,
                                         seeded=True,
                                         drafted_at=utcnow(), family=None, formula_text=None,
                                         parameters=None, rules=None)
                _apply_content(row, methodology, {k: v for k, v in spec.items()
                                                  if k in CONTENT_FIELDS})
                if spec["status"] == "approved":
                    clash = _overlapping(methodology.scope_key, row)
                    if clash is not None:
                        skipped.append(f"{code} v{spec['version']} (overlaps "
                                       f"{clash.methodology.code} v{clash.version})")
                        continue
                    row.status, row.approved_at = "approved", utcnow()
                elif spec["status"] != "draft":
                    raise ValueError(f"seed status must be approved or draft, got {spec['status']}")
                db.session.add(row)
                db.session.flush()
                record_audit(action="methodology.version_seed", object_type=OBJECT_TYPE,
                             object_id=code, details={"seed": True, "version": row.version,
                                                      "status": row.status,
                                                      "content": snapshot(row)})
                created.append(f"{code} v{row.version} ({row.status})")
    line = f"methodologies: {len(created)} version(s) created"
    if created:
        line += ": " + ", ".join(created)
    line += f"; {present} already present"
    if skipped:
        line += "; SKIPPED " + ", ".join(skipped)
    return line


def check_methodology_invariants() -> list[str]:
    """No two versions in force for one scope at the same instant; approved content parses."""
    problems: list[str] = []
    rows = list(db.session.execute(
        select(Methodology.scope_key, Methodology.code, MethodologyVersion)
        .join(MethodologyVersion.methodology)
        .where(MethodologyVersion.status.in_(IN_FORCE_STATUSES))
        .order_by(Methodology.scope_key, MethodologyVersion.effective_from)))
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    previous: dict[str, tuple[str, MethodologyVersion]] = {}
    for scope, code, row in rows:
        end = row.effective_until or far
        if end <= row.effective_from:
            continue
        before = previous.get(scope)
        if before is not None and (before[1].effective_until or far) > row.effective_from:
            problems.append(f"methodology scope {scope}: {before[0]} v{before[1].version} and "
                            f"{code} v{row.version} are in force at the same time")
        if before is None or (before[1].effective_until or far) < end:
            previous[scope] = (code, row)
        try:
            definition_of(row)
        except ValidationFailed as error:
            problems.append(f"methodology {code} v{row.version}: content invalid: {error.detail}")
    return problems
