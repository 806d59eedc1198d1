"""Engagement (docs/engagement.md): campaigns and challenges with bonus points from the
incentive account, daily check-ins, levels and badges, and my rank on each leaderboard."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import RAISE, Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString
from api.idempotency import idempotent
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from carbon_credits.domain import engagement as rules
from carbon_credits.domain.vocabulary import (ACTION_TYPES, MAX_BALANCE_POINTS, MAX_POINTS,
                                            mg_to_grams)
from carbon_credits.services import leaderboards
from carbon_credits.services.engagement import campaigns as campaign_service
from carbon_credits.services.engagement import checkins as checkin_service
from carbon_credits.services.engagement import progress as progress_service

blp = Blueprint("engagement", __name__, url_prefix="/api/v1",
                description="Campaigns, check-ins, achievements and my rank")

NOT_BLANK = validate.Regexp(r"\s*\S", error="Must not be blank.")
KIND_HELP = ("count: `target` credited actions matching action_type/mode in the window; "
             "streak: credited actions on `target` consecutive scheme days; check_in_streak: "
             "check-ins on `target` consecutive scheme days")


class CampaignCreateSchema(Schema):
    title = fields.String(required=True, validate=[validate.Length(min=1, max=rules.MAX_TITLE_LENGTH),
                                                   NOT_BLANK])
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    kind = fields.String(required=True, validate=validate.OneOf(rules.CAMPAIGN_KINDS),
                         metadata={"description": KIND_HELP})
    action_type = fields.String(load_default=None, validate=validate.OneOf(ACTION_TYPES),
                                metadata={"description": "Only actions of this type count "
                                                         "(none: any credited action)"})
    mode = fields.String(load_default=None, validate=validate.Length(min=1, max=16),
                         metadata={"description": "Transit mode, scene or utility of the type"})
    target = fields.Integer(required=True, strict=True,
                            validate=validate.Range(min=1, max=rules.MAX_TARGET))
    starts_on = fields.Date(required=True, metadata={"description": "First scheme day"})
    ends_on = fields.Date(required=True, metadata={"description": "Last scheme day"})
    bonus_points = fields.Integer(required=True, strict=True,
                                  validate=validate.Range(min=1, max=rules.MAX_BONUS_POINTS),
                                  metadata={"description": "Paid per completion"})
    per_citizen_cap = fields.Integer(required=True, strict=True,
                                     validate=validate.Range(min=1, max=MAX_POINTS),
                                     metadata={"description": "Most one citizen's claim pays"})
    budget_points = fields.Integer(required=True, strict=True,
                                   validate=validate.Range(min=1, max=MAX_BALANCE_POINTS),
                                   metadata={"description": "Most all claims together pay"})


CAMPAIGN_EXAMPLE = {"title": "10 metro trips this month", "description": "Ride the metro 10 times.",
                    "kind": "count", "action_type": "transit", "mode": "metro", "target": 10,
                    "starts_on": "2026-12-01", "ends_on": "2026-12-31", "bonus_points": 50,
                    "per_citizen_cap": 100, "budget_points": 500000}


class CampaignSchema(Schema):
    id = fields.UUID()
    title = fields.String()
    description = fields.String()
    kind = fields.String()
    action_type = fields.String(allow_none=True)
    mode = fields.String(allow_none=True)
    target = fields.Integer()
    starts_on = fields.Date()
    ends_on = fields.Date()
    bonus_points = fields.Integer()
    per_citizen_cap = fields.Integer()
    budget_points = fields.Integer()
    spent_points = fields.Integer()
    claims = fields.Integer()
    status = fields.String(metadata={"description": "open | closed"})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


CampaignPageSchema = page_schema(CampaignSchema, "CampaignPageSchema")


class CampaignArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(rules.CAMPAIGN_STATUSES))


class CampaignCloseSchema(Schema):
    reason = fields.String(required=True, validate=[validate.Length(min=3, max=1000), NOT_BLANK])


class CampaignClaimViewSchema(Schema):
    id = fields.UUID()
    points = fields.Integer()
    completions = fields.Integer()
    transfer_id = fields.UUID(metadata={"description": "The `bonus` entry of my statement"})
    clawed_back_points = fields.Integer(metadata={
        "description": "Taken back (`bonus_reversal` entries) because actions behind the bonus "
                       "were reversed"})
    shortfall_points = fields.Integer(metadata={
        "description": "What a reversal could not take back: my balance was already spent"})
    claimed_at = fields.DateTime()


class MyCampaignSchema(Schema):
    campaign = fields.Nested(CampaignSchema)
    progress = fields.Integer(metadata={"description": "Matching actions, or the longest run "
                                                       "of days in the window"})
    target = fields.Integer()
    completions = fields.Integer()
    completed = fields.Boolean()
    claimable_points = fields.Integer(metadata={"description": "What a claim would pay now: "
                                                               "completions x bonus, within my cap"})
    claim = fields.Nested(CampaignClaimViewSchema, allow_none=True)


class MyCampaignListSchema(Schema):
    items = fields.List(fields.Nested(MyCampaignSchema))


class CheckInSchema(Schema):
    day = fields.Date(metadata={"description": "The scheme day checked in for"})
    created = fields.Boolean(metadata={"description": "False: already checked in that day"})
    current_streak = fields.Integer()
    longest_streak = fields.Integer()


class StreakSchema(Schema):
    current = fields.Integer()
    longest = fields.Integer()


class LevelSchema(Schema):
    level = fields.Integer()
    name = fields.String()
    next_level_at_g = GramsString(allow_none=True)


class BadgeSchema(Schema):
    code = fields.String()
    title = fields.String()
    earned = fields.Boolean()


class AchievementsSchema(Schema):
    lifetime_reduction_g = GramsString()
    credited_actions = fields.Integer()
    level = fields.Nested(LevelSchema)
    badges = fields.List(fields.Nested(BadgeSchema))
    action_streak = fields.Nested(StreakSchema)
    check_in_streak = fields.Nested(StreakSchema)
    checked_in_today = fields.Boolean()


class MyRankArgsSchema(Schema):
    period = fields.String(load_default="week", validate=validate.OneOf(leaderboards.PERIODS))


class MyRankSchema(Schema):
    period = fields.String()
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    timezone = fields.String()
    rank = fields.Integer(allow_none=True, metadata={"description": "None: no credited grams "
                                                                    "this period"})
    reduction_g = GramsString()
    board_size = fields.Integer(metadata={"description": "Citizens listed on the board"})
    listed = fields.Boolean(metadata={"description": "False: I am hidden from the board; the "
                                                     "rank says where I would stand"})


CAMPAIGN_VIEW_EXAMPLE = {**CAMPAIGN_EXAMPLE, "id": "0d8f3c2e-6a1b-4f7e-9c3d-2b1a0e9f8d7c",
                         "spent_points": 0, "claims": 0, "status": "open",
                         "created_at": "2026-12-01T00:00:00+00:00", "closed_at": None}
MY_CAMPAIGN_EXAMPLE = {"campaign": CAMPAIGN_VIEW_EXAMPLE, "progress": 11, "target": 10,
                       "completions": 1, "completed": True, "claimable_points": 50, "claim": None}
CLAIMED_EXAMPLE = {**MY_CAMPAIGN_EXAMPLE, "claimable_points": 0, "campaign": {
    **CAMPAIGN_VIEW_EXAMPLE, "spent_points": 50, "claims": 1}, "claim": {
    "id": "6c1e9b0a-2f4d-4e8a-b7c3-9d0e1f2a3b4c", "points": 50, "completions": 1,
    "transfer_id": "a3b4c5d6-e7f8-4a9b-8c0d-1e2f3a4b5c6d", "clawed_back_points": 0,
    "shortfall_points": 0, "claimed_at": "2026-12-06T09:30:00+00:00"}}
CHECK_IN_EXAMPLE = {"day": "2026-12-06", "created": True, "current_streak": 4,
                    "longest_streak": 9}
ACHIEVEMENTS_EXAMPLE = {
    "lifetime_reduction_g": "12840.500", "credited_actions": 37,
    "level": {"level": 3, "name": "sapling", "next_level_at_g": "100000.000"},
    "badges": [{"code": code, "title": title, "earned": earned} for code, title, earned in (
        ("first_action", "First green action", True), ("saved_1kg", "1 kg CO2e saved", True),
        ("saved_10kg", "10 kg CO2e saved", True), ("saved_100kg", "100 kg CO2e saved", False),
        ("metro_10", "10 metro trips", True),
        ("streak_7", "Green actions 7 days in a row", True),
        ("check_in_7", "Checked in 7 days in a row", True))],
    "action_streak": {"current": 2, "longest": 8}, "check_in_streak": {"current": 4, "longest": 9},
    "checked_in_today": True}
MY_RANK_EXAMPLE = {"period": "week", "from": "2026-11-30", "to": "2026-12-06",
                   "timezone": "Asia/Shanghai", "rank": 42, "reduction_g": "3880.000",
                   "board_size": 1530, "listed": True}


def campaign_view(c) -> dict:
    return {name: getattr(c, name) for name in CampaignSchema._declared_fields}


def my_campaign_view(view) -> dict:
    claim = view.claim
    return {"campaign": campaign_view(view.campaign), "progress": view.progress.progress,
            "target": view.progress.target, "completions": view.progress.completions,
            "completed": view.progress.completions > 0,
            "claimable_points": 0 if claim else view.progress.earned_points,
            "claim": None if claim is None else {
                "id": claim.id, "points": claim.points, "completions": claim.completions,
                "transfer_id": claim.transfer_id,
                "clawed_back_points": claim.clawed_back_points,
                "shortfall_points": claim.shortfall_points, "claimed_at": claim.created_at}}


@blp.route("/admin/campaigns", methods=["POST"])
@access("admin")
@idempotent
@blp.arguments(CampaignCreateSchema, example=CAMPAIGN_EXAMPLE)
@blp.response(201, CampaignSchema, example=CAMPAIGN_VIEW_EXAMPLE)
def create_campaign(data):
    """Create a campaign: its challenge, window, bonus per completion, per-citizen cap, budget.

    Admins only; send an `Idempotency-Key` to retry safely. The window is scheme days,
    inclusive, at most 366 and not already over; the caps are at least `bonus_points`. Bonus
    points come from the incentive account, never from reductions. Bad input is a 422 and
    writes nothing; the creation is audited."""
    return campaign_view(campaign_service.create_campaign(actor_user_id=g.user.id, **data))


@blp.route("/admin/campaigns", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(CampaignArgsSchema, location="query", unknown=RAISE)
@blp.response(200, CampaignPageSchema, example={"items": [CAMPAIGN_VIEW_EXAMPLE],
                                                "next_cursor": None})
def list_campaigns(args):
    """Campaigns, newest first, with what each has spent of its budget.

    Admins and auditors; `status` filters `open` or `closed`. Keyset pages: pass
    `next_cursor` back as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = campaign_service.list_campaigns(status=args["status"], after=after,
                                                  limit=args["limit"])
    return {"items": [campaign_view(c) for c in items], "next_cursor": encode_cursor(last)}


@blp.route("/admin/campaigns/<uuid:campaign_id>/close", methods=["POST"])
@access("admin")
@blp.arguments(CampaignCloseSchema, example={"reason": "The sponsor withdrew."})
@blp.response(200, CampaignSchema, example={**CAMPAIGN_VIEW_EXAMPLE, "status": "closed",
                                            "closed_at": "2026-12-20T02:00:00+00:00"})
def close_campaign(data, campaign_id: uuid.UUID):
    """Close an open campaign: no new claims; bonuses already paid stay paid.

    Admins only, with a reason (audited). Closing it again is a 409 (`campaign_closed`); an
    unknown campaign a 404."""
    return campaign_view(campaign_service.close_campaign(
        campaign_id=campaign_id, reason=data["reason"], actor_user_id=g.user.id))


@blp.route("/me/campaigns", methods=["GET"])
@access("citizen")
@blp.response(200, MyCampaignListSchema, example={"items": [MY_CAMPAIGN_EXAMPLE]})
def my_campaigns():
    """Open campaigns with my progress (from my credited actions), completion and claim.

    Citizens only; the open campaigns that have started. Progress is recomputed on each read
    from my credited actions (a reversed one no longer counts) and check-ins;
    `claimable_points` is what a claim would pay now, 0 once claimed."""
    views = progress_service.list_my_campaigns(user_id=g.user.id)
    return {"items": [my_campaign_view(v) for v in views]}


@blp.route("/me/campaigns/<uuid:campaign_id>/claim", methods=["POST"])
@access("citizen")
@idempotent
@blp.response(201, MyCampaignSchema, example=CLAIMED_EXAMPLE)
def claim_bonus(campaign_id: uuid.UUID):
    """Claim a completed challenge's bonus, once per campaign: incentive points, never reductions.

    Verified citizens only (403 `account_unverified`); no body; send an `Idempotency-Key`.
    Pays completions x bonus within my cap as a `bonus` entry on my statement; the claim is
    final for the campaign. Refused with nothing changed (409): `campaign_not_started`,
    `campaign_closed`, `campaign_not_completed`, `bonus_already_claimed`,
    `campaign_budget_exhausted` (no partial payment), `monthly_bonus_cap_reached`."""
    return my_campaign_view(progress_service.claim_bonus(user_id=g.user.id,
                                                         campaign_id=campaign_id))


@blp.route("/me/check-ins", methods=["POST"])
@access("citizen")
@blp.response(201, CheckInSchema, description="Checked in for today", example=CHECK_IN_EXAMPLE)
@blp.alt_response(200, schema=CheckInSchema, description="Already checked in today: nothing new",
                  example={**CHECK_IN_EXAMPLE, "created": False})
def check_in():
    """Check in for today (scheme day). Earns nothing by itself; counts for check-in campaigns.

    Citizens only; no body. 201 the first time today, 200 with `created: false` after that
    (nothing new is written). The current streak runs to today, or to yesterday until today
    is checked in."""
    result = checkin_service.check_in(user_id=g.user.id)
    body = {"day": result.day, "created": result.created,
            "current_streak": result.current_streak, "longest_streak": result.longest_streak}
    return body, 201 if result.created else 200


@blp.route("/me/achievements", methods=["GET"])
@access("citizen")
@blp.response(200, AchievementsSchema, example=ACHIEVEMENTS_EXAMPLE)
def my_achievements():
    """My level, badges and streaks, computed from my credited actions and check-ins.

    Citizens only. Levels by lifetime credited reduction: `seedling`, `sprout` (1 kg),
    `sapling` (10 kg), `tree` (100 kg), `forest` (1 t). Every badge is listed with `earned`;
    nothing is stored, so a reversal can take a badge back."""
    a = checkin_service.get_achievements(user_id=g.user.id)
    next_at = a["level"]["next_level_at_mg"]
    return {**a, "lifetime_reduction_g": mg_to_grams(a["lifetime_mg"]),
            "level": {**a["level"], "next_level_at_g": mg_to_grams(next_at)}}


@blp.route("/leaderboard/me", methods=["GET"])
@access("citizen")
@blp.arguments(MyRankArgsSchema, location="query", unknown=RAISE)
@blp.response(200, MyRankSchema, example=MY_RANK_EXAMPLE)
def my_rank(args):
    """My rank on this day's, week's or month's board, as the board orders it, and its size.

    Citizens only; `period` is `day`, `week` (default) or `month`. A citizen hidden from the
    board still sees where they would stand (`listed: false`); with no credited grams in the
    period `rank` is null."""
    return leaderboards.get_my_rank(user_id=g.user.id, period=args["period"])
