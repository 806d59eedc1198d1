"""Authoring: registering a methodology code, drafting versions and editing drafts.

Only drafts are edited, with the revision they were read at (the ETag: 428 without it, 412 if
stale); approved versions are immutable (409 here, a trigger in the database). Every change
writes an audit row in its transaction.
"""
from __future__ import annotations

import uuid
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import methodology as domain
from carbon_credits.domain.errors import Conflict, ValidationFailed
from carbon_credits.domain.methodology import RevisionRequired, StaleRevision
from carbon_credits.domain.vocabulary import ACTION_TYPES, SCOPE_MODE_FIELDS, SCOPE_MODES, scope_key
from carbon_credits.services.audit import record_audit
from carbon_credits.services.methodologies.catalogue import OBJECT_TYPE, snapshot, version_etag
from carbon_credits.services.methodologies.content import apply_content
from carbon_credits.services.methodologies.locks import lock_methodology, lock_version
from carbon_credits.services.uow import unit_of_work
from models import Methodology, MethodologyVersion, db, utcnow


def _check_scope(action_type: str, mode: str | None) -> None:
    """`mode` is the stored sub-scope: a transit mode, or an everyday scene (API: `scene`)."""
    if action_type not in ACTION_TYPES:
        raise ValidationFailed("action_type must be one of " + ", ".join(ACTION_TYPES),
                               errors={"action_type": ["Unknown action type."]})
    modes = SCOPE_MODES.get(action_type)
    field = SCOPE_MODE_FIELDS.get(action_type, "mode")
    if modes is not None and mode not in modes:
        raise ValidationFailed(f"{action_type} methodologies need a {field}: " + ", ".join(modes),
                               errors={field: [f"Required for {action_type}."]})
    if modes is None and mode is not None:
        raise ValidationFailed(f"{action_type} methodologies have no mode, scene or utility",
                               errors={"mode": ["Only for transit (mode), everyday (scene) and "
                                                "household_energy (utility)."]})


def create_methodology(*, code: str, title: str, action_type: str, mode: str | None,
                       description: str | None, actor_user_id: uuid.UUID | None,
                       title_zh: str | None = None) -> Methodology:
    """Register a new methodology code with its scope (and, optionally, its Chinese title)."""
    _check_scope(action_type, mode)
    title_zh = (title_zh or "").strip() or None
    with unit_of_work():
        methodology = Methodology(code=code, title=title.strip(), title_zh=title_zh,
                                  description=description,
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
                     details={"title": methodology.title, "title_zh": title_zh,
                              "action_type": action_type, "mode": mode})
    return methodology


def _content_of(source: MethodologyVersion) -> dict:
    """What `based_on` copies from another version."""
    return {"family": source.family, "formula_text": source.formula_text,
            "parameters": source.parameters, "applicability": source.rules,
            "daily_cap_g": source.daily_cap_g, "effective_from": source.effective_from,
            "effective_until": source.effective_until}


def create_version(*, code: str, content: Mapping[str, Any], based_on: int | None = None,
                   actor_user_id: uuid.UUID | None) -> MethodologyVersion:
    """A new draft version (number = last + 1); `based_on` copies another version's content
    and `content` overrides it field by field."""
    with unit_of_work():
        methodology = lock_methodology(code)
        last = db.session.scalar(select(func.max(MethodologyVersion.version))
                                 .where(MethodologyVersion.methodology_id == methodology.id)) or 0
        version = MethodologyVersion(methodology_id=methodology.id, version=last + 1, status="draft",
                                     revision=1, drafted_by=actor_user_id, drafted_at=utcnow(),
                                     seeded=False, family=None, formula_text=None,
                                     parameters=None, rules=None)
        base = {} if based_on is None else _content_of(lock_version(methodology, based_on))
        merged = {**base, **content}
        if "family" not in merged or "parameters" not in merged:
            raise ValidationFailed("family and parameters are required (or based_on a version).",
                                   errors={k: ["Missing data for required field."]
                                           for k in ("family", "parameters") if k not in merged})
        merged.setdefault("applicability", {})
        apply_content(version, methodology, merged)
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
        methodology = lock_methodology(code)
        row = lock_version(methodology, version)
        _refuse_unless_draft(row)
        if not if_match:
            raise RevisionRequired("Send If-Match with the ETag of the version you edited.")
        if version_etag(row) not in [tag.strip() for tag in if_match.split(",")]:
            raise StaleRevision("The version changed since you read it; reload and retry.")
        before = snapshot(row)
        apply_content(row, methodology, changes)
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
