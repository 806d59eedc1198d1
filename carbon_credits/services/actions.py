"""Green actions: capture from both channels, verification, deduplication, caps and crediting.

The app's single claim and a partner's batch of up to 1000 records go through one pipeline,
`_process`, inside one unit of work. It is set-based: bindings, known record ids, methodology
versions, daily-cap rows and overlapping claims are each read with one query for the whole
batch; actions and ledger postings are written in bulk.

Locking: the `daily_credits` row of (citizen, scope, scheme day) is taken FOR UPDATE, in sorted
order, before overlaps and caps are checked. Two channels reporting the same trip therefore
serialise on that row and the second sees the first: nothing is counted twice.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.config import get_settings
from carbon_credits.domain import actions as rules
from carbon_credits.domain import methodology as method_domain
from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from carbon_credits.services import certificates, leaderboards, ledger
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services.audit import record_audit
from carbon_credits.domain import partners as partner_rules
from carbon_credits.services import partners as partner_service
from carbon_credits.services.bindings import resolve_bindings
from carbon_credits.services.pagination import keyset_after, take_page
from carbon_credits.services.uow import unit_of_work
from models import Action, DailyCredit, Methodology, MethodologyVersion, db, utcnow

OVERLAP_TYPES = ("transit", "ev_charging")  # trips and charging sessions have time windows
CLOCK_MESSAGE = (f"Must agree with ended_at within {rules.CLOCK_TOLERANCE.seconds // 60} minutes "
                 "(a timed action happens when it ends); or leave it out.")
COUNTING_STATUSES = ("credited", "pending_review")
INPUT_FIELDS = ("mode", "category", "station_id", "distance_km", "energy_kwh", "weight_kg",
                "boardings", "started_at", "ended_at")


@dataclasses.dataclass
class Submission:
    """A validated claim: from the app (user known) or a partner record (bound to a user)."""

    action_type: str
    channel: str
    occurred_at: dt.datetime | None = None  # as sent; after __post_init__ the action's instant
    user_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    binding_id: uuid.UUID | None = None  # the card's binding that routed a partner record
    external_id: str | None = None
    external_ref: str | None = None
    mode: str | None = None
    category: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    distance_km: Decimal | None = None
    energy_kwh: Decimal | None = None
    weight_kg: Decimal | None = None
    boardings: int | None = None
    station_id: str | None = None
    index: int = 0
    reported_occurred_at: dt.datetime | None = dataclasses.field(default=None, init=False)

    def __post_init__(self):
        # One clock: a windowed action happens when it ends. The sent value is kept with the
        # inputs; everything downstream (window, version, scheme day, overlap) reads the instant.
        if not rules.clocks_agree(occurred_at=self.occurred_at, ended_at=self.ended_at):
            raise ValidationFailed("occurred_at must agree with ended_at.",
                                   errors={"occurred_at": [CLOCK_MESSAGE]})
        self.reported_occurred_at = self.occurred_at
        self.occurred_at = rules.action_instant(occurred_at=self.occurred_at,
                                                ended_at=self.ended_at)

    @property
    def scope(self) -> str:
        return rules.scope_key(self.action_type, self.mode)

    def sent_fields(self) -> set[str]:
        """The claim fields present, for `required_inputs` (the instant is always known)."""
        return {name for name in INPUT_FIELDS if getattr(self, name) is not None} | {"occurred_at"}

    def activity(self) -> dict[str, Any]:
        data = {"started_at": self.started_at, "ended_at": self.ended_at, "category": self.category}
        for name in ("distance_km", "energy_kwh", "weight_kg", "boardings"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    def inputs(self) -> dict[str, Any]:
        """The claim as received, decimals as strings, for the stored action."""
        data = {}
        for name in (*INPUT_FIELDS, "occurred_at"):
            value = getattr(self, "reported_occurred_at" if name == "occurred_at" else name)
            if value is None:
                continue
            data[name] = value.isoformat() if isinstance(value, dt.datetime) else (
                format(value, "f") if isinstance(value, Decimal) else value)
        return data


@dataclasses.dataclass
class Outcome:
    index: int
    status: str  # credited | pending_review | rejected | duplicate | unbound
    external_id: str | None = None
    action_id: uuid.UUID | None = None
    reduction_mg: int | None = None
    points: int = 0
    reasons: list = dataclasses.field(default_factory=list)
    duplicate_of: uuid.UUID | None = None
    action: Action | None = None  # the stored row, when the insert returned it (single claims)


def _reason(code: str, message: str, outcome: str = "reject") -> dict:
    return {"code": code, "message": message, "outcome": outcome}


# --- entry points ---------------------------------------------------------------------------

def record_app_action(*, user_id: uuid.UUID, submission: Submission) -> Action:
    """A citizen's own claim from the app; stored whatever its status, credited when it may be."""
    submission.user_id = user_id
    submission.channel = "app"
    with unit_of_work():
        outcome = _process([submission])[0]
        if outcome.action_id is None:  # refused before anything was written: a plain 422
            reason = outcome.reasons[0]
            raise ValidationFailed(reason["message"], code=reason["code"],
                                   errors={name: [reason["message"]] for name in reason["fields"]})
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
        if partner_rules.in_scope(allowed, s.action_type, s.mode):
            in_scope.append(s)
        else:
            what = f"{s.action_type} ({s.mode})" if s.mode else s.action_type
            outcomes.append(Outcome(s.index, "rejected", s.external_id, reasons=[_reason(
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
                                    reasons=[_reason("duplicate_record",
                                                     "This record id was already received.", "info")]))
        elif s.external_id in seen:
            outcomes.append(Outcome(s.index, "duplicate", s.external_id,
                                    reasons=[_reason("duplicate_record",
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
            outcomes.append(Outcome(s.index, "unbound", s.external_id, reasons=[_reason(
                "unbound", "No active binding of this card or account covers this record.",
                "info")]))
        elif s.action_type not in binding.scopes:
            outcomes.append(Outcome(s.index, "unbound", s.external_id, reasons=[_reason(
                "not_consented", f"The card's holder has not consented to {s.action_type} "
                "records.", "info")]))
        else:
            s.user_id, s.binding_id = binding.user_id, binding.binding_id
            bound.append(s)
    outcomes.extend(_process(bound))
    return sorted(outcomes, key=lambda o: o.index)


def _known_external_ids(partner_id: uuid.UUID, external_ids: list[str]) -> dict[str, Action]:
    if not external_ids:
        return {}
    rows = db.session.scalars(select(Action).where(Action.partner_id == partner_id,
                                                   Action.external_id.in_(set(external_ids))))
    return {a.external_id: a for a in rows}


# --- the pipeline -------------------------------------------------------------------------

def _versions_by_scope(scopes: set[str]) -> dict[str, list[MethodologyVersion]]:
    rows = db.session.scalars(
        select(MethodologyVersion).join(MethodologyVersion.methodology)
        .where(Methodology.scope_key.in_(scopes),
               MethodologyVersion.status.in_(methodology_service.IN_FORCE_STATUSES))
        .order_by(MethodologyVersion.effective_from.desc()))
    found: dict[str, list[MethodologyVersion]] = {}
    for version in rows:
        found.setdefault(version.methodology.scope_key, []).append(version)
    return found


def _in_force(versions: list[MethodologyVersion], at: dt.datetime) -> MethodologyVersion | None:
    """Same rule as methodologies.get_version_in_force, applied to preloaded rows."""
    for v in versions:
        if v.effective_from is not None and v.effective_from <= at and (
                v.effective_until is None or v.effective_until > at):
            return v
    return None


def _lock_daily_rows(keys: set[tuple]) -> dict[tuple, DailyCredit]:
    """Create the (user, scope, day) rows if missing and lock them, in one statement.

    An upsert whose conflict branch rewrites the row unchanged takes the row lock the way
    SELECT ... FOR UPDATE would, and RETURNING hands back the current value under that lock.
    Rows are listed in sorted order, so two batches lock them in the same order."""
    if not keys:
        return {}
    ordered = sorted(keys, key=lambda k: (str(k[0]), k[1], k[2]))
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(DailyCredit).values(
        [{"user_id": u, "scope_key": s, "scheme_day": d, "credited_mg": 0} for u, s, d in ordered])
    stmt = stmt.on_conflict_do_update(
        index_elements=[DailyCredit.user_id, DailyCredit.scope_key, DailyCredit.scheme_day],
        set_={"credited_mg": DailyCredit.credited_mg})
    rows = db.session.scalars(stmt.returning(DailyCredit)
                              .execution_options(populate_existing=True))
    return {(r.user_id, r.scope_key, r.scheme_day): r for r in rows}


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


def _process(subs: list[Submission]) -> list[Outcome]:
    if not subs:
        return []
    settings = get_settings()
    now = utcnow()
    window_start = now - dt.timedelta(days=settings.claim_window_days)
    versions = _versions_by_scope({s.scope for s in subs})
    planned: list[tuple[Submission, dict]] = []
    refused: list[Outcome] = []  # missing inputs: like invalid input, nothing is stored
    for s in sorted(subs, key=lambda s: (s.occurred_at, s.index)):
        plan = {"id": uuid.uuid4(), "reasons": [], "version": None, "quantification": None}
        version = _in_force(versions.get(s.scope, []), s.occurred_at)
        missing = version and method_domain.missing_inputs(version.family, s.sent_fields())
        if missing:
            refused.append(Outcome(s.index, "rejected", s.external_id,
                                   reasons=[_missing_inputs_reason(version, missing)]))
            continue
        if s.occurred_at < window_start:
            plan["reasons"].append(_reason("claim_window_expired",
                                           f"Claims must arrive within {settings.claim_window_days} "
                                           "days of the action."))
        if version is None:
            plan["reasons"].append(_reason("methodology_not_in_force",
                                           f"No methodology is in force for {s.scope} at "
                                           f"{s.occurred_at.isoformat()}."))
        else:
            plan["version"] = version
            try:
                q = methodology_service.quantify_with_version(version=version, activity=s.activity(),
                                                              channel=s.channel)
            except ValidationFailed as error:
                plan["reasons"].append(_reason("not_quantifiable", error.detail))
            else:
                plan["quantification"] = q
                plan["reasons"].extend(r.as_dict() for r in q.reasons)
        planned.append((s, plan))

    candidates = [(s, p) for s, p in planned if not _rejects(p)]
    day_of = {id(s): rules.scheme_day(s.occurred_at, settings.scheme_timezone) for s, _ in planned}
    daily = _lock_daily_rows({(s.user_id, s.scope, day_of[id(s)]) for s, _ in candidates})
    existing = _existing_claims([s for s, _ in candidates])

    outcomes: list[Outcome] = []
    action_rows: list[dict] = []
    superseded: dict[uuid.UUID, uuid.UUID] = {}
    earns: list[ledger.EarnEntry] = []
    touched_daily: set[tuple] = set()
    for s, plan in planned:
        status = "rejected" if _rejects(plan) else (
            "pending_review" if any(r["outcome"] == "review" for r in plan["reasons"]) else "credited")
        duplicate_of = None
        if status != "rejected" and s.action_type in OVERLAP_TYPES:
            claims = existing.setdefault((s.user_id, s.scope), [])
            verdict, other = rules.find_overlap(
                rules.Claim(plan["id"], s.channel, status, s.started_at, s.ended_at), claims)
            if verdict == "duplicate":
                status, duplicate_of = "duplicate", other.id
                plan["reasons"].append(_reason("overlapping_claim", "The same trip or session "
                                               "was already reported.", "info"))
            elif verdict == "supersedes":
                superseded[other.id] = plan["id"]
                claims.remove(other)
            if status in COUNTING_STATUSES:
                claims.append(rules.Claim(plan["id"], s.channel, status, s.started_at, s.ended_at))
        q = plan["quantification"]
        reduction_mg = rules.grams_to_mg(q.calculation.reduction_g) if q else None
        credited_mg = points = 0
        if status == "credited":
            key = (s.user_id, s.scope, day_of[id(s)])
            row = daily[key]
            credited_mg = rules.allowed_under_cap(reduction_mg=reduction_mg, used_mg=row.credited_mg,
                                                  cap_mg=plan["version"].daily_cap_mg)
            if credited_mg < reduction_mg:
                plan["reasons"].append(_reason(
                    "daily_cap_reached",
                    f"Daily cap of {rules.mg_to_grams(plan['version'].daily_cap_mg)} g for {s.scope} "
                    f"reached: {rules.mg_to_grams(reduction_mg - credited_mg)} g not credited.", "info"))
            row.credited_mg += credited_mg
            touched_daily.add(key)
            points = method_domain.points_for(rules.mg_to_grams(credited_mg), settings.points_per_gram)
            if points > 0:
                earns.append(ledger.EarnEntry(user_id=s.user_id, amount=points,
                                              external_ref=f"action:{plan['id']}",
                                              action_id=plan["id"], event_time=s.occurred_at))
        version = plan["version"]
        action_rows.append({
            "id": plan["id"], "user_id": s.user_id, "channel": s.channel, "partner_id": s.partner_id,
            "binding_id": s.binding_id,
            "external_id": s.external_id, "action_type": s.action_type, "mode": s.mode,
            "category": s.category, "scope_key": s.scope, "occurred_at": s.occurred_at,
            "started_at": s.started_at, "ended_at": s.ended_at, "scheme_day": day_of[id(s)],
            "inputs": s.inputs(), "status": status, "reasons": plan["reasons"],
            "methodology_version_id": version.id if version else None,
            "methodology_code": version.methodology.code if version else None,
            "methodology_version": version.version if version else None,
            "breakdown": q.calculation.breakdown if q else None,
            "reduction_mg": reduction_mg, "credited_mg": credited_mg, "points": points,
            "points_per_gram": settings.points_per_gram, "duplicate_of": duplicate_of,
            "credited_at": now if status == "credited" else None, "created_at": now,
        })
        outcomes.append(Outcome(s.index, status, s.external_id, action_id=plan["id"],
                                reduction_mg=reduction_mg, points=points, reasons=plan["reasons"],
                                duplicate_of=duplicate_of))

    if len(action_rows) == 1:
        # A single claim (the app): RETURNING hands back the stored row, so the caller's
        # read-back costs no query. A batch skips it: it builds its results from action_rows.
        outcomes[0].action = db.session.scalars(insert(Action).returning(Action), action_rows).one()
    elif action_rows:
        db.session.execute(insert(Action), action_rows)
    if superseded:
        for old_id, new_id in superseded.items():
            db.session.execute(update(Action).where(Action.id == old_id,
                                                    Action.status == "pending_review")
                               .values(status="duplicate", duplicate_of=new_id,
                                       review_reason="superseded by the operator's record"))
    if earns:
        ledger.post_new_earns(earns)  # refs are "action:<id>" of the rows just inserted
    leaderboards.record_after_commit((r["user_id"], r["scheme_day"], r["credited_mg"])
                                     for r in action_rows if r["status"] == "credited")
    return outcomes + refused


def _missing_inputs_reason(version: MethodologyVersion, missing: list[str]) -> dict:
    ref = f"{version.methodology.code} v{version.version} ({version.family})"
    return {**_reason("missing_inputs", f"{', '.join(missing)} required by {ref}."),
            "fields": missing}


def _rejects(plan: dict) -> bool:
    return any(r["outcome"] == "reject" for r in plan["reasons"])


# --- reads ---------------------------------------------------------------------------------

def get_own_action_or_raise(*, user_id: uuid.UUID, action_id: uuid.UUID) -> Action:
    action = db.session.get(Action, action_id)
    if action is None or action.user_id != user_id:
        raise NotFound("Action not found.")
    return action


def get_action_or_raise(action_id: uuid.UUID) -> Action:
    action = db.session.get(Action, action_id)
    if action is None:
        raise NotFound("Action not found.")
    return action


def list_actions(*, user_id: uuid.UUID | None, action_type: str | None = None,
                 status: str | None = None, occurred_from: dt.datetime | None = None,
                 occurred_to: dt.datetime | None = None, after: tuple | None = None,
                 limit: int = 50):
    """Newest first, keyset-paginated; `user_id=None` lists everyone's (auditors)."""
    query = select(Action).order_by(Action.created_at.desc(), Action.id.desc())
    if user_id is not None:
        query = query.where(Action.user_id == user_id)
    if action_type:
        query = query.where(Action.action_type == action_type)
    if status:
        query = query.where(Action.status == status)
    if occurred_from:
        query = query.where(Action.occurred_at >= occurred_from)
    if occurred_to:
        query = query.where(Action.occurred_at < occurred_to)
    if after:
        query = query.where(keyset_after([Action.created_at, Action.id], after))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda a: (a.created_at.isoformat(), a.id))


# --- review -------------------------------------------------------------------------------

def _lock_action(action_id: uuid.UUID) -> Action:
    action = db.session.execute(select(Action).where(Action.id == action_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one_or_none()
    if action is None:
        raise NotFound("Action not found.")
    return action


def _refuse_own_review(action: Action, actor_user_id: uuid.UUID) -> None:
    """An auditor who also holds `citizen` never decides their own claims (four-eyes)."""
    if action.user_id == actor_user_id:
        raise PermissionDenied("This is your own claim; another auditor must review it.",
                               code="four_eyes")


def approve_action(*, action_id: uuid.UUID, actor_user_id: uuid.UUID, note: str | None = None) -> Action:
    """Credit a pending claim with the methodology in force at its instant, within the cap of
    the scheme day it happened (a windowed action: when it ended)."""
    settings = get_settings()
    with unit_of_work():
        action = _lock_action(action_id)
        if action.status != "pending_review":
            raise Conflict(f"Only pending actions can be approved; this one is {action.status}.",
                           code="action_not_pending")
        _refuse_own_review(action, actor_user_id)
        submission = _submission_from(action)
        # Rows stored before the one-clock rule may carry a sent occurred_at: re-derive both.
        action.occurred_at = submission.occurred_at
        action.scheme_day = rules.scheme_day(submission.occurred_at, settings.scheme_timezone)
        version = methodology_service.get_version_in_force_or_raise(
            action_type=action.action_type, mode=action.mode, occurred_at=submission.occurred_at)
        missing = method_domain.missing_inputs(version.family, submission.sent_fields())
        if missing:
            raise Conflict("The claim lacks inputs the methodology in force needs; reject it.",
                           code="action_not_creditable",
                           errors={"reasons": [_missing_inputs_reason(version, missing)["message"]]})
        q = methodology_service.quantify_with_version(version=version, activity=submission.activity(),
                                                      channel="partner")
        if q.outcome == "reject":
            raise Conflict("The claim fails the methodology's rules; reject it instead.",
                           code="action_not_creditable",
                           errors={"reasons": [r.message for r in q.reasons]})
        daily = _lock_daily_rows({(action.user_id, action.scope_key, action.scheme_day)})
        row = daily[(action.user_id, action.scope_key, action.scheme_day)]
        reduction_mg = rules.grams_to_mg(q.calculation.reduction_g)
        credited_mg = rules.allowed_under_cap(reduction_mg=reduction_mg, used_mg=row.credited_mg,
                                              cap_mg=version.daily_cap_mg)
        row.credited_mg += credited_mg
        reasons = list(action.reasons or [])
        if credited_mg < reduction_mg:
            reasons.append(_reason("daily_cap_reached",
                                   f"Daily cap reached: {rules.mg_to_grams(reduction_mg - credited_mg)} g "
                                   "not credited.", "info"))
        points = method_domain.points_for(rules.mg_to_grams(credited_mg), settings.points_per_gram)
        now = utcnow()
        action.status, action.reasons = "credited", reasons
        action.methodology_version_id, action.methodology_code = version.id, version.methodology.code
        action.methodology_version, action.breakdown = version.version, q.calculation.breakdown
        action.reduction_mg, action.credited_mg, action.points = reduction_mg, credited_mg, points
        action.points_per_gram = settings.points_per_gram
        action.reviewed_by, action.reviewed_at, action.review_reason = actor_user_id, now, note
        action.credited_at = now
        if points > 0:
            ledger.post_earns([ledger.EarnEntry(user_id=action.user_id, amount=points,
                                                external_ref=f"action:{action.id}", action_id=action.id,
                                                event_time=action.occurred_at)])
        leaderboards.record_after_commit([(action.user_id, action.scheme_day, credited_mg)])
        record_audit(action="action.approve", object_type="action", object_id=action.id,
                     actor_user_id=actor_user_id, details={"points": points, "note": note})
    return action


def reject_action(*, action_id: uuid.UUID, actor_user_id: uuid.UUID, reason: str) -> Action:
    with unit_of_work():
        action = _lock_action(action_id)
        if action.status != "pending_review":
            raise Conflict(f"Only pending actions can be rejected; this one is {action.status}.",
                           code="action_not_pending")
        _refuse_own_review(action, actor_user_id)
        action.status = "rejected"
        action.reasons = list(action.reasons or []) + [_reason("rejected_by_auditor", reason)]
        action.reviewed_by, action.reviewed_at, action.review_reason = actor_user_id, utcnow(), reason
        record_audit(action="action.reject", object_type="action", object_id=action.id,
                     actor_user_id=actor_user_id, details={"reason": reason})
    return action


def reverse_action(*, action_id: uuid.UUID, actor_user_id: uuid.UUID, reason: str):
    """Reverse a credited action (fraud): its points are clawed back through the ledger."""
    with unit_of_work():
        action = _lock_action(action_id)
        if action.status != "credited":
            code = "already_reversed" if action.status == "reversed" else "action_not_credited"
            raise Conflict(f"Only credited actions can be reversed; this one is {action.status}.",
                           code=code)
        # Certified grams may be sold or retired already: their actions stay credited.
        certificates.refuse_reversal_inside_lot(action)
        reversal = None
        if action.points > 0:
            reversal = ledger.reverse_earn(external_ref=f"action:{action.id}", reason=reason,
                                           actor_user_id=actor_user_id)
        action.status = "reversed"
        action.reversed_by, action.reversed_at, action.reversal_reason = actor_user_id, utcnow(), reason
        leaderboards.record_after_commit([(action.user_id, action.scheme_day, -action.credited_mg)])
        record_audit(action="action.reverse", object_type="action", object_id=action.id,
                     actor_user_id=actor_user_id,
                     details={"reason": reason, "points": action.points,
                              "clawed_back": getattr(reversal, "clawed_back", 0),
                              "shortfall": getattr(reversal, "shortfall", 0)})
    return action, reversal


def _submission_from(action: Action) -> Submission:
    inputs = action.inputs or {}

    def dec(name):
        return Decimal(inputs[name]) if name in inputs else None

    return Submission(action_type=action.action_type, channel=action.channel,
                      occurred_at=rules.action_instant(occurred_at=action.occurred_at,
                                                       ended_at=action.ended_at), user_id=action.user_id, mode=action.mode,
                      category=action.category, started_at=action.started_at,
                      ended_at=action.ended_at, distance_km=dec("distance_km"),
                      energy_kwh=dec("energy_kwh"), weight_kg=dec("weight_kg"),
                      boardings=inputs.get("boardings"), station_id=inputs.get("station_id"))
