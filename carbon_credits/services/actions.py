"""Green actions: capture from both channels, verification, deduplication, caps and crediting.

The app's single claim and a partner's batch of up to 1000 records go through one pipeline,
`_process`, inside one unit of work, in four steps: plan (version in force, required inputs,
claim window, quantification), lock (the daily-cap rows), decide (status, overlap, cap, points)
and write (actions, superseded claims, ledger earns). It is set-based: bindings, known record
ids, methodology versions, daily-cap rows and overlapping claims are each read with one query
for the whole batch; actions and ledger postings are written in bulk. The rules themselves are
pure functions in `domain/crediting` and `domain/actions`.

Locking: the `daily_credits` row of (citizen, scope, scheme day) is taken FOR UPDATE, in sorted
order, before overlaps and caps are checked. Two channels reporting the same trip therefore
serialise on that row and the second sees the first: nothing is counted twice.

Review (approve, reject, reverse) is in `services/reviews`, reads in `services/action_reads`;
both are re-exported here for the HTTP layer.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert, select, update

from carbon_credits.config import Settings, get_settings
from carbon_credits.domain import actions as rules
from carbon_credits.domain import crediting
from carbon_credits.domain import methodology as method_domain
from carbon_credits.domain import partners as partner_rules
from carbon_credits.domain.crediting import reason
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import COUNTING_STATUSES, OVERLAP_TYPES
from carbon_credits.services import leaderboards, ledger
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services import partners as partner_service
from carbon_credits.services.action_reads import (get_action_or_raise,  # noqa: F401 (re-exported)
                                                  get_own_action_or_raise, list_actions)
from carbon_credits.services.bindings import resolve_bindings
from carbon_credits.services.claims import (CLOCK_MESSAGE, INPUT_FIELDS, Outcome,  # noqa: F401 (re-exported)
                                            Submission, missing_inputs_reason)
from carbon_credits.services import daily_caps, regions, single_claim
from carbon_credits.services.claim_plans import Plan, action_row, decide
from carbon_credits.services.daily_caps import DailyRow, lock_daily_rows
from carbon_credits.services.methodologies import in_force
from carbon_credits.services.reviews import (approve_action, reject_action,  # noqa: F401 (re-exported)
                                             reverse_action)
from carbon_credits.services.bulk_rows import copy_rows
from carbon_credits.services.statements import run_one
from carbon_credits.services.uow import unit_of_work
from carbon_credits.services.webhooks import emit_many, payloads as webhook_payloads
from models import Action, ActionKey, MethodologyVersion, db, utcnow

ACTIONS = Action.__table__

# --- entry points ---------------------------------------------------------------------------

def record_app_action(*, user_id: uuid.UUID, submission: Submission,
                      citizen_region: regions.CitizenRegion | None = None) -> Action:
    """A citizen's own claim from the app; stored whatever its status, credited when it may be.
    `citizen_region`: the caller's current region as authentication read it (saves a query)."""
    submission.user_id = user_id
    submission.channel = "app"
    with unit_of_work():
        outcome = _process([submission], citizen=citizen_region)[0]
        if outcome.action_id is None:  # refused before anything was written: a plain 422
            refusal = outcome.reasons[0]
            raise ValidationFailed(refusal["message"], code=refusal["code"],
                                   errors={name: [refusal["message"]] for name in refusal["fields"]})
        return outcome.action or db.session.get(Action, outcome.action_id)


def ingest_partner_records(*, partner_id: uuid.UUID, submissions: list[Submission]) -> list[Outcome]:
    """A partner's batch: one outcome per record; a bad record never spoils the rest."""
    with unit_of_work():
        return _process_partner(partner_id, submissions)


def _process_partner(partner_id: uuid.UUID, submissions: list[Submission]) -> list[Outcome]:
    # The shared lock on the partner row orders this batch against scope changes, binding
    # confirmations and withdrawals: all of one is seen, or none, and `now` falls on one side.
    partner = partner_service.lock_partner(partner_id, exclusive=False)
    partner_service.require_data_partner(partner)
    allowed = partner_service.scope_pairs_at(partner_id=partner_id, at=utcnow())
    outcomes: list[Outcome] = []
    in_scope: list[Submission] = []
    for s in submissions:
        s.channel, s.partner_id = "partner", partner_id
        if partner_rules.in_scope(allowed, s.action_type, s.sub_scope):
            in_scope.append(s)
        else:
            what = f"{s.action_type} ({s.sub_scope})" if s.sub_scope else s.action_type
            outcomes.append(Outcome(s.index, "rejected", s.external_id, reasons=[reason(
                "scope_not_allowed", f"This partner may not report {what}.")]))
    # The same record id twice: within the batch, and against what this partner sent before.
    seen: dict[str, Submission] = {}
    known = _known_external_ids(partner_id, [s.external_id for s in in_scope])
    fresh: list[Submission] = []
    for s in in_scope:
        if s.external_id in known:
            action = known[s.external_id]
            outcomes.append(Outcome(s.index, "duplicate", s.external_id, action_id=action.id,
                                    reduction_mg=action.reduction_mg, duplicate_of=action.id,
                                    reasons=[reason("duplicate_record",
                                                    "This record id was already received.", "info")]))
        elif s.external_id in seen:
            outcomes.append(Outcome(s.index, "duplicate", s.external_id,
                                    reasons=[reason("duplicate_record",
                                                    "This record id appears twice in the batch.",
                                                    "info")]))
        else:
            seen[s.external_id] = s
            fresh.append(s)
    # Which binding covers each record's instant (a changed-hands card: the holder at the time).
    found = resolve_bindings(partner_id=partner_id,
                             records=[(s.external_ref, s.occurred_at) for s in fresh])
    bound: list[Submission] = []
    for s, binding in zip(fresh, found):
        if binding is None:
            outcomes.append(Outcome(s.index, "unbound", s.external_id, reasons=[reason(
                "unbound", "No active binding of this card or account covers this record.",
                "info")]))
        elif s.action_type not in binding.scopes:
            outcomes.append(Outcome(s.index, "unbound", s.external_id, reasons=[reason(
                "not_consented", f"The card's holder has not consented to {s.action_type} "
                "records.", "info")]))
        else:
            s.user_id, s.binding_id = binding.user_id, binding.binding_id
            bound.append(s)
    outcomes.extend(_process(bound, partner_region=partner.region))
    return sorted(outcomes, key=lambda o: o.index)


def _known_external_ids(partner_id: uuid.UUID, external_ids: list[str]) -> dict[str, Action]:
    if not external_ids:
        return {}
    # The partner record ids are unique in `action_keys`, the one index that finds them across
    # every month's partition.
    keyed = select(ActionKey.id).where(ActionKey.partner_id == partner_id,
                                       ActionKey.external_id.in_(set(external_ids)))
    return {a.external_id: a for a in db.session.scalars(select(Action)
                                                        .where(Action.id.in_(keyed)))}


# --- the pipeline: plan, lock, decide, write ------------------------------------------------

def _process(subs: list[Submission], *, partner_region: str | None = None,
             citizen: regions.CitizenRegion | None = None) -> list[Outcome]:
    if not subs:
        return []
    regions.assign_regions(subs, partner_region=partner_region, citizen=citizen)
    settings = get_settings()
    now = utcnow()
    if len(subs) == 1 and subs[0].channel == "app":
        return _process_app_claim(subs[0], settings, now)
    versions = in_force.versions_by_scope({s.scope for s in subs})
    plans, refused = _plan(subs, versions, settings, now)  # refused: missing inputs, not stored
    daily, existing = _lock(plans, settings)
    superseded: dict[uuid.UUID, uuid.UUID] = {}
    for plan in plans:
        decide(plan, daily=daily, existing=existing, superseded=superseded,
                points_per_gram=settings.points_per_gram)
    return _write(plans, superseded, daily, settings, now) + refused


def _process_app_claim(sub: Submission, settings: Settings, now: dt.datetime) -> list[Outcome]:
    """Planned with the versions this process has cached, their token confirmed in the first
    group the claim sends anyway (`single_claim`); planned again if the catalogue moved."""
    cached = in_force.cached_by_scope({sub.scope})
    if cached is not None:
        try:
            return _credit_app_claim(sub, *cached, settings, now)
        except in_force.CatalogueChanged:
            pass
    return _credit_app_claim(sub, in_force.versions_by_scope({sub.scope}), None, settings, now)


def _credit_app_claim(sub: Submission, versions: dict, token: str | None, settings: Settings,
                      now: dt.datetime) -> list[Outcome]:
    plans, refused = _plan([sub], versions, settings, now)
    if refused:
        if token is not None:
            in_force.confirm(run_one(*in_force.token_call()), token)
        return refused
    return single_claim.process(plans[0], settings, now, catalogue_token=token)


def _plan(subs: list[Submission], versions: dict, settings: Settings,
          now: dt.datetime) -> tuple[list[Plan], list[Outcome]]:
    """Plan each submission, in the order of its instant: version, inputs, window, quantity."""
    plans: list[Plan] = []
    refused: list[Outcome] = []
    for s in sorted(subs, key=lambda s: (s.occurred_at, s.index)):
        version = crediting.version_in_force(versions.get(s.scope, []), s.occurred_at)
        missing = version and method_domain.missing_inputs(version.family, s.sent_fields())
        if missing:
            refused.append(Outcome(s.index, "rejected", s.external_id,
                                   reasons=[missing_inputs_reason(version, missing)]))
        else:
            plans.append(_plan_one(s, version, settings, now))
    return plans, refused


def _plan_one(s: Submission, version: MethodologyVersion | None, settings: Settings,
              now: dt.datetime) -> Plan:
    plan = Plan(s)
    late = crediting.claim_window_reason(occurred_at=s.occurred_at, now=now,
                                         window_days=settings.claim_window_days)
    if late:
        plan.reasons.append(late)
    if version is None:
        plan.reasons.append(reason("methodology_not_in_force", f"No methodology is in force for "
                                   f"{s.scope} at {s.occurred_at.isoformat()}."))
        return plan
    plan.version = version
    try:
        q = methodology_service.quantify_with_version(version=version, activity=s.activity(),
                                                      channel=s.channel)
    except ValidationFailed as error:
        plan.reasons.append(reason("not_quantifiable", error.detail))
    else:
        plan.quantification = q
        plan.reasons.extend(r.as_dict() for r in q.reasons)
    return plan


def _lock(plans: list[Plan], settings: Settings) -> tuple[dict[tuple, DailyRow], dict]:
    """Lock the daily-cap rows of the claims that may count, then read their rivals."""
    for plan in plans:
        plan.day = rules.scheme_day(plan.sub.occurred_at, settings.scheme_timezone)
    candidates = [p for p in plans if crediting.decide_status(p.reasons) != "rejected"]
    daily = lock_daily_rows({(p.sub.user_id, p.sub.scope, p.day) for p in candidates})
    return daily, _existing_claims([p.sub for p in candidates])


def _existing_claims(subs: list[Submission]) -> dict[tuple, list[rules.Claim]]:
    """Counting claims of the same citizens and scopes whose windows could overlap the batch."""
    timed = [s for s in subs if s.action_type in OVERLAP_TYPES and s.started_at and s.ended_at]
    if not timed:
        return {}
    users = {s.user_id for s in timed}
    scopes = {s.scope for s in timed}
    earliest = min(s.started_at for s in timed) - dt.timedelta(days=1)
    latest = max(s.ended_at for s in timed)
    rows = db.session.execute(
        select(Action.id, Action.user_id, Action.scope_key, Action.channel, Action.status,
               Action.started_at, Action.ended_at)
        .where(Action.user_id.in_(users), Action.scope_key.in_(scopes),
               Action.status.in_(COUNTING_STATUSES),
               Action.started_at < latest, Action.started_at >= earliest))
    found: dict[tuple, list[rules.Claim]] = {}
    for r in rows:
        found.setdefault((r.user_id, r.scope_key), []).append(
            rules.Claim(r.id, r.channel, r.status, r.started_at, r.ended_at))
    return found


def _write(plans: list[Plan], superseded: dict[uuid.UUID, uuid.UUID], daily: dict[tuple, DailyRow],
           settings: Settings, now: dt.datetime) -> list[Outcome]:
    """Count the credits on the daily rows, insert the actions, close the superseded
    self-reports, post the earns."""
    action_rows = [action_row(p, settings, now) for p in plans]
    outcomes = [Outcome(p.sub.index, p.status, p.sub.external_id, action_id=p.id,
                        reduction_mg=p.reduction_mg, points=p.points, reasons=p.reasons,
                        duplicate_of=p.duplicate_of) for p in plans]
    # Deferred, so the events leave with the daily-cap update: no round trip of their own.
    emit_many(webhook_payloads.stored_action_events(action_rows))
    daily_caps.count_credits(daily.values())
    copy_rows(ACTIONS, action_rows)
    for old_id, new_id in superseded.items():
        db.session.execute(update(Action).where(Action.id == old_id, Action.status == "pending_review")
                           .values(status="duplicate", duplicate_of=new_id,
                                   review_reason="superseded by the operator's record"))
    earns = [ledger.EarnEntry(user_id=p.sub.user_id, amount=p.points, external_ref=f"action:{p.id}",
                              action_id=p.id, event_time=p.sub.occurred_at)
             for p in plans if p.points > 0]
    if earns:
        ledger.post_new_earns(earns)  # refs are "action:<id>" of the rows just inserted
    leaderboards.record_after_commit((r["user_id"], r["scheme_day"], r["credited_mg"])
                                     for r in action_rows if r["status"] == "credited")
    return outcomes
