"""Citizen insights: my impact and the leaderboards."""
from __future__ import annotations

from flask import g
from marshmallow import RAISE, Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString
from carbon_credits.services import impact as impact_service
from carbon_credits.services import leaderboards as leaderboard_service

blp = Blueprint("insights", __name__, url_prefix="/api/v1", description="Impact and leaderboards")

ANY_ROLE = ("citizen", "merchant", "admin", "auditor")


class ImpactTotalSchema(Schema):
    actions = fields.Integer()
    reduction_g = GramsString(metadata={"description": "Credited reduction, grams CO2e"})
    points = fields.Integer()


class ImpactByTypeSchema(ImpactTotalSchema):
    action_type = fields.String()
    this_month_g = GramsString()
    last_month_g = GramsString()


class ImpactMonthSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM in the scheme's time zone"})
    actions = fields.Integer()
    reduction_g = GramsString()


class EquivalentSchema(Schema):
    kind = fields.String(metadata={"description": "tree_days | car_km_avoided | grid_kwh"})
    value = fields.String(metadata={"description": "Decimal string, 1 decimal"})
    unit = fields.String()
    description = fields.String()
    grams_per_unit = fields.String(metadata={"description": "Decimal string"})
    figure = fields.String(metadata={"description": "The published figure used"})
    source = fields.String()
    source_status = fields.String(metadata={"description": "doc | press | secondary | "
                                                           "scheme_design_choice"})
    reasoning = fields.String()


class ImpactSchema(Schema):
    timezone = fields.String()
    total = fields.Nested(ImpactTotalSchema)
    by_action_type = fields.List(fields.Nested(ImpactByTypeSchema))
    this_month = fields.Nested(ImpactMonthSchema)
    last_month = fields.Nested(ImpactMonthSchema)
    change_g = GramsString(metadata={"description": "This month minus last month"})
    equivalents = fields.List(fields.Nested(EquivalentSchema))


class LeaderboardArgsSchema(Schema):
    period = fields.String(load_default="week", validate=validate.OneOf(leaderboard_service.PERIODS))
    limit = fields.Integer(load_default=10,
                           validate=validate.Range(min=1, max=leaderboard_service.MAX_LIMIT))


class LeaderboardEntrySchema(Schema):
    rank = fields.Integer()
    display_name = fields.String()
    reduction_g = GramsString()


class LeaderboardSchema(Schema):
    period = fields.String()
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    timezone = fields.String()
    source = fields.String(metadata={"description": "redis | database"})
    items = fields.List(fields.Nested(LeaderboardEntrySchema))


@blp.route("/me/impact", methods=["GET"])
@access("citizen")
@blp.response(200, ImpactSchema)
def my_impact():
    """My credited reduction by action type, this month against last, and what it equals."""
    return impact_service.get_impact(user_id=g.user.id)


@blp.route("/leaderboard", methods=["GET"])
@access(*ANY_ROLE)
@blp.arguments(LeaderboardArgsSchema, location="query", unknown=RAISE)
@blp.response(200, LeaderboardSchema)
def leaderboard(args):
    """Top citizens by credited reduction this day, week or month (display names only)."""
    return leaderboard_service.get_leaderboard(period=args["period"], limit=args["limit"])
