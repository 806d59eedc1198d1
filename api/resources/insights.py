"""Citizen insights: my impact and the leaderboards."""
from __future__ import annotations

from decimal import Decimal

from flask import g
from marshmallow import RAISE, Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString
from carbon_credits.domain.impact import equivalents_for
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


def _by_type(action_type, actions, grams, points, this_month, last_month) -> dict:
    return {"action_type": action_type, "actions": actions, "reduction_g": grams,
            "points": points, "this_month_g": this_month, "last_month_g": last_month}


# Examples for the API document (the shape of a real answer; the equivalents are computed by
# the same rule the service uses, so their figures and sources are the published ones).
IMPACT_EXAMPLE = {
    "timezone": "Asia/Shanghai",
    "total": {"actions": 37, "reduction_g": "12840.500", "points": 12840},
    "by_action_type": [
        _by_type("transit", 31, "9840.000", 9840, "3480.000", "4120.000"),
        _by_type("ev_charging", 0, "0.000", 0, "0.000", "0.000"),
        _by_type("waste_sorting", 0, "0.000", 0, "0.000", "0.000"),
        _by_type("everyday", 6, "3000.500", 3000, "400.000", "1000.500"),
        _by_type("household_energy", 0, "0.000", 0, "0.000", "0.000")],
    "this_month": {"month": "2026-12", "actions": 9, "reduction_g": "3880.000"},
    "last_month": {"month": "2026-11", "actions": 14, "reduction_g": "5120.500"},
    "change_g": "-1240.500",
    "equivalents": EquivalentSchema(many=True).dump(equivalents_for(Decimal("12840.500")))}
LEADERBOARD_EXAMPLE = {
    "period": "week", "from": "2026-11-30", "to": "2026-12-06", "timezone": "Asia/Shanghai",
    "source": "redis",
    "items": [{"rank": 1, "display_name": "Ana", "reduction_g": "48210.000"},
              {"rank": 2, "display_name": "Citizen 7d41c9e2", "reduction_g": "39115.500"},
              {"rank": 3, "display_name": "Bo W.", "reduction_g": "31002.000"}]}


@blp.route("/me/impact", methods=["GET"])
@access("citizen")
@blp.response(200, ImpactSchema, example=IMPACT_EXAMPLE)
def my_impact():
    """My credited reduction by action type, this month against last, and what it equals.

    Citizens only. Counts credited actions (not pending, rejected or reversed ones), every
    action type listed even at zero; months are calendar months of the scheme's time zone.
    `equivalents` turn the total into tree-days, car kilometres and grid kWh, each with the
    published figure, its source and why it was chosen."""
    return impact_service.get_impact(user_id=g.user.id)


@blp.route("/leaderboard", methods=["GET"])
@access(*ANY_ROLE)
@blp.arguments(LeaderboardArgsSchema, location="query", unknown=RAISE)
@blp.response(200, LeaderboardSchema, example=LEADERBOARD_EXAMPLE)
def leaderboard(args):
    """Top citizens by credited reduction this day, week or month (display names only).

    Any signed-in user. `period` is the scheme day, ISO week (from Monday) or month that
    contains today (`from`..`to`); `limit` 1-100 (default 10). Each citizen appears under
    their display name or a stable pseudonym, or not at all, as they chose; no ids or contact
    data. `source` says whether the board came from Redis or the database."""
    return leaderboard_service.get_leaderboard(period=args["period"], limit=args["limit"])
