"""Quantifying an activity with a stored version: the prepared-version cache (the parsed
definition, its parameter steps and daily cap, worked out once per version in force), `quantify`
for the claim pipeline and `dry_run` for the public calculator. Nothing here writes."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import select

from carbon_credits.config import get_settings
from carbon_credits.domain import methodology as domain
from carbon_credits.domain.errors import AuthenticationFailed, PermissionDenied, ValidationFailed
from carbon_credits.domain.methodology import Calculation, Definition, Reason
from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES
from carbon_credits.services.methodologies.catalogue import (PUBLIC_STATUSES, can_see_unapproved,
                                                             code_version_in_force_or_raise,
                                                             get_methodology_or_raise,
                                                             get_version_in_force_or_raise,
                                                             get_version_or_raise)
from models import Methodology, MethodologyVersion, User, db, utcnow


def _cache_key(version: MethodologyVersion):
    return (version.id, version.revision, version.status)


@dataclasses.dataclass(frozen=True)
class PreparedVersion:
    """What quantifying with a version needs that depends on the version alone, worked out
    once: the parsed definition with its parameter steps, and the daily cap in grams."""

    calculator: domain.Prepared
    daily_cap_g: Decimal | None

    @property
    def definition(self) -> Definition:
        return self.calculator.definition


_PREPARED: dict[tuple, PreparedVersion] = {}


def prepared_version(version: MethodologyVersion) -> PreparedVersion:
    """The prepared form of a stored version, cached for versions in force: an approved or
    retired version is immutable, and its (id, revision, status) changes with any change."""
    key = _cache_key(version)
    cached = _PREPARED.get(key)  # only in-force keys are ever stored
    if cached is not None:
        return cached
    definition = domain.parse_definition(family=version.family, parameters=version.parameters,
                                         rules=version.rules)
    prepared = PreparedVersion(calculator=domain.prepare(definition),
                               daily_cap_g=version.daily_cap_g)
    if version.status in IN_FORCE_STATUSES:
        if len(_PREPARED) > 1000:
            _PREPARED.clear()
        _PREPARED[key] = prepared
    return prepared


# An action's version is approved or retired, whose parameters the database keeps immutable:
# its parameters, by id, never go stale.
_PARAMETERS: dict[uuid.UUID, Mapping[str, domain.Parameter]] = {}
_VERSIONS = MethodologyVersion.__table__


def full_breakdown(version_id: uuid.UUID | None, stored: list[dict] | None) -> list[dict] | None:
    """An action's breakdown as it was computed: what the action stores (`domain.compact`:
    parameters by name) with each parameter's value, unit and source from its version."""
    if stored is None or version_id is None:
        return stored
    parameters = _PARAMETERS.get(version_id)
    if parameters is None:
        row = db.session.execute(select(_VERSIONS.c.family, _VERSIONS.c.parameters,
                                        _VERSIONS.c.rules)
                                 .where(_VERSIONS.c.id == version_id)).one()
        parameters = domain.parse_definition(family=row.family, parameters=row.parameters,
                                             rules=row.rules).parameters
        if len(_PARAMETERS) > 10_000:
            _PARAMETERS.clear()
        _PARAMETERS[version_id] = parameters
    return domain.expand(stored, parameters)


def definition_of(version: MethodologyVersion) -> Definition:
    """The parsed calculator definition of a stored version (cached for immutable versions)."""
    return prepared_version(version).definition


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
    prepared = prepared_version(version)
    reasons = prepared.calculator.check_applicability(activity, channel=channel)
    outcome = domain.decide(reasons)
    try:
        calculation = prepared.calculator.calculate(activity)
    except ValidationFailed:
        if outcome != "reject":
            raise
        calculation = Calculation(reduction_g=domain.quantise_grams(Decimal(0)), breakdown=[])
    points = domain.points_for(calculation.reduction_g, get_settings().points_per_gram)
    return Quantification(methodology=version.methodology, version=version,
                          calculation=calculation, reasons=reasons, outcome=outcome,
                          points=points, daily_cap_g=prepared.daily_cap_g)


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
        row = code_version_in_force_or_raise(methodology, occurred_at or utcnow())
    return _quantify_with(row, activity, channel)
