"""The seed methodologies (carbon_credits/data/seed_methodologies.json): loading them
idempotently, and the scopes they cover out of the box."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from carbon_credits.domain.vocabulary import scope_key
from carbon_credits.services.audit import record_audit
from carbon_credits.services.methodologies.catalogue import (OBJECT_TYPE, get_methodology,
                                                             list_versions, snapshot)
from carbon_credits.services.methodologies.content import CONTENT_FIELDS, apply_content
from carbon_credits.services.methodologies.locks import lock_scope
from carbon_credits.services.methodologies.review import overlapping
from carbon_credits.services.uow import unit_of_work
from models import Methodology, MethodologyVersion, db, utcnow

SEED_FILE = Path(__file__).resolve().parents[2] / "data" / "seed_methodologies.json"


def _mode(item: dict) -> str | None:
    """The stored sub-scope of a seed item: its transit `mode`, everyday `scene` or metered
    `utility`."""
    return item.get("mode") or item.get("scene") or item.get("utility")


def _scope(item: dict) -> str:
    return scope_key(item["action_type"], _mode(item))


def seeded_scopes(path: Path = SEED_FILE) -> list[dict]:
    """Scope, code and family of each approved seed version, from the data file (no database):
    what the API documents as the inputs each scope needs out of the box."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [{"scope": _scope(m), "code": m["code"],
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
            lock_scope(_scope(item))
            methodology = _seed_methodology(item)
            existing = {v.version for v in list_versions(methodology, include_unapproved=True)}
            for spec in item["versions"]:
                if spec["version"] in existing:
                    present += 1
                    continue
                row, clash = _seed_version(methodology, spec)
                if clash is not None:
                    skipped.append(f"{methodology.code} v{spec['version']} (overlaps "
                                   f"{clash.methodology.code} v{clash.version})")
                else:
                    created.append(f"{methodology.code} v{row.version} ({row.status})")
    line = f"methodologies: {len(created)} version(s) created"
    if created:
        line += ": " + ", ".join(created)
    line += f"; {present} already present"
    if skipped:
        line += "; SKIPPED " + ", ".join(skipped)
    return line


def _seed_methodology(item: dict) -> Methodology:
    """The seed item's methodology, created (with its audit row) if it does not exist yet."""
    code = item["code"]
    methodology = get_methodology(code)
    if methodology is not None:
        _add_chinese_title(methodology, item)
        return methodology
    methodology = Methodology(code=code, title=item["title"], title_zh=item.get("title_zh"),
                              description=item.get("description"),
                              action_type=item["action_type"], mode=_mode(item),
                              scope_key=_scope(item))
    db.session.add(methodology)
    db.session.flush()
    record_audit(action="methodology.create", object_type=OBJECT_TYPE, object_id=code,
                 details={"seed": True, "title": methodology.title,
                          "title_zh": methodology.title_zh,
                          "action_type": methodology.action_type, "mode": methodology.mode})
    return methodology


def _add_chinese_title(methodology: Methodology, item: dict) -> None:
    """A methodology seeded before Chinese titles existed (migration 0026) gets the file's
    one; a title already there is never overwritten."""
    if methodology.title_zh is None and item.get("title_zh"):
        methodology.title_zh = item["title_zh"]
        record_audit(action="methodology.title_zh", object_type=OBJECT_TYPE,
                     object_id=methodology.code,
                     details={"seed": True, "title_zh": methodology.title_zh})


def _seed_version(methodology: Methodology,
                  spec: dict) -> tuple[MethodologyVersion, MethodologyVersion | None]:
    """Store one seed version (with its audit row), unless an approved one would overlap a
    version in force for its scope: then nothing is stored and the clash is returned."""
    row = MethodologyVersion(id=uuid.uuid4(), methodology_id=methodology.id,
                             version=spec["version"], status="draft", revision=1, seeded=True,
                             drafted_at=utcnow(), family=None, formula_text=None,
                             parameters=None, rules=None)
    apply_content(row, methodology, {k: v for k, v in spec.items() if k in CONTENT_FIELDS})
    if spec["status"] == "approved":
        clash = overlapping(methodology.scope_key, row)
        if clash is not None:
            return row, clash
        row.status, row.approved_at = "approved", utcnow()
    elif spec["status"] != "draft":
        raise ValueError(f"seed status must be approved or draft, got {spec['status']}")
    db.session.add(row)
    db.session.flush()
    record_audit(action="methodology.version_seed", object_type=OBJECT_TYPE,
                 object_id=methodology.code,
                 details={"seed": True, "version": row.version, "status": row.status,
                          "content": snapshot(row)})
    return row, None
