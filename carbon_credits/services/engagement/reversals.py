"""Taking a campaign bonus back when actions behind it are reversed (docs/engagement.md).

A bonus is paid on the progress the citizen's credited actions made. When one of those actions
is reversed (fraud, a double report), the progress is recomputed without it, and whatever the
bonus paid beyond what the remaining actions still earn goes back to the incentive account: a
`bonus_reversal` transfer, capped at the citizen's available balance like an earn's reversal,
the rest recorded on the claim as `shortfall_points`. Otherwise a cheat would keep the bonus
that fake trips unlocked after the trips themselves were clawed back.

Runs inside the reversal's unit of work, after the action is marked `reversed`. It locks the
citizen's ledger account before reading the claims, the lock a claim takes first too: a claim
and a reversal of the same citizen's action are serialised, so either the claim sees the
action reversed or the reversal sees the claim.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import select, update

from carbon_credits.domain import engagement as rules
from carbon_credits.services import ledger
from carbon_credits.services.audit import record_audit
from carbon_credits.services.engagement.progress import views_of
from carbon_credits.services.ledger.bonuses import reverse_bonus
from carbon_credits.services.webhooks import payloads as webhook_payloads
from models import Action, Campaign, CampaignClaim, LedgerTransfer, db, utcnow


@dataclasses.dataclass(frozen=True)
class BonusTakenBack:
    campaign_id: uuid.UUID
    due: int            # what the reversal took from the bonus
    clawed_back: int    # moved back to the incentive account
    shortfall: int      # what the citizen's balance could not cover


def take_back_bonuses(action: Action, *, actor_user_id: uuid.UUID | None,
                      now: dt.datetime | None = None) -> list[BonusTakenBack]:
    """Take back what `action`'s reversal removes from the citizen's paid campaign bonuses
    (every claimed campaign whose window holds the action's scheme day)."""
    now = now or utcnow()
    ledger.lock_citizen_account(action.user_id)
    claims = {claim.campaign_id: claim for claim in db.session.scalars(
        select(CampaignClaim).join(Campaign, Campaign.id == CampaignClaim.campaign_id)
        .where(CampaignClaim.user_id == action.user_id,
               Campaign.starts_on <= action.scheme_day, Campaign.ends_on >= action.scheme_day))}
    if not claims:
        return []
    campaigns = list(db.session.scalars(select(Campaign).where(Campaign.id.in_(claims))))
    taken = []
    for view in views_of(action.user_id, campaigns):
        claim = claims[view.campaign.id]
        due = rules.bonus_due_back(paid=claim.points, earned_now=view.progress.earned_points,
                                   settled=claim.clawed_back_points + claim.shortfall_points)
        if due:
            taken.append(_take_back(claim, due, action=action, actor_user_id=actor_user_id,
                                    now=now))
    return taken


def _take_back(claim: CampaignClaim, due: int, *, action: Action,
               actor_user_id: uuid.UUID | None, now: dt.datetime) -> BonusTakenBack:
    bonus = db.session.scalars(select(LedgerTransfer)
                               .where(LedgerTransfer.id == claim.transfer_id)).one()
    clawed, shortfall = reverse_bonus(bonus=bonus, amount=due, campaign_id=claim.campaign_id,
                                      action_id=action.id, now=now)
    db.session.execute(
        update(CampaignClaim).where(CampaignClaim.id == claim.id)
        .values(clawed_back_points=CampaignClaim.clawed_back_points + clawed,
                shortfall_points=CampaignClaim.shortfall_points + shortfall)
        .execution_options(synchronize_session="fetch"))
    record_audit(action="campaign.bonus_reversed", object_type="campaign",
                 object_id=claim.campaign_id, actor_user_id=actor_user_id,
                 details={"user_id": str(claim.user_id), "action_id": str(action.id),
                          "paid": claim.points, "due": due, "clawed_back": clawed,
                          "shortfall": shortfall})
    webhook_payloads.emit_campaign("campaign.bonus_reversed", campaign_id=claim.campaign_id,
                                   user_id=claim.user_id, claim_id=claim.id, action_id=action.id,
                                   due=due, clawed_back=clawed, shortfall=shortfall)
    return BonusTakenBack(campaign_id=claim.campaign_id, due=due, clawed_back=clawed,
                          shortfall=shortfall)
