"""Campaigns: admins create, list and close them (docs/engagement.md)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import uuid

from sqlalchemy import select, update

from carbon_credits.domain import engagement as rules
from carbon_credits.domain.errors import Conflict, NotFound
from carbon_credits.services.audit import record_audit
from carbon_credits.services.leaderboards import scheme_today
from carbon_credits.services.pagination import newest_first_page, where_given
from carbon_credits.services.uow import unit_of_work
from models import Campaign, db, utcnow


def campaign_rule(campaign: Campaign) -> rules.CampaignRule:
    return rules.CampaignRule(
        kind=campaign.kind, target=campaign.target, starts_on=campaign.starts_on,
        ends_on=campaign.ends_on, bonus_points=campaign.bonus_points,
        per_citizen_cap=campaign.per_citizen_cap, budget_points=campaign.budget_points,
        action_type=campaign.action_type, mode=campaign.mode)


def create_campaign(*, title: str, description: str, kind: str, target: int,
                    starts_on: dt.date, ends_on: dt.date, bonus_points: int,
                    per_citizen_cap: int, budget_points: int, action_type: str | None = None,
                    mode: str | None = None, actor_user_id: uuid.UUID,
                    now: dt.datetime | None = None) -> Campaign:
    """A new open campaign; 422 when its rule is incomplete, unbounded or already over."""
    rule = rules.CampaignRule(kind=kind, target=target, starts_on=starts_on, ends_on=ends_on,
                              bonus_points=bonus_points, per_citizen_cap=per_citizen_cap,
                              budget_points=budget_points, action_type=action_type, mode=mode)
    rules.check_campaign(rule, today=scheme_today(now))
    with unit_of_work():
        campaign = Campaign(id=uuid.uuid4(), title=title, description=description,
                            **dataclasses.asdict(rule), spent_points=0, claims=0,
                            status="open", created_by=actor_user_id, created_at=utcnow())
        db.session.add(campaign)
        db.session.flush()
        record_audit(action="campaign.created", object_type="campaign", object_id=campaign.id,
                     actor_user_id=actor_user_id,
                     details={"title": title, **{k: str(v) if isinstance(v, dt.date) else v
                                                 for k, v in dataclasses.asdict(rule).items()}})
    return campaign


def close_campaign(*, campaign_id: uuid.UUID, reason: str, actor_user_id: uuid.UUID) -> Campaign:
    """Close an open campaign: no new claims; bonuses already paid stay paid."""
    with unit_of_work():
        closed = db.session.execute(
            update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "open")
            .values(status="closed", closed_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        campaign = get_campaign_or_raise(campaign_id)
        if not closed:
            raise Conflict("The campaign is closed already.", code="campaign_closed")
        record_audit(action="campaign.closed", object_type="campaign", object_id=campaign_id,
                     actor_user_id=actor_user_id,
                     details={"reason": reason, "spent_points": campaign.spent_points,
                              "claims": campaign.claims})
    return campaign


def get_campaign_or_raise(campaign_id: uuid.UUID) -> Campaign:
    campaign = db.session.scalars(select(Campaign).where(Campaign.id == campaign_id)
                                  .execution_options(populate_existing=True)).first()
    if campaign is None:
        raise NotFound("Campaign not found.")
    return campaign


def list_campaigns(*, status: str | None = None, after: tuple | None = None, limit: int = 50):
    """Campaigns newest first: (campaigns, cursor of the last)."""
    query = where_given(select(Campaign), (Campaign.status, operator.eq, status))
    query = query.order_by(Campaign.created_at.desc(), Campaign.id.desc())
    return newest_first_page(query, Campaign.created_at, Campaign.id, after=after, limit=limit)


def active_campaigns(*, today: dt.date, limit: int = 100) -> list[Campaign]:
    """Open campaigns that have started (ended ones stay while open: their bonus is claimable)."""
    return list(db.session.scalars(
        select(Campaign).where(Campaign.status == "open", Campaign.starts_on <= today)
        .order_by(Campaign.ends_on, Campaign.id).limit(limit)))
