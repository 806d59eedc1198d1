"""Monthly meter readings from a utility, credited to the household's members.

A reading is one month of one bound utility account. It is quantified with the `metered_baseline`
version in force at the month's last second, against the baseline that version defines from the
same account's earlier actual readings (domain/metering); the household's reduction is split in
whole milligrams among its members when the reading arrives (their rule: equal or shares; the
split only shares out what the meter saved, so who is a member never changes the total) and each
member's share is credited as one action, within their daily cap, to their ledger account.

What a reading becomes (docs/households.md):
- `credited`: quantified; members credited (nothing when the month used more than its baseline);
- `rejected` (stored): estimated, no baseline, no version in force, out of bounds, no member;
- `history` (stored): a month that ended longer ago than the claim window: a baseline reference
  for later months, never credited;
- not stored: outside the partner's scopes, a month not yet over, no binding for a household,
  the same record id again (`duplicate`) or the same month of the account again.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import zoneinfo
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.config import get_settings
from carbon_credits.domain import crediting, metering
from carbon_credits.domain import methodology as method_domain
from carbon_credits.domain import partners as partner_rules
from carbon_credits.domain.crediting import reason
from carbon_credits.domain.vocabulary import grams_to_mg, mg_to_grams, scope_key
from carbon_credits.services import leaderboards, ledger
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services.bindings import hash_external_ref
from carbon_credits.services.daily_caps import count_credits, credit_on_row, lock_daily_rows
from carbon_credits.services.households.membership import members_at
from carbon_credits.services.partners import lock_partner, require_data_partner, scope_pairs_at
from carbon_credits.services.uow import unit_of_work
from carbon_credits.services.webhooks import emit_many, payloads as webhook_payloads
from models import Action, Binding, Household, MeterReading, db, utcnow

ACTION_TYPE = "household_energy"
HISTORY_MONTHS = 24  # how far back a utility may send months, as the binding's notice says
MILLI = Decimal(1000)
READINGS = MeterReading.__table__


@dataclasses.dataclass(frozen=True)
class ReadingIn:
    index: int
    external_id: str
    external_ref: str
    utility: str
    period: dt.date
    consumption: Decimal  # kWh or m³, at most 3 decimals
    estimated: bool


@dataclasses.dataclass
class ReadingOutcome:
    index: int
    external_id: str
    status: str  # credited | rejected | history | duplicate | unbound
    reading_id: uuid.UUID | None = None
    reduction_mg: int | None = None
    credited_mg: int = 0
    points: int = 0
    members: int = 0
    reasons: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Quantified:
    version: object
    baseline: metering.Baseline
    calculation: method_domain.Calculation


def month_instant(period: dt.date, timezone: str) -> dt.datetime:
    """The last second of the month in the scheme's time zone: the reading's instant, so the
    version in force, the claim window and the scheme day all fall inside the month."""
    start = dt.datetime.combine(metering.add_months(period, 1), dt.time(),
                                zoneinfo.ZoneInfo(timezone))
    return (start - dt.timedelta(seconds=1)).astimezone(dt.timezone.utc)


def record_readings(*, partner_id: uuid.UUID, readings: list[ReadingIn]) -> list[ReadingOutcome]:
    """One unit of work for the batch; one outcome per reading, in the order sent."""
    settings = get_settings()
    with unit_of_work():
        partner = lock_partner(partner_id, exclusive=False)
        require_data_partner(partner)
        now = utcnow()
        allowed = scope_pairs_at(partner_id=partner_id, at=now)
        known = set(db.session.scalars(select(MeterReading.external_id).where(
            MeterReading.partner_id == partner_id,
            MeterReading.external_id.in_([r.external_id for r in readings]))))
        outcomes = []
        for reading in readings:
            if not partner_rules.in_scope(allowed, ACTION_TYPE, reading.utility):
                outcomes.append(ReadingOutcome(reading.index, reading.external_id, "rejected",
                                               reasons=[reason("scope_not_allowed", "This "
                                                        f"partner may not report {reading.utility} readings.")]))
            elif reading.external_id in known:
                outcomes.append(_duplicate(reading, "This record id was already received."))
            else:
                known.add(reading.external_id)
                outcomes.append(_record_one(partner_id, reading, settings, now))
    return outcomes


def _duplicate(reading: ReadingIn, message: str) -> ReadingOutcome:
    return ReadingOutcome(reading.index, reading.external_id, "duplicate",
                          reasons=[reason("duplicate_record", message, "info")])


def _record_one(partner_id: uuid.UUID, reading: ReadingIn, settings, now: dt.datetime) -> ReadingOutcome:
    instant = month_instant(reading.period, settings.scheme_timezone)
    outcome = ReadingOutcome(reading.index, reading.external_id, "rejected")
    if instant > now:
        outcome.reasons = [reason("period_not_ended", "The month is not over yet.")]
        return outcome
    if reading.period < metering.add_months(now.date().replace(day=1), -HISTORY_MONTHS - 1):
        outcome.reasons = [reason("period_too_old", f"At most {HISTORY_MONTHS} months back "
                                  "(the binding's consent).")]
        return outcome
    binding = _household_binding(partner_id, reading.external_ref, instant)
    if binding is None:
        outcome.status = "unbound"
        outcome.reasons = [reason("unbound", "No household's binding of this account covers "
                                  "this month.", "info")]
        return outcome
    quantified, members = None, []
    if not crediting.within_claim_window(occurred_at=instant, now=now,
                                         window_days=settings.claim_window_days):
        outcome.status = "history"
        outcome.reasons = [reason("history", "Older than the claim window: kept as a baseline "
                                  "reference, not credited.", "info")]
    else:
        quantified, outcome.reasons = _quantify(partner_id, binding, reading, instant)
        if quantified is not None:
            # The household as it is when the month is credited: its members share it.
            members = members_at(binding.household_id, now)
            if not members:
                quantified, outcome.reasons = None, [reason("no_members", "The household has no "
                                                            "member any more.")]
        outcome.status = "credited" if quantified is not None else "rejected"
    if quantified is not None:
        outcome.reduction_mg = grams_to_mg(quantified.calculation.reduction_g)
    row_id = _insert_reading(partner_id, binding, reading, outcome, now)
    if row_id is None:
        return _duplicate(reading, "This month of this account was already reported.")
    outcome.reading_id = row_id
    if quantified is not None and outcome.reduction_mg:
        _credit_members(outcome, reading, binding, quantified, members, instant, settings, now)
    return outcome


def _household_binding(partner_id: uuid.UUID, external_ref: str, instant: dt.datetime):
    """The household binding of the account that receives the month, or None."""
    rows = db.session.scalars(select(Binding).where(
        Binding.partner_id == partner_id,
        Binding.external_ref_hash == hash_external_ref(partner_id, external_ref),
        Binding.status.in_(("active", "ended")), Binding.household_id.is_not(None)))
    return next((b for b in rows if partner_rules.binding_covers(
        covers_from=b.covers_from, ended_at=b.ended_at, instant=instant)), None)


def _history(partner_id: uuid.UUID, binding, utility: str) -> dict:
    """The household's own earlier readings of the account: the previous occupants' months are
    not a baseline for the new ones (a large family moving out is not a saving)."""
    rows = db.session.execute(select(MeterReading.period, MeterReading.consumption_milli,
                                     MeterReading.estimated).where(
        MeterReading.partner_id == partner_id,
        MeterReading.account_hash == binding.external_ref_hash,
        MeterReading.household_id == binding.household_id, MeterReading.utility == utility))
    return {r.period: metering.Reading(r.period, Decimal(r.consumption_milli) / MILLI, r.estimated)
            for r in rows}


def _quantify(partner_id, binding, reading: ReadingIn, instant: dt.datetime):
    """(what the month is worth, why not) — None and the reasons when it is worth nothing."""
    if reading.estimated:
        return None, [reason("estimated_reading", "An estimated reading is not credited; the "
                             "next actual reading settles the month.")]
    version = methodology_service.get_version_in_force(action_type=ACTION_TYPE,
                                                       mode=reading.utility, occurred_at=instant)
    if version is None:
        return None, [reason("methodology_not_in_force", "No methodology is in force for "
                             f"{scope_key(ACTION_TYPE, reading.utility)} in this month.")]
    rules = version.rules
    found = metering.baseline(method=rules["baseline_method"], months=rules["baseline_months"],
                              min_readings=rules["min_baseline_readings"], period=reading.period,
                              history=_history(partner_id, binding, reading.utility))
    if found is None:
        return None, [reason("baseline_unavailable", "Too few actual readings of this account "
                             "for its baseline (missing or estimated months do not count).")]
    q = methodology_service.quantify_with_version(
        version=version, channel="partner",
        activity={"consumption": reading.consumption, "baseline": found.value,
                  "baseline_basis": found.basis})
    if q.outcome != "accept":
        return None, [r.as_dict() for r in q.reasons]
    return _Quantified(version, found, q.calculation), []


def _insert_reading(partner_id, binding, reading: ReadingIn, outcome: ReadingOutcome,
                    now: dt.datetime) -> uuid.UUID | None:
    """The reading row; None when the record id or the month was stored already (by this
    batch's twin or a concurrent one: the unique indexes decide, nothing is written twice)."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    row_id = uuid.uuid4()
    stmt = insert(READINGS).values(
        id=row_id, partner_id=partner_id, external_id=reading.external_id,
        account_hash=binding.external_ref_hash, binding_id=binding.id,
        household_id=binding.household_id, utility=reading.utility, period=reading.period,
        consumption_milli=int(reading.consumption * MILLI), estimated=reading.estimated,
        status=outcome.status, reasons=outcome.reasons, reduction_mg=outcome.reduction_mg,
        received_at=now).on_conflict_do_nothing().returning(READINGS.c.id)
    return db.session.execute(stmt).scalar()


def _credit_members(outcome: ReadingOutcome, reading: ReadingIn, binding, quantified: _Quantified,
                    members, instant: dt.datetime, settings, now: dt.datetime) -> None:
    """Each member's share as one credited action, within their daily cap, posted to the ledger."""
    version, scope = quantified.version, scope_key(ACTION_TYPE, reading.utility)
    day = instant.astimezone(zoneinfo.ZoneInfo(settings.scheme_timezone)).date()
    equal = db.session.get(Household, binding.household_id).split_rule == "equal"
    weights = [(m.user_id, 1 if equal else m.share) for m in members]
    shares = metering.split_mg(outcome.reduction_mg, weights)
    daily = lock_daily_rows({(user_id, scope, day) for user_id, _ in weights})
    earns, board, stored = [], [], []
    for n, (user_id, weight) in enumerate(weights, start=1):
        credit = credit_on_row(daily[(user_id, scope, day)], reduction_mg=shares[user_id],
                               cap_mg=version.daily_cap_mg, points_per_gram=settings.points_per_gram)
        action = _member_action(reading, binding, quantified, outcome, user_id=user_id, n=n,
                                share_mg=shares[user_id], weight=weight,
                                whole=sum(w for _, w in weights), credit=credit, scope=scope,
                                instant=instant, day=day, settings=settings, now=now)
        db.session.add(action)
        stored.append(action)
        outcome.credited_mg += credit.credited_mg
        outcome.points += credit.points
        if credit.points:
            earns.append(ledger.EarnEntry(user_id=user_id, amount=credit.points,
                                          external_ref=f"action:{action.id}", action_id=action.id,
                                          event_time=instant))
        board.append((user_id, day, credit.credited_mg))
    outcome.members = len(weights)
    db.session.flush()
    count_credits(daily.values())
    if earns:
        ledger.post_earns(earns)
    emit_many(webhook_payloads.stored_action_events(stored))
    leaderboards.record_after_commit(board)


def _member_action(reading, binding, quantified: _Quantified, outcome, *, user_id, n, share_mg,
                   weight, whole, credit, scope, instant, day, settings, now) -> Action:
    version = quantified.version
    breakdown = list(quantified.calculation.breakdown) + [{
        "step": len(quantified.calculation.breakdown) + 1, "kind": "intermediate",
        "name": "member_share", "value": format(mg_to_grams(share_mg), "f"), "unit": "gCO2e",
        "expression": f"reduction_g × {weight}/{whole}, in whole mg (largest remainder)"}]
    return Action(
        id=uuid.uuid4(), user_id=user_id, channel="partner", partner_id=binding.partner_id,
        external_id=f"{reading.external_id}/{n}", binding_id=binding.id, action_type=ACTION_TYPE,
        mode=reading.utility, scope_key=scope, occurred_at=instant, scheme_day=day,
        inputs={"reading_id": str(outcome.reading_id), "household_id": str(binding.household_id),
                "period": metering.period_text(reading.period), "utility": reading.utility,
                "consumption": format(reading.consumption, "f"),
                "baseline": format(quantified.baseline.value, "f"),
                "baseline_periods": [metering.period_text(p) for p in quantified.baseline.periods],
                "household_reduction_g": format(mg_to_grams(outcome.reduction_mg), "f"),
                "share": f"{weight}/{whole}"},
        status="credited", reasons=[credit.cap_reason] if credit.cap_reason else [],
        methodology_version_id=version.id, methodology_code=version.methodology.code,
        methodology_version=version.version, breakdown=method_domain.compact(breakdown),
        reduction_mg=share_mg, credited_mg=credit.credited_mg, points=credit.points,
        points_per_gram=settings.points_per_gram, credited_at=now, created_at=now)


def list_readings(*, household_id: uuid.UUID, limit: int = 24) -> list[MeterReading]:
    """The household's latest readings, newest month first."""
    return list(db.session.scalars(
        select(MeterReading).where(MeterReading.household_id == household_id)
        .order_by(MeterReading.period.desc(), MeterReading.received_at.desc()).limit(limit)))
