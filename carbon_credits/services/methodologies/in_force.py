"""The methodology versions that can be in force (approved, or retired until their end), cached
in each process and checked against the database on every use.

A credit needs the versions of its scope. Loading them into ORM objects on every request was a
large part of a credit's cost, so each process keeps plain snapshots of all of them under the
catalogue's revision token (`catalogue_revision`, renewed by a trigger on every change to
methodologies or versions, migration 0012). Each use reads the token (one short statement) and
reloads everything when it differs, so a version approved or retired by any worker is seen by
every other on its next request. A reload found inside a transaction is kept only once that
transaction commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from decimal import Decimal

from sqlalchemy import select, text

from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES, sql_in
from carbon_credits.services.statements import Statement, run_one
from carbon_credits.services.uow import after_commit
from models import CatalogueRevision, Methodology, MethodologyVersion, db


@dataclasses.dataclass(frozen=True)
class MethodologyRef:
    id: uuid.UUID
    code: str
    title: str
    scope_key: str
    action_type: str
    mode: str | None


@dataclasses.dataclass(frozen=True)
class VersionInForce:
    """A version as the credit path reads it: the attributes of `MethodologyVersion` it uses."""

    id: uuid.UUID
    methodology_id: uuid.UUID
    version: int
    status: str
    family: str
    parameters: dict
    rules: dict
    daily_cap_mg: int | None
    effective_from: dt.datetime | None
    effective_until: dt.datetime | None
    revision: int
    methodology: MethodologyRef

    @property
    def daily_cap_g(self) -> Decimal | None:
        return None if self.daily_cap_mg is None else Decimal(self.daily_cap_mg) / 1000


_VERSIONS, _METHODOLOGIES = MethodologyVersion.__table__, Methodology.__table__
_TOKEN = CatalogueRevision.__table__.c.token
_VERSION_COLUMNS = tuple(f.name for f in dataclasses.fields(VersionInForce)
                         if f.name != "methodology")
_REF_COLUMNS = tuple(f.name for f in dataclasses.fields(MethodologyRef))

_READ_TOKEN = Statement(select(_TOKEN), name="catalogue token")
# The versions and the token in one statement: one snapshot, so the token names what was read.
_LOAD = Statement(
    select(*(_VERSIONS.c[name] for name in _VERSION_COLUMNS),
           *(_METHODOLOGIES.c[name].label(f"m_{name}") for name in _REF_COLUMNS),
           select(_TOKEN).scalar_subquery().label("token"))
    .join_from(_VERSIONS, _METHODOLOGIES, _METHODOLOGIES.c.id == _VERSIONS.c.methodology_id)
    .where(text(sql_in("methodology_versions.status", IN_FORCE_STATUSES)))
    .order_by(_VERSIONS.c.effective_from.desc()), name="versions in force")

_lock = threading.Lock()
_cache: dict[str, tuple[str, dict[str, list[VersionInForce]]]] = {}


def forget() -> None:
    """Drop every cached catalogue (tests that reset the database)."""
    with _lock:
        _cache.clear()


class CatalogueChanged(Exception):
    """The cached catalogue a claim was planned with is no longer current: plan it again."""


def cached_by_scope(scopes: set[str]) -> tuple[dict[str, list[VersionInForce]], str] | None:
    """What this process last loaded, without asking the database, and the token it was
    loaded under; the caller confirms the token (`token_call`, `confirm`) in a group it sends
    anyway. None when nothing is cached yet."""
    cached = _cache.get(str(db.engine.url))
    if cached is None:
        return None
    return {scope: cached[1].get(scope, []) for scope in scopes}, cached[0]


def token_call() -> tuple[Statement, dict]:
    return _READ_TOKEN, {}


def confirm(rows, token: str) -> None:
    """Raise `CatalogueChanged` unless the token read is the one the cache was loaded under."""
    if not rows or rows[0].token != token:
        raise CatalogueChanged()


def versions_by_scope(scopes: set[str]) -> dict[str, list[VersionInForce]]:
    """Scope -> its versions that can be in force, newest start first (the token read now)."""
    database = str(db.engine.url)
    rows = run_one(_READ_TOKEN, {})
    token = rows[0].token if rows else None
    cached = _cache.get(database)
    if token is None or cached is None or cached[0] != token:
        cached = _load(database)
    return {scope: cached[1].get(scope, []) for scope in scopes}


def _load(database: str) -> tuple[str | None, dict[str, list[VersionInForce]]]:
    rows = run_one(_LOAD, {})
    by_scope: dict[str, list[VersionInForce]] = {}
    token = None
    for row in rows:
        token = row.token
        ref = MethodologyRef(**{name: getattr(row, f"m_{name}") for name in _REF_COLUMNS})
        by_scope.setdefault(ref.scope_key, []).append(VersionInForce(
            **{name: getattr(row, name) for name in _VERSION_COLUMNS}, methodology=ref))
    loaded = (token, by_scope)
    if token is not None:
        def keep():
            with _lock:
                _cache[database] = loaded
        after_commit(keep)
    return loaded
