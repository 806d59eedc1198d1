"""One submission on its way through the claim pipeline (`services/actions`, and its single-claim
form `services/single_claim`): what planning found, the decision against the locked daily row and
earlier claims, and the row stored for it."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from carbon_credits.config import Settings
from carbon_credits.domain import actions as rules
from carbon_credits.domain import crediting
from carbon_credits.domain import methodology as method_domain
from carbon_credits.domain.crediting import reason
from carbon_credits.domain.vocabulary import COUNTING_STATUSES, OVERLAP_TYPES
from carbon_credits.services.claims import Submission
from carbon_credits.services.daily_caps import DailyRow, credit_on_row


@dataclasses.dataclass
class Plan:
    """One submission on its way through the pipeline: what planning found, then the decision."""

    sub: Submission
    id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    reasons: list[dict] = dataclasses.field(default_factory=list)
    version: Any = None  # a methodology version in force (services/methodologies/in_force)
    quantification: Any = None
    day: dt.date | None = None  # the scheme day of the action's instant
    status: str = "rejected"
    duplicate_of: uuid.UUID | None = None
    credited_mg: int = 0
    points: int = 0

    @property
    def reduction_mg(self) -> int | None:
        q = self.quantification
        return rules.grams_to_mg(q.calculation.reduction_g) if q else None


def decide(plan: Plan, *, daily: dict[tuple, DailyRow], existing: dict[tuple, list],
            superseded: dict[uuid.UUID, uuid.UUID], points_per_gram: int) -> None:
    """Status from the reasons, then overlap against earlier claims, then the daily cap."""
    s = plan.sub
    plan.status = crediting.decide_status(plan.reasons)
    if plan.status != "rejected" and s.action_type in OVERLAP_TYPES:
        _check_overlap(plan, existing.setdefault((s.user_id, s.scope), []), superseded)
    if plan.status == "credited":
        credit = credit_on_row(daily[(s.user_id, s.scope, plan.day)], reduction_mg=plan.reduction_mg,
                               cap_mg=plan.version.daily_cap_mg, points_per_gram=points_per_gram)
        if credit.cap_reason:
            plan.reasons.append(credit.cap_reason)
        plan.credited_mg, plan.points = credit.credited_mg, credit.points


def _check_overlap(plan: Plan, claims: list[rules.Claim],
                   superseded: dict[uuid.UUID, uuid.UUID]) -> None:
    """`claims` (the citizen's in the scope) learns of this one when it counts."""
    s = plan.sub
    verdict, other = rules.find_overlap(
        rules.Claim(plan.id, s.channel, plan.status, s.started_at, s.ended_at), claims)
    if verdict == "duplicate":
        plan.status, plan.duplicate_of = "duplicate", other.id
        plan.reasons.append(reason("overlapping_claim", "The same trip or session was already "
                                   "reported.", "info"))
    elif verdict == "supersedes":
        superseded[other.id] = plan.id
        claims.remove(other)
    if plan.status in COUNTING_STATUSES:
        claims.append(rules.Claim(plan.id, s.channel, plan.status, s.started_at, s.ended_at))


def action_row(plan: Plan, settings: Settings, now: dt.datetime) -> dict:
    s, version, q = plan.sub, plan.version, plan.quantification
    return {
        "id": plan.id, "user_id": s.user_id, "channel": s.channel, "partner_id": s.partner_id,
        "binding_id": s.binding_id,
        "external_id": s.external_id, "action_type": s.action_type, "mode": s.sub_scope,
        "category": s.category, "scope_key": s.scope, "occurred_at": s.occurred_at,
        "started_at": s.started_at, "ended_at": s.ended_at, "scheme_day": plan.day,
        "inputs": s.inputs(), "status": plan.status, "reasons": plan.reasons,
        "methodology_version_id": version.id if version else None,
        "methodology_code": version.methodology.code if version else None,
        "methodology_version": version.version if version else None,
        "breakdown": method_domain.compact(q.calculation.breakdown) if q else None,
        "reduction_mg": plan.reduction_mg, "credited_mg": plan.credited_mg, "points": plan.points,
        "points_per_gram": settings.points_per_gram, "duplicate_of": plan.duplicate_of,
        "credited_at": now if plan.status == "credited" else None, "created_at": now,
        "region": s.region,
    }
