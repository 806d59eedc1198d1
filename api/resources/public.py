"""Open data, no login (docs/open-data.md): monthly totals by scene or district with small-cell
suppression, the certified lots with their history, and carbon-neutral events (docs/events.md).
JSON, or CSV with `Accept: text/csv`; strong ETags and public caching, so a CDN or the city's portal can serve them."""
from __future__ import annotations

import datetime as dt
import uuid

from marshmallow import Schema, ValidationError, fields, validate, validates

from api.auth import access
from api.caching import public_json, public_response as _cached
from api.csvexport import csv_doc, csv_response, wants_csv
from api.extensions import Blueprint
from api.fields import GramsString
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources.certificates import PublicCertificateLotSchema, lot_view
from api.resources.events import (PUBLIC_EVENT_EXAMPLE, PublicEventPageSchema, PublicEventSchema,
                                  event_page_view, events_page_view, page_after)
from carbon_credits.config import get_settings
from carbon_credits.domain import certificates as certificate_rules
from carbon_credits.domain import metering
from carbon_credits.services import certificates as certificate_service
from carbon_credits.services import disclosure
from carbon_credits.services import events as event_service
from carbon_credits.services.leaderboards import scheme_today

blp = Blueprint("public", __name__, url_prefix="/api/v1/public",
                description="Open data: totals, certified lots, carbon-neutral events (no login)")

class TotalsArgsSchema(Schema):
    period = fields.String(load_default="month", validate=validate.OneOf(["month"]))
    group_by = fields.String(required=True, validate=validate.OneOf(tuple(disclosure.GROUPINGS)),
                             metadata={"example": "scene"})
    from_ = fields.String(data_key="from", load_default=None,
                          metadata={"description": "First month, YYYY-MM (default: 11 months "
                                    "before `to`)", "example": "2026-01"})
    to = fields.String(load_default=None, metadata={"description": "Last month, YYYY-MM "
                                                    "(default: this month)"})

    @validates("from_")
    def _from(self, value, **kwargs):
        _month(value)

    @validates("to")
    def _to(self, value, **kwargs):
        _month(value)


def _month(value):
    if value is not None:
        try:
            metering.parse_period(value)
        except ValueError:
            raise ValidationError("A month written YYYY-MM.") from None


class TotalSchema(Schema):
    period = fields.String(metadata={"example": "2026-11"})
    group = fields.String(metadata={"description": "The scene (`transit:metro`, "
                                    "`everyday:own_bag`, ...) or the district code"})
    actions = fields.Integer(allow_none=True)
    citizens = fields.Integer(allow_none=True)
    reduction_g = GramsString(allow_none=True)
    points = fields.Integer(allow_none=True)
    suppressed = fields.Boolean(metadata={"description": "Figures withheld: too few citizens "
                                          "(or the cell needed to protect one that has)"})


class PeriodTotalSchema(TotalSchema):
    group = fields.String(dump_default=None, allow_none=True,
                          metadata={"description": "Always null: the month's total"})


class TotalsSchema(Schema):
    period = fields.String()
    group_by = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    min_citizens = fields.Integer(metadata={"description": "No figure from fewer citizens"})
    items = fields.List(fields.Nested(TotalSchema))
    totals = fields.List(fields.Nested(PeriodTotalSchema), metadata={"description": "Per month"})


TOTALS_EXAMPLE = {
    "period": "month", "group_by": "scene", "from": "2026-11", "to": "2026-11", "min_citizens": 10,
    "items": [{"period": "2026-11", "group": "transit:metro", "actions": 48210, "citizens": 9120,
               "reduction_g": "31562810.000", "points": 31562810, "suppressed": False},
              {"period": "2026-11", "group": "everyday:e_receipt", "actions": None,
               "citizens": None, "reduction_g": None, "points": None, "suppressed": True}],
    "totals": [{"period": "2026-11", "group": None, "actions": 90412, "citizens": 15230,
                "reduction_g": "58211034.500", "points": 58211034, "suppressed": False}]}
TOTALS_CSV_EXAMPLE = ("period,scene,actions,citizens,reduction_g,points,suppressed\r\n"
                      "2026-11,transit:metro,48210,9120,31562810.000,31562810,False\r\n"
                      "2026-11,everyday:e_receipt,,,,,True\r\n")
TOTALS_DOC = csv_doc(TotalsSchema, example=TOTALS_EXAMPLE, csv_example=TOTALS_CSV_EXAMPLE)


@blp.route("/totals", methods=["GET"])
@access.public
@blp.arguments(TotalsArgsSchema, location="query")
@blp.response(200, TotalsSchema)
@blp.doc(**TOTALS_DOC)
def get_totals(args):
    """Monthly credited actions, citizens, reductions and points by scene or district.

    Open data, no login (docs/open-data.md). `group_by` is `scene` (`transit:metro`,
    `everyday:own_bag`, ...) or `district` (GB/T 2260 code); months `from`..`to` (YYYY-MM,
    default the last 12). Small-cell suppression: a cell with fewer than `min_citizens`
    citizens, or one that would let such a cell be worked out, has its figures withheld
    (`suppressed`, figures null). `Accept: text/csv` gives the same cells as a CSV
    attachment. Public caching with a strong `ETag`: send `If-None-Match` for a 304."""
    month_to = metering.parse_period(args["to"]) if args["to"] else scheme_today().replace(day=1)
    month_from = (metering.parse_period(args["from_"]) if args["from_"]
                  else metering.add_months(month_to, -11))
    report = disclosure.public_totals(group_by=args["group_by"], month_from=month_from,
                                      month_to=month_to,
                                      min_citizens=get_settings().public_min_citizens)
    if wants_csv():
        rows = [[i["period"], i["group"], *(i[m] for m in disclosure.MEASURES), i["suppressed"]]
                for i in report["items"]]
        csv = csv_response(["period", args["group_by"], *disclosure.MEASURES, "suppressed"], rows,
                           filename="totals.csv")
        return _cached(csv.get_data(), "text/csv",  # with its byte-order mark (api/csvexport)
                       f"totals-{args['group_by']}-{report['from']}-{report['to']}.csv")
    return public_json(TotalsSchema(), report)


# --- certified lots ----------------------------------------------------------------------------

class RegistryEventSchema(Schema):
    event = fields.String(metadata={"description": "issue | transfer | retire"})
    serials = fields.String()
    quantity = fields.Integer()
    from_holder = fields.String(allow_none=True, metadata={"description": "An enterprise buyer's "
                                "name, or null for the scheme's own registry account"})
    to_holder = fields.String(allow_none=True)
    beneficiary = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    at = fields.DateTime()


class PublicLotSchema(PublicCertificateLotSchema):
    id = fields.UUID()
    verification = fields.String(metadata={"description": "unverified | positive | qualified | "
                                           "negative: the latest third-party statement"})
    retired_quantity = fields.Integer()
    history = fields.List(fields.Nested(RegistryEventSchema))


PublicLotPageSchema = page_schema(PublicLotSchema, "PublicLotPageSchema")

# A January metro lot: part moved to an enterprise buyer and retired for an event (a real run's
# shape; the retirement is the one on PUBLIC_EVENT_EXAMPLE's page).
PUBLIC_LOT_EXAMPLE = {
    "id": "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d", "serials": "CC-SH-METRO-2026-000000001-000040000",
    "methodology": {"code": "SH-METRO", "version": 1},
    "period": {"from": "2026-01-01", "to": "2026-01-31"}, "vintage_year": 2026,
    "quantity": 40000, "unit_g": "1000.000", "issued_tco2e": "40.000000000",
    "action_count": 41237, "issued_at": "2026-02-10T02:00:00+00:00", "verification": "positive",
    "retired_quantity": 12500,
    "history": [
        {"event": "issue", "serials": "CC-SH-METRO-2026-000000001-000040000", "quantity": 40000,
         "from_holder": None, "to_holder": None, "beneficiary": None, "purpose": None,
         "at": "2026-02-10T02:00:00+00:00"},
        {"event": "transfer", "serials": "CC-SH-METRO-2026-000000001-000012500",
         "quantity": 12500, "from_holder": None, "to_holder": "Acme Steel Ltd",
         "beneficiary": None, "purpose": None, "at": "2026-03-01T03:00:00+00:00"},
        {"event": "retire", "serials": "CC-SH-METRO-2026-000000001-000012500", "quantity": 12500,
         "from_holder": "Acme Steel Ltd", "to_holder": None,
         "beneficiary": "Suzhou Marathon 2026", "purpose": "Event neutrality",
         "at": "2026-03-20T06:30:00+00:00"}]}


def public_lot(lot, latest, events, names) -> dict:
    """A lot as the open data shows it (the public page renders the same view)."""
    view = lot_view(lot, latest)
    view["verification"] = view["verification"]["status"]
    view["retired_quantity"] = sum(e.quantity for e in events if e.event == "retire")
    view["history"] = [{
        "event": e.event, "quantity": e.quantity,
        "serials": certificate_rules.format_range(lot.methodology_code, lot.vintage_year,
                                                  e.serial_start, e.serial_end),
        "from_holder": names.get(e.from_partner_id), "to_holder": names.get(e.to_partner_id),
        "beneficiary": e.beneficiary, "purpose": e.purpose, "at": e.created_at} for e in events]
    return view


@blp.route("/lots", methods=["GET"])
@access.public
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, PublicLotPageSchema, example={"items": [PUBLIC_LOT_EXAMPLE],
                                                "next_cursor": None})
def list_public_lots(args):
    """Certified lots, newest first, with every issue, transfer and retirement.

    Open data, no login. Each lot gives its serial range, methodology version, period and
    vintage, unit (1 unit = `unit_g` grams), the latest third-party verification opinion and
    its registry history: who holds which serials and which were retired, for whom and why
    (enterprise buyers by registered name; null is the scheme's own account). Keyset pages;
    strong `ETag` with `If-None-Match` for a 304."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = public_lots(after=after, limit=args["limit"])
    return public_json(PublicLotPageSchema(), {"items": items, "next_cursor": encode_cursor(last)})


def public_lots(*, after, limit: int) -> tuple[list[dict], object]:
    """A page of lots as the open data shows them (the public page renders the same views)."""
    lots, last = certificate_service.list_lots(after=after, limit=limit)
    ids = [lot.id for lot in lots]
    events = certificate_service.events_by_lot(ids)
    latest = certificate_service.latest_verifications(ids)
    names = certificate_service.partner_names(
        {p for evs in events.values() for e in evs for p in (e.from_partner_id, e.to_partner_id)})
    return [public_lot(lot, latest.get(lot.id), events.get(lot.id, []), names)
            for lot in lots], last


# --- carbon-neutral events ---------------------------------------------------------------------

@blp.route("/events", methods=["GET"])
@access.public
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, PublicEventPageSchema, example={
    "items": [{k: v for k, v in PUBLIC_EVENT_EXAMPLE.items() if k != "retirements"}],
    "next_cursor": None})
def list_public_events(args):
    """Carbon-neutral events, newest first: footprint, grams retired, shortfall, neutral.

    Open data, no login (docs/events.md). `neutral` is true only when the serials retired
    against the event cover its whole footprint; `shortfall_g` is what is left. The serials
    themselves are on each event's page. Keyset pages; strong `ETag` with `If-None-Match`
    for a 304."""
    events, last = event_service.list_events(after=page_after(args["cursor"]), limit=args["limit"])
    return public_json(PublicEventPageSchema(), events_page_view(events, last))


@blp.route("/events/<uuid:event_id>", methods=["GET"])
@access.public
@blp.response(200, PublicEventSchema, example=PUBLIC_EVENT_EXAMPLE)
def get_public_event(event_id: uuid.UUID):
    """An event's footprint, the serials retired against it, and `neutral` only when they cover it.

    Open data, no login. The footprint and how it was computed (`footprint_basis`), the
    enterprise buyer answerable for it, and each retirement against it, oldest first, with
    its serials and lot, so anyone can check them with the public serial lookup. An unknown
    id is a 404 (`event_not_found`). Strong `ETag` with `If-None-Match` for a 304."""
    return public_json(PublicEventSchema(), event_page_view(event_service.event_page(event_id)))
