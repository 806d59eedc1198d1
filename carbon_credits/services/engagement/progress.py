"""A citizen's progress on campaigns, and the claim of a completed challenge's bonus.

Progress is read from the database: the citizen's `credited` actions (a reversed, rejected or
pending one never counts) by scheme day, and their check-ins, within the campaign's window. The
query is bounded to one citizen and the window (`ix_actions_user_created`: an action is
recorded on or after the day it happened, so `created_at` bounds the scan from below).

A claim (docs/engagement.md) is one unit of work. Lock order: the citizen's ledger account
(serialises one citizen's claims: a second claim reads the first under the lock), then the
campaign row by one conditional update (`status = 'open' AND spent_points + n <=
budget_points`): many citizens claiming at once never spend past the budget. The claim row is
UNIQUE per citizen per campaign and the bonus transfer's ref is too, the last lines of defence.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import zoneinfo

from sqlalchemy import func, select, update

from carbon_credits.config import get_settings
from carbon_credits.domain import engagement as rules
from carbon_credits.domain.errors import Conflict
from carbon_credits.services import ledger
from carbon_credits.services.accounts import require_verified
from carbon_credits.services.audit import record_audit
from carbon_credits.services.engagement.campaigns import (active_campaigns, campaign_rule,
                                                           get_campaign_or_raise)
from carbon_credits.services.ledger.bonuses import post_bonus
from carbon_credits.services.leaderboards import scheme_today
from carbon_credits.services.uow import unit_of_work
from carbon_credits.services.webhooks import payloads as webhook_payloads
from models import Action, Campaign, CampaignClaim, CheckIn, db, utcnow


@dataclasses.dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    progress: rules.Progress
    claim: CampaignClaim | None


def _day_start(day: dt.date) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(get_settings().scheme_timezone)
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


def _credited_actions(user_id: uuid.UUID, first: dt.date, last: dt.date) -> list:
    """(scheme_day, action_type, mode) of the citizen's credited actions in [first, last]."""
    return db.session.execute(
        select(Action.scheme_day, Action.action_type, Action.mode)
        .where(Action.user_id == user_id, Action.status == "credited",
               Action.created_at >= _day_start(first) - dt.timedelta(days=1),
               Action.scheme_day >= first, Action.scheme_day <= last)).all()


def _check_in_days(user_id: uuid.UUID, first: dt.date, last: dt.date) -> list[dt.date]:
    return list(db.session.scalars(select(CheckIn.day).where(
        CheckIn.user_id == user_id, CheckIn.day >= first, CheckIn.day <= last)))


def _progress(rule: rules.CampaignRule, actions: list, check_ins: list) -> rules.Progress:
    days = [row.scheme_day for row in actions
            if rule.action_type in (None, row.action_type) and rule.mode in (None, row.mode)]
    return rules.campaign_progress(rule, action_days=days, check_in_days=check_ins)


def views_of(user_id: uuid.UUID, campaigns: list[Campaign]) -> list[CampaignView]:
    """Each campaign's progress from one read of actions and one of check-ins over the union
    of their windows, and the citizen's claims."""
    if not campaigns:
        return []
    first = min(c.starts_on for c in campaigns)
    last = max(c.ends_on for c in campaigns)
    actions = _credited_actions(user_id, first, last)
    check_ins = _check_in_days(user_id, first, last)
    claims = {c.campaign_id: c for c in db.session.scalars(select(CampaignClaim).where(
        CampaignClaim.user_id == user_id,
        CampaignClaim.campaign_id.in_([c.id for c in campaigns])))}
    return [CampaignView(campaign=c, progress=_progress(campaign_rule(c), actions, check_ins),
                         claim=claims.get(c.id)) for c in campaigns]


def list_my_campaigns(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> list[CampaignView]:
    """Open campaigns that have started, with the citizen's progress and claim."""
    return views_of(user_id, active_campaigns(today=scheme_today(now)))


def claim_bonus(*, user_id: uuid.UUID, campaign_id: uuid.UUID,
                now: dt.datetime | None = None) -> CampaignView:
    """Pay a completed challenge's bonus: completions x bonus, within the per-citizen cap, the
    scheme-wide monthly cap (`BONUS_MONTHLY_CAP_POINTS`) and the campaign's budget, from the
    incentive account. Refused with nothing changed: 404, 403 `account_unverified`, 409
    `campaign_closed`, `campaign_not_started`, `campaign_not_completed`,
    `bonus_already_claimed`, `campaign_budget_exhausted`, `monthly_bonus_cap_reached`."""
    now = now or utcnow()
    with unit_of_work():
        require_verified(user_id)
        campaign = get_campaign_or_raise(campaign_id)
        if campaign.starts_on > scheme_today(now):
            raise Conflict("The campaign has not started.", code="campaign_not_started")
        ledger.lock_citizen_account(user_id)
        (view,) = views_of(user_id, [campaign])
        amount = _payable(user_id, view.progress.earned_points, now)
        _refuse(view, amount)
        if amount < 1:
            raise Conflict("This month's bonus limit is reached; claim again next month.",
                           code="monthly_bonus_cap_reached")
        _spend(campaign_id, amount)
        transfer = post_bonus(user_id=user_id, campaign_id=campaign_id, amount=amount, now=now)
        claim = CampaignClaim(id=uuid.uuid4(), campaign_id=campaign_id, user_id=user_id,
                              points=amount,
                              completions=view.progress.completions, transfer_id=transfer.id,
                              created_at=now)
        db.session.add(claim)
        db.session.flush()
        record_audit(action="campaign.bonus_claimed", object_type="campaign",
                     object_id=campaign_id, actor_user_id=user_id,
                     details={"points": claim.points, "completions": claim.completions,
                              "progress": view.progress.progress})
        webhook_payloads.emit_campaign(
            "campaign.bonus_paid", campaign_id=campaign_id, user_id=user_id, claim_id=claim.id,
            points=claim.points, completions=claim.completions, transfer_id=transfer.id)
        campaign = get_campaign_or_raise(campaign_id)
    return CampaignView(campaign=campaign, progress=view.progress, claim=claim)


def _payable(user_id: uuid.UUID, earned: int, now: dt.datetime) -> int:
    """What the claim pays within the scheme-wide monthly cap: every campaign's claims this
    scheme month count, as paid (a later reversal does not make room). Read under the
    citizen's account lock, so two claims at once cannot both fit in the same room."""
    settings = get_settings()
    today = now.astimezone(zoneinfo.ZoneInfo(settings.scheme_timezone)).date()
    paid = db.session.scalar(select(func.coalesce(func.sum(CampaignClaim.points), 0)).where(
        CampaignClaim.user_id == user_id,
        CampaignClaim.created_at >= _day_start(today.replace(day=1))))
    return rules.payable_bonus(earned, paid_this_month=int(paid),
                               monthly_cap=settings.bonus_monthly_cap_points)


def _refuse(view: CampaignView, amount: int) -> None:
    c = view.campaign
    refusal = rules.claim_refusal(status=c.status, completions=view.progress.completions,
                                  already_claimed=view.claim is not None,
                                  spent=c.spent_points, budget=c.budget_points, amount=amount)
    if refusal is not None:
        raise Conflict(refusal[1], code=refusal[0])


def _spend(campaign_id: uuid.UUID, amount: int) -> None:
    """One conditional update: still open and the bonus fits in what is left of the budget
    (re-read under the row lock, so a concurrent claim's committed spend counts)."""
    spent = Campaign.spent_points + amount
    moved = db.session.execute(
        update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "open",
                               spent <= Campaign.budget_points)
        .values(spent_points=spent, claims=Campaign.claims + 1)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        campaign = get_campaign_or_raise(campaign_id)
        if campaign.status != "open":
            raise Conflict("The campaign is closed.", code="campaign_closed")
        raise Conflict("The campaign's budget is spent.", code="campaign_budget_exhausted")
