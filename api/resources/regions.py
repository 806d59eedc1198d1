"""The registry of Suzhou's districts and county-level cities (GB/T 2260 codes), public."""
from __future__ import annotations

from marshmallow import Schema, fields

from api.auth import access
from api.extensions import Blueprint
from carbon_credits.domain import regions as region_rules

blp = Blueprint("regions", __name__, url_prefix="/api/v1", description="Districts")


class RegionSchema(Schema):
    code = fields.String(metadata={"description": "GB/T 2260 code (SIP: statistical code)",
                                   "example": "320505"})
    name_zh = fields.String(metadata={"example": "虎丘区"})
    name_en = fields.String(metadata={"example": "Huqiu District (with Suzhou New District, 苏州高新区)"})
    kind = fields.String(metadata={"description": "district | county_level_city | development_zone"})
    statistical = fields.Boolean(metadata={
        "description": "true: not a GB/T 2260 division but an NBS statistical code (苏州工业园区 "
                       "320571), an assumption of this scheme"})
    parent = fields.String(metadata={"description": "The prefecture-level city, 320500 苏州市"})


class RegionListSchema(Schema):
    items = fields.List(fields.Nested(RegionSchema))
    retired_codes = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "Retired code -> the current code it is accepted and stored as",
        "example": {"320584": "320509"}})


@blp.route("/regions", methods=["GET"])
@access.public
@blp.response(200, RegionListSchema, example={
    "items": [{"code": "320505", "name_zh": "虎丘区",
               "name_en": "Huqiu District (with Suzhou New District, 苏州高新区)",
               "kind": "district", "statistical": False, "parent": "320500"},
              {"code": "320571", "name_zh": "苏州工业园区", "name_en": "Suzhou Industrial Park",
               "kind": "development_zone", "statistical": True, "parent": "320500"}],
    "retired_codes": {"320584": "320509"}})
def list_regions():
    """The districts a citizen, partner, station or action can belong to (docs/districts.md).

    Public, no login. Every `region` field and parameter of this API takes one of these
    codes; a retired code is still accepted and stored as its current one
    (`retired_codes`), any other is a 422. The list changes only with a release."""
    return {"items": list(region_rules.REGIONS), "retired_codes": region_rules.RETIRED_CODES}
