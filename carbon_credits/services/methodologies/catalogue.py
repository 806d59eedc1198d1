"""Reading the registry: methodologies, their versions, the version in force, diffs, the
audit trail. Nothing here writes.

Who sees what: approved and retired versions are public; drafts, submitted and rejected
versions are for admins and auditors only.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select

from carbon_credits.domain import crediting
from carbon_credits.domain import methodology as domain
from carbon_credits.domain.errors import Conflict, NotFound
from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES, SCHEME_ROLES, scope_key
from carbon_credits.services.admin_queries import list_audit_entries
from carbon_credits.services.pagination import keyset_after, take_page
from models import Methodology, MethodologyVersion, User, db, utcnow

OBJECT_TYPE = "methodology"  # audit rows: object_type "methodology", object_id the code
PUBLIC_STATUSES = ("approved", "retired")
REVIEWER_ROLES = frozenset(SCHEME_ROLES)  # they see unapproved versions and review them


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


# --- the version in force ----------------------------------------------------------------------
# What "in force" means is written once, in `crediting.is_in_force`. The clause below is its
# SQL form, used only to narrow queries (a page of codes, "does a successor exist"); where one
# version is picked, `crediting.version_in_force` picks it from the narrowed rows.
# tests/integration/test_methodology_in_force_rule.py proves the two agree on the boundaries
# (from inclusive, until exclusive, empty windows, every status).

def in_force_clause(at: dt.datetime):
    """`crediting.is_in_force(version, at)` as SQL criteria on MethodologyVersion."""
    return (MethodologyVersion.status.in_(IN_FORCE_STATUSES),
            MethodologyVersion.effective_from <= at,
            or_(MethodologyVersion.effective_until.is_(None), MethodologyVersion.effective_until > at))


def get_version_in_force(*, action_type: str, mode: str | None,
                         occurred_at: dt.datetime) -> MethodologyVersion | None:
    """The version in force for the scope at `occurred_at` (an action of last March gets last
    March's version, even if another was approved since)."""
    candidates = db.session.scalars(
        select(MethodologyVersion).join(MethodologyVersion.methodology)
        .where(Methodology.scope_key == scope_key(action_type, mode), *in_force_clause(occurred_at)))
    return crediting.version_in_force(candidates, occurred_at)


def get_version_in_force_or_raise(*, action_type: str, mode: str | None,
                                  occurred_at: dt.datetime) -> MethodologyVersion:
    version = get_version_in_force(action_type=action_type, mode=mode, occurred_at=occurred_at)
    if version is None:
        scope = scope_key(action_type, mode)
        raise Conflict(f"No methodology is in force for {scope} at {occurred_at.isoformat()}.",
                       code="methodology_not_in_force")
    return version


def code_version_in_force_or_raise(methodology: Methodology, at: dt.datetime) -> MethodologyVersion:
    """The version of this code in force at `at` (409 methodology_not_in_force if none)."""
    candidates = db.session.scalars(
        select(MethodologyVersion).where(MethodologyVersion.methodology_id == methodology.id,
                                         *in_force_clause(at)))
    version = crediting.version_in_force(candidates, at)
    if version is None:
        raise Conflict(f"No version of {methodology.code} is in force at {at.isoformat()}.",
                       code="methodology_not_in_force")
    return version


# --- pages -------------------------------------------------------------------------------------

def list_methodologies_in_force(*, at: dt.datetime | None = None, after: tuple | None,
                                limit: int) -> tuple[list[tuple[Methodology, MethodologyVersion]], tuple | None]:
    """Methodologies with a version in force at `at` (default now), by code; keyset paginated."""
    at = at or utcnow()
    query = (select(Methodology, MethodologyVersion).join(MethodologyVersion.methodology)
             .where(*in_force_clause(at)).order_by(Methodology.code))
    if after:
        query = query.where(keyset_after([Methodology.code], after, descending=False))
    rows = [tuple(r) for r in db.session.execute(query.limit(limit + 1))]
    return take_page(rows, limit, lambda row: (row[0].code,))


def list_methodologies(*, after: tuple | None, limit: int
                       ) -> tuple[list[tuple[Methodology, list[MethodologyVersion]]], tuple | None]:
    """Every methodology code (admin view), by code, each with all its versions (drafts
    included, by number): two statements per page, whatever its size."""
    query = select(Methodology).order_by(Methodology.code)
    if after:
        query = query.where(keyset_after([Methodology.code], after, descending=False))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    page, last = take_page(rows, limit, lambda m: (m.code,))
    versions = _versions_by_methodology([m.id for m in page])
    return [(m, versions.get(m.id, [])) for m in page], last


def _versions_by_methodology(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[MethodologyVersion]]:
    if not ids:
        return {}
    found: dict[uuid.UUID, list[MethodologyVersion]] = {}
    for version in db.session.scalars(
            select(MethodologyVersion).where(MethodologyVersion.methodology_id.in_(ids))
            .order_by(MethodologyVersion.methodology_id, MethodologyVersion.version)):
        found.setdefault(version.methodology_id, []).append(version)
    return found


def list_audit_log(*, code: str, after: tuple | None, limit: int):
    """The audit trail of one methodology code, newest first."""
    get_methodology_or_raise(code)
    return list_audit_entries(object_type=OBJECT_TYPE, object_id=code, action=None,
                              actor_user_id=None, after=after, limit=limit)


# --- content as shown and compared ------------------------------------------------------------

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


def diff_versions(*, code: str, a: int, b: int) -> dict:
    """What changed from version `a` to version `b` of one methodology."""
    first, second = get_version_or_raise(code=code, version=a), get_version_or_raise(code=code, version=b)
    return {"code": code, "from_version": a, "to_version": b,
            "changes": domain.diff_snapshots(snapshot(first), snapshot(second))}
