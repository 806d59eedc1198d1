"""Carbon-neutral events (docs/events.md): admins record an event's footprint and its enterprise
buyer; the buyer's certified serials are retired against it
(`POST /admin/certificates/lots/{id}/retirements` with `event_id`); the public page is
`GET /public/events/{id}` (api/resources/public.py)."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString, RegionCode
from api.idempotency import idempotent
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources.certificates import NOT_BLANK, CertificateMethodologySchema
from carbon_credits.domain.vocabulary import EVENT_KINDS, MAX_EVENT_FOOTPRINT_G, mg_to_grams
from carbon_credits.services import events as event_service

blp = Blueprint("events", __name__, url_prefix="/api/v1",
                description="Carbon-neutral events: footprints and the serials retired for them")

EVENT_READERS = ("admin", "auditor")


class EventCreateSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    kind = fields.String(required=True, validate=validate.OneOf(EVENT_KINDS))
    organiser = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    buyer_partner_id = fields.UUID(required=True, metadata={
        "description": "The enterprise buyer answerable for the event's neutrality: only it "
                       "retires serials against the event"})
    region = RegionCode(load_default=None, allow_none=True, metadata={
        "description": "Where it takes place (GB/T 2260 code, GET /api/v1/regions); null: unstated"})
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True, metadata={
        "description": "Inclusive; not before starts_on, at most 366 days in all"})
    footprint_g = fields.Integer(required=True, strict=True,
                                 validate=validate.Range(min=1, max=MAX_EVENT_FOOTPRINT_G),
                                 metadata={"description": "The footprint in whole grams CO2e; "
                                                          "never edited afterwards"})
    footprint_basis = fields.String(required=True,
                                    validate=[validate.Length(min=1, max=20000), NOT_BLANK],
                                    metadata={"description": "How the footprint was computed"})
    footprint_report_ref = fields.String(load_default=None, allow_none=True,
                                         validate=[validate.Length(min=1, max=200), NOT_BLANK],
                                         metadata={"description": "The footprint report it "
                                                                  "comes from, if any"})


class EventFiguresSchema(Schema):
    footprint_g = GramsString(metadata={"description": "The recorded footprint"})
    retired_g = GramsString(metadata={"description": "Grams of the serials retired against it"})
    shortfall_g = GramsString(metadata={"description": "What is left to retire (0 when neutral)"})
    retired_quantity = fields.Integer(metadata={"description": "Serials retired against it"})
    neutral = fields.Boolean(metadata={"description": "True only when the retirements cover "
                                                      "the whole footprint"})


class PublicEventSummarySchema(EventFiguresSchema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String(metadata={"description": " | ".join(EVENT_KINDS)})
    organiser = fields.String()
    buyer = fields.String(metadata={"description": "The enterprise buyer's registered name"})
    region = fields.String(allow_none=True)
    starts_on = fields.Date()
    ends_on = fields.Date()
    footprint_basis = fields.String()
    footprint_report_ref = fields.String(allow_none=True)
    created_at = fields.DateTime()


class EventSchema(PublicEventSummarySchema):
    buyer_partner_id = fields.UUID()
    created_by = fields.UUID()


class EventRetirementSchema(Schema):
    serials = fields.String()
    lot_id = fields.UUID()
    methodology = fields.Nested(CertificateMethodologySchema)
    vintage_year = fields.Integer()
    quantity = fields.Integer()
    retired_g = GramsString()
    buyer = fields.String(metadata={"description": "Who retired them: the event's buyer"})
    beneficiary = fields.String()
    purpose = fields.String()
    retired_at = fields.DateTime()


class PublicEventSchema(PublicEventSummarySchema):
    retirements = fields.List(fields.Nested(EventRetirementSchema),
                              metadata={"description": "Oldest first"})


EventPageSchema = page_schema(EventSchema, "EventPageSchema")
PublicEventPageSchema = page_schema(PublicEventSummarySchema, "PublicEventPageSchema")

EVENT_EXAMPLE = {
    "name": "Suzhou Marathon 2026", "kind": "marathon", "organiser": "Suzhou Sports Bureau",
    "buyer_partner_id": "3f0c2a9e-5b7d-4e61-9a43-1c2d3e4f5a6b", "region": "320508",
    "starts_on": "2026-03-15", "ends_on": "2026-03-15", "footprint_g": 12500000,
    "footprint_basis": "Runner and spectator travel (survey of 2,000 of 30,000 runners, "
                       "DEFRA 2024 factors), venue energy from meter readings, catering and "
                       "waste from supplier invoices.",
    "footprint_report_ref": "SZM-2026-FP-01"}
PUBLIC_EVENT_EXAMPLE = {
    "id": "9b1e4c2a-7d3f-4a58-b6e0-2f1c3d4e5a6b", "name": "Suzhou Marathon 2026",
    "kind": "marathon", "organiser": "Suzhou Sports Bureau", "buyer": "Acme Steel Ltd",
    "region": "320508", "starts_on": "2026-03-15", "ends_on": "2026-03-15",
    "footprint_basis": EVENT_EXAMPLE["footprint_basis"], "footprint_report_ref": "SZM-2026-FP-01",
    "created_at": "2026-02-01T02:00:00+00:00", "footprint_g": "12500000.000",
    "retired_g": "12500000.000", "shortfall_g": "0.000", "retired_quantity": 12500,
    "neutral": True,
    "retirements": [{"serials": "CC-SH-METRO-2026-000000001-000012500",
                     "lot_id": "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
                     "methodology": {"code": "SH-METRO", "version": 1}, "vintage_year": 2026,
                     "quantity": 12500, "retired_g": "12500000.000", "buyer": "Acme Steel Ltd",
                     "beneficiary": "Suzhou Marathon 2026", "purpose": "Event neutrality",
                     "retired_at": "2026-03-20T06:30:00+00:00"}]}

EVENT_VIEW_EXAMPLE = {
    **{k: v for k, v in PUBLIC_EVENT_EXAMPLE.items() if k != "retirements"},
    "buyer_partner_id": EVENT_EXAMPLE["buyer_partner_id"],
    "created_by": "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "retired_g": "0.000",
    "shortfall_g": "12500000.000", "retired_quantity": 0, "neutral": False}


def event_view(event, buyer: str | None, figures: dict) -> dict:
    """An event with its figures in grams (integers in milligrams inside, never floats)."""
    return {"id": event.id, "name": event.name, "kind": event.kind, "organiser": event.organiser,
            "buyer": buyer, "buyer_partner_id": event.buyer_partner_id, "region": event.region,
            "starts_on": event.starts_on, "ends_on": event.ends_on,
            "footprint_basis": event.footprint_basis,
            "footprint_report_ref": event.footprint_report_ref, "created_by": event.created_by,
            "created_at": event.created_at, "footprint_g": mg_to_grams(figures["footprint_mg"]),
            "retired_g": mg_to_grams(figures["retired_mg"]),
            "shortfall_g": mg_to_grams(figures["shortfall_mg"]),
            "retired_quantity": figures["retired_quantity"], "neutral": figures["neutral"]}


def event_views(events: list) -> list[dict]:
    """Events with their figures (two statements whatever their number)."""
    retired = event_service.retired_by_event(e.id for e in events)
    names = event_service.buyer_names(events)
    return [event_view(e, names.get(e.buyer_partner_id),
                       event_service.summary(e, *retired.get(e.id, (0, 0)))) for e in events]


def events_page_view(events: list, last) -> dict:
    return {"items": event_views(events), "next_cursor": encode_cursor(last)}


def event_page_view(page: dict) -> dict:
    """The public page of one event, as `event_service.event_page` gives it."""
    view = event_view(page["event"], page["buyer"], page)
    view["retirements"] = [{**r, "retired_g": mg_to_grams(r["retired_mg"])}
                           for r in page["retirements"]]
    return view


def page_after(cursor: str | None):
    return decode_cursor(cursor, converters=(dt.datetime.fromisoformat, uuid.UUID))


@blp.route("/admin/events", methods=["POST"])
@access("admin")
@idempotent
@blp.arguments(EventCreateSchema, example=EVENT_EXAMPLE)
@blp.response(201, EventSchema, example=EVENT_VIEW_EXAMPLE)
def create_event(data):
    """Record an event's footprint and the enterprise buyer answerable for its neutrality.

    Admins only; send an `Idempotency-Key` to retry safely. The footprint (whole grams) and
    its basis are never edited afterwards. Only the buyer's serials can then be retired
    against the event (`POST /api/v1/admin/certificates/lots/{id}/retirements` with
    `event_id`); its public page is `GET /api/v1/public/events/{id}`. A buyer that is not an
    active enterprise buyer is a 422 (`not_a_buyer`), as are dates out of order or an event
    longer than 366 days. The creation is audited."""
    (view,) = event_views([event_service.create_event(actor_user_id=g.user.id, **data)])
    return view


@blp.route("/admin/events", methods=["GET"])
@access(*EVENT_READERS)
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, EventPageSchema, example={"items": [{
    **EVENT_VIEW_EXAMPLE, "retired_g": "12500000.000", "shortfall_g": "0.000",
    "retired_quantity": 12500, "neutral": True}], "next_cursor": None})
def list_events(args):
    """Events, newest first, with their footprint, retirements so far and whether each is neutral.

    Admins and auditors. As on the public list, plus the buyer's partner id and who recorded
    the event. Keyset pages: pass `next_cursor` back as `cursor`."""
    events, last = event_service.list_events(after=page_after(args["cursor"]), limit=args["limit"])
    return events_page_view(events, last)
