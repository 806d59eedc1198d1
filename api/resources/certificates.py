"""Certified reduction lots: issuance (auditors), third-party verification statements
(verifiers), transfers and retirements (after a positive statement), public verification."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString
from api.idempotency import idempotent
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources import certificate_examples as ex
from carbon_credits.domain import certificates as rules
from carbon_credits.domain import verification as verification_rules
from carbon_credits.domain.vocabulary import (MAX_CERTIFICATE_UNITS, VERIFICATION_OPINIONS,
                                            mg_to_grams)
from carbon_credits.services import certificates as certificate_service

blp = Blueprint("certificates", __name__, url_prefix="/api/v1",
                description="Certified reduction lots and their serials")

SERIAL_FIELD = dict(validate=validate.Length(min=1, max=120),
                    metadata={"example": "CC-SH-METRO-2026-000000001"})
NOT_BLANK = validate.Regexp(r"\s*\S", error="Must not be blank.")
LOT_READERS = ("auditor", "admin", "verifier")  # verifiers read lots and actions, change nothing


class CertificateLotCreateSchema(Schema):
    methodology_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000000))
    period_from = fields.Date(required=True, metadata={"description": "First scheme day"})
    period_to = fields.Date(required=True, metadata={"description": "Last scheme day (inclusive)"})


class CertificateAmountSchema(Schema):
    quantity = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_CERTIFICATE_UNITS),
                              metadata={"description": "Units (the holder's lowest serials)"})
    first_serial = fields.String(**SERIAL_FIELD)
    last_serial = fields.String(**SERIAL_FIELD)


class CertificateTransferCreateSchema(CertificateAmountSchema):
    buyer_partner_id = fields.UUID(required=True)
    from_partner_id = fields.UUID(load_default=None,
                                  metadata={"description": "Current holder; omitted: the scheme"})


class CertificateRetirementCreateSchema(CertificateAmountSchema):
    holder_partner_id = fields.UUID(load_default=None,
                                    metadata={"description": "Holder retiring; omitted: the scheme"})
    beneficiary = fields.String(required=True, validate=validate.Length(min=1, max=200))
    purpose = fields.String(required=True, validate=validate.Length(min=3, max=500))
    event_id = fields.UUID(load_default=None, metadata={
        "description": "A carbon-neutral event to count the retirement for (docs/events.md): "
                       "holder_partner_id must be its buyer (422 `not_event_buyer`); unknown: "
                       "404 `event_not_found`"})


class CertificateLotArgsSchema(PageArgsSchema):
    methodology_code = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class CertificateMethodologySchema(Schema):
    code = fields.String()
    version = fields.Integer()


class CertificatePeriodSchema(Schema):
    period_from = fields.Date(data_key="from")
    period_to = fields.Date(data_key="to")


class LotVerificationStatusSchema(Schema):
    status = fields.String(metadata={"description": "unverified | positive | qualified | negative: "
                                                    "the opinion of the latest statement"})
    transferable = fields.Boolean(metadata={
        "description": "Serials may be transferred or retired: the latest statement is positive"})
    statement_id = fields.Integer(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)
    verifier_organisation = fields.String(allow_none=True)
    report_reference = fields.String(allow_none=True)


class CertificateLotSchema(Schema):
    id = fields.UUID()
    status = fields.String()
    verification = fields.Nested(LotVerificationStatusSchema)
    methodology = fields.Nested(CertificateMethodologySchema)
    period = fields.Nested(CertificatePeriodSchema)
    vintage_year = fields.Integer()
    serials = fields.String(metadata={"description": "The lot's serial range"})
    quantity = fields.Integer(metadata={"description": "Units issued"})
    unit_g = GramsString()
    issued_g = GramsString()
    issued_tco2e = fields.String(metadata={"example": "0.042000000"})
    verified_g = GramsString(metadata={"description": "Credited grams of the contributing actions"})
    remainder_unissued_g = GramsString(metadata={"description": "Below one unit: never issued"})
    action_count = fields.Integer(metadata={"description": "Contributing actions"})
    summary = fields.Dict(metadata={"description": "Frozen at issuance"})
    issued_at = fields.DateTime()
    review_period_days = fields.Integer(metadata={
        "description": "LOT_REVIEW_PERIOD_DAYS at issuance: the period ends at least this many "
                       "days before the day before issuance (scheme time zone)"})


class CertificateHoldingSchema(Schema):
    id = fields.UUID()
    serials = fields.String()
    quantity = fields.Integer()
    status = fields.String(metadata={"description": "active | retired"})
    holder_partner_id = fields.UUID(allow_none=True)
    holder = fields.String()
    beneficiary = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)


class CertificateEventSchema(Schema):
    event = fields.String()
    serials = fields.String()
    quantity = fields.Integer()
    from_partner_id = fields.UUID(allow_none=True)
    to_partner_id = fields.UUID(allow_none=True)
    beneficiary = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CertificateLotDetailSchema(CertificateLotSchema):
    holdings = fields.List(fields.Nested(CertificateHoldingSchema))
    events = fields.List(fields.Nested(CertificateEventSchema))


class CertificateMoveSchema(Schema):
    lot_id = fields.UUID()
    event = fields.String(metadata={"description": "transfer | retire"})
    quantity = fields.Integer()
    blocks = fields.List(fields.Nested(CertificateHoldingSchema))


class CertificateRetirementSchema(CertificateMoveSchema):
    event_id = fields.UUID(allow_none=True, metadata={
        "description": "The carbon-neutral event the retirement counts for; null: none"})
    certificate_id = fields.UUID(metadata={
        "description": "The signed retirement certificate: GET /api/v1/public/certificates/{id}"})


class PublicCertificateLotSchema(Schema):
    serials = fields.String()
    methodology = fields.Nested(CertificateMethodologySchema)
    period = fields.Nested(CertificatePeriodSchema)
    vintage_year = fields.Integer()
    quantity = fields.Integer()
    unit_g = GramsString()
    issued_tco2e = fields.String()
    action_count = fields.Integer()
    issued_at = fields.DateTime()


class PublicCertificateBlockSchema(Schema):
    serials = fields.String()
    quantity = fields.Integer()
    status = fields.String(metadata={"description": "active | retired"})
    holder = fields.String()
    beneficiary = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)


class SerialVerificationSchema(Schema):
    serial = fields.String()
    status = fields.String(metadata={"description": "active | retired | mixed (a range)"})
    lot = fields.Nested(PublicCertificateLotSchema)
    blocks = fields.List(fields.Nested(PublicCertificateBlockSchema))


CertificateLotPageSchema = page_schema(CertificateLotSchema, "CertificateLotPageSchema")


class CertificateLotActionSchema(Schema):
    action_id = fields.UUID()
    contributed_g = GramsString(metadata={"description": "This action's grams in the lot"})
    action_type = fields.String()
    mode = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    channel = fields.String()
    scheme_day = fields.Date()
    occurred_at = fields.DateTime()
    status = fields.String(metadata={"description": "The action's status now (credited)"})


CertificateLotActionPageSchema = page_schema(CertificateLotActionSchema,
                                             "CertificateLotActionPageSchema")


class LotVerificationCreateSchema(Schema):
    seed = fields.String(load_default=None, validate=validate.Regexp(
        verification_rules.SEED_RE, error="1-128 printable ASCII characters, no spaces."),
        metadata={"description": "Key of the sample's HMAC; omitted: the server draws one and "
                                 "records it", "example": "suzhou-2026-lot-7"})
    sample_size = fields.Integer(required=True, strict=True, validate=validate.Range(
        min=1, max=verification_rules.MAX_SAMPLE_SIZE), metadata={
        "description": "Contributing actions to sample (at most the lot's action count)"})
    findings = fields.String(required=True, validate=[validate.Length(min=1, max=20000), NOT_BLANK])
    opinion = fields.String(required=True, validate=validate.OneOf(VERIFICATION_OPINIONS),
                            metadata={"description": "Only `positive` lets the serials move"})
    verifier_organisation = fields.String(required=True,
                                          validate=[validate.Length(min=1, max=200), NOT_BLANK])
    report_reference = fields.String(required=True,
                                     validate=[validate.Length(min=1, max=200), NOT_BLANK])


class LotVerificationSchema(Schema):
    id = fields.Integer()
    lot_id = fields.UUID()
    opinion = fields.String(metadata={"description": "positive | qualified | negative"})
    unlocks_moves = fields.Boolean(metadata={"description": "The opinion is positive"})
    seed = fields.String()
    seed_drawn_by_server = fields.Boolean()
    sample_method = fields.String(metadata={"example": verification_rules.SAMPLE_METHOD})
    sample_size = fields.Integer()
    sampled_action_ids = fields.List(fields.UUID(), metadata={"description": "In draw order"})
    findings = fields.String()
    verifier_organisation = fields.String()
    report_reference = fields.String()
    verifier_user_id = fields.UUID()
    signed_at = fields.DateTime()


LotVerificationPageSchema = page_schema(LotVerificationSchema, "LotVerificationPageSchema")
VERIFICATION_EXAMPLE = {"seed": "suzhou-2026-lot-7", "sample_size": 3, "opinion": "positive",
                        "findings": "3 of 3 sampled actions traced to operator records; "
                                    "quantification matches SH-METRO v1.",
                        "verifier_organisation": "Jiangsu Carbon Verification Co.",
                        "report_reference": "JCV-2026-0042"}


def _verification_status(latest) -> dict:
    opinion = latest.opinion if latest is not None else None
    return {"status": verification_rules.verification_status(opinion),
            "transferable": verification_rules.unlocks_moves(opinion),
            "statement_id": getattr(latest, "id", None), "signed_at": getattr(latest, "signed_at", None),
            "verifier_organisation": getattr(latest, "verifier_organisation", None),
            "report_reference": getattr(latest, "report_reference", None)}


def statement_view(statement) -> dict:
    return {**{name: getattr(statement, name) for name in LotVerificationSchema().fields
               if name != "unlocks_moves"},
            "unlocks_moves": verification_rules.unlocks_moves(statement.opinion)}


def lot_view(lot, latest=None) -> dict:
    """A lot as admins, auditors and verifiers see it; `latest`: its latest statement."""
    return {
        "id": lot.id, "status": lot.status, "vintage_year": lot.vintage_year,
        "verification": _verification_status(latest),
        "methodology": {"code": lot.methodology_code, "version": lot.methodology_version},
        "period": {"period_from": lot.period_from, "period_to": lot.period_to},
        "serials": rules.format_range(lot.methodology_code, lot.vintage_year, lot.serial_start,
                                      lot.serial_end),
        "quantity": lot.quantity, "unit_g": mg_to_grams(lot.unit_mg),
        "issued_g": mg_to_grams(lot.issued_mg), "issued_tco2e": format(rules.tonnes(lot.issued_mg), "f"),
        "verified_g": mg_to_grams(lot.verified_mg),
        "remainder_unissued_g": mg_to_grams(lot.remainder_mg),
        "action_count": lot.action_count, "summary": lot.summary, "issued_at": lot.issued_at,
        "review_period_days": lot.review_period_days,
    }


def blocks_view(lot, blocks) -> list[dict]:
    names = certificate_service.partner_names(b.holder_partner_id for b in blocks)
    return [{"id": b.id, "serials": certificate_service.serials_of(lot, b), "quantity": b.quantity,
             "status": b.status, "holder_partner_id": b.holder_partner_id,
             "holder": names.get(b.holder_partner_id, "scheme issuance account"),
             "beneficiary": b.beneficiary, "purpose": b.purpose, "retired_at": b.retired_at}
            for b in blocks]


def _move_view(move) -> dict:
    return {"lot_id": move.lot.id, "event": move.event, "quantity": move.quantity,
            "blocks": blocks_view(move.lot, move.blocks)}


@blp.route("/admin/certificates/lots", methods=["POST"])
@access("auditor")
@idempotent
@blp.arguments(CertificateLotCreateSchema, example=ex.LOT_REQUEST)
@blp.response(201, CertificateLotSchema, example=ex.LOT)
def issue_lot(data):
    """Issue a lot from the verified, not yet certified reductions of a methodology version and period.

    Auditors only. The credited grams of the version's actions in the period become whole
    units with consecutive serials; what is left below one unit is never issued. The lot is
    `unverified` until a verifier signs a positive statement. Refused: a period not yet past
    its review period (422 `period_not_settled`), nothing to issue (409 `nothing_to_issue`),
    reductions already in another lot (409 `already_in_lot`). Send an `Idempotency-Key`."""
    return lot_view(certificate_service.issue_lot(actor_user_id=g.user.id, **data))


@blp.route("/admin/certificates/lots", methods=["GET"])
@access(*LOT_READERS)
@blp.arguments(CertificateLotArgsSchema, location="query")
@blp.response(200, CertificateLotPageSchema,
              example={"items": [ex.VERIFIED_LOT], "next_cursor": None})
def list_lots(args):
    """Issued lots, newest first.

    Auditors, admins and verifiers; `methodology_code` narrows to one methodology. Each lot
    shows its latest verification. Keyset pages: pass `next_cursor` back as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = certificate_service.list_lots(methodology_code=args["methodology_code"],
                                                after=after, limit=args["limit"])
    latest = certificate_service.latest_verifications(lot.id for lot in items)
    return {"items": [lot_view(lot, latest.get(lot.id)) for lot in items],
            "next_cursor": encode_cursor(last)}


@blp.route("/admin/certificates/lots/<uuid:lot_id>", methods=["GET"])
@access(*LOT_READERS)
@blp.response(200, CertificateLotDetailSchema, example=ex.LOT_DETAIL)
def get_lot(lot_id: uuid.UUID):
    """One lot: its frozen summary, contributing action count, verification, holdings and history.

    Auditors, admins and verifiers. `holdings` are the blocks of serials as they stand (who
    holds them, which are retired); `events` is the lot's history, oldest first. Unknown: 404."""
    lot = certificate_service.get_lot_or_raise(lot_id)
    events = certificate_service.lot_events(lot.id)
    return {**lot_view(lot, certificate_service.latest_verification(lot.id)),
            "holdings": blocks_view(lot, certificate_service.lot_holdings(lot.id)),
            "events": [{"event": e.event, "serials": certificate_service.serials_of(lot, e),
                        "quantity": e.quantity, "from_partner_id": e.from_partner_id,
                        "to_partner_id": e.to_partner_id, "beneficiary": e.beneficiary,
                        "purpose": e.purpose, "created_at": e.created_at} for e in events]}


@blp.route("/admin/certificates/lots/<uuid:lot_id>/actions", methods=["GET"])
@access(*LOT_READERS)
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, CertificateLotActionPageSchema, example=ex.LOT_ACTIONS)
def list_lot_actions(args, lot_id: uuid.UUID):
    """The lot's contributing actions and the grams each contributed, by action id.

    Auditors, admins and verifiers (a verifier traces sampled actions here). Ordered by action
    id; keyset pages as in the lot list. Unknown lot: 404."""
    after = decode_cursor(args["cursor"], converters=(uuid.UUID,))
    rows, last = certificate_service.lot_actions(lot_id=lot_id, after=after, limit=args["limit"])
    return {"items": [{**row._asdict(), "contributed_g": mg_to_grams(row.contributed_mg)}
                      for row in rows],
            "next_cursor": encode_cursor(last)}


@blp.route("/admin/certificates/lots/<uuid:lot_id>/verifications", methods=["POST"])
@access("verifier")
@idempotent
@blp.arguments(LotVerificationCreateSchema, example=VERIFICATION_EXAMPLE)
@blp.response(201, LotVerificationSchema, example=ex.STATEMENT)
def sign_verification(data, lot_id: uuid.UUID):
    """Sign a verification statement on a lot: a reproducible sample of its actions, findings, opinion.

    Verifiers only. The sample is drawn from the lot's actions with an HMAC keyed by `seed`
    (`sample_method`), so anyone with the seed can draw it again; without a seed the server
    draws one and records it. Statements are never changed: a later one supersedes. Only a
    `positive` opinion lets serials move. A sample larger than the lot is a 422
    (`sample_too_large`). Send an `Idempotency-Key`."""
    return statement_view(certificate_service.sign_verification(lot_id=lot_id,
                                                                 actor_user_id=g.user.id, **data))


@blp.route("/admin/certificates/lots/<uuid:lot_id>/verifications", methods=["GET"])
@access(*LOT_READERS)
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, LotVerificationPageSchema,
              example={"items": [ex.STATEMENT], "next_cursor": None})
def list_verifications(args, lot_id: uuid.UUID):
    """The lot's verification statements, newest first: the newest decides whether its serials move.

    Auditors, admins and verifiers; unknown lot: 404. Keyset pages: pass `next_cursor` back as
    `cursor`."""
    after = decode_cursor(args["cursor"], converters=(int,))
    rows, last = certificate_service.list_verifications(lot_id=lot_id, after=after,
                                                        limit=args["limit"])
    return {"items": [statement_view(row) for row in rows], "next_cursor": encode_cursor(last)}


@blp.route("/admin/certificates/lots/<uuid:lot_id>/transfers", methods=["POST"])
@access("admin", "auditor")
@idempotent
@blp.arguments(CertificateTransferCreateSchema, example=ex.TRANSFER_REQUEST)
@blp.response(201, CertificateMoveSchema, example=ex.TRANSFER)
def transfer(data, lot_id: uuid.UUID):
    """Transfer serials (a quantity or a range) to a registered enterprise buyer (after a positive verification).

    Admins and auditors. `quantity` moves the holder's lowest serials; `first_serial` and
    `last_serial` move a range. From the scheme unless `from_partner_id` names the holder.
    Refused: no positive latest statement (409 `lot_not_verified`), a buyer that is not an
    active enterprise buyer (422 `not_a_buyer`), too few serials held (409
    `insufficient_serials`), retired serials (409 `already_retired`). Send an
    `Idempotency-Key`."""
    return _move_view(certificate_service.transfer_serials(lot_id=lot_id, actor_user_id=g.user.id, **data))


@blp.route("/admin/certificates/lots/<uuid:lot_id>/retirements", methods=["POST"])
@access("admin", "auditor")
@idempotent
@blp.arguments(CertificateRetirementCreateSchema, example=ex.RETIREMENT_REQUEST)
@blp.response(201, CertificateRetirementSchema, example=ex.RETIREMENT)
def retire(data, lot_id: uuid.UUID):
    """Retire serials for an offset claim or a carbon-neutral event (after a positive verification).

    Admins and auditors, for serials the scheme or `holder_partner_id` holds. Retired serials
    never move again; a signed retirement certificate is issued
    (`GET /api/v1/public/certificates/{certificate_id}`). Refused as transfers are (409
    `lot_not_verified`, `insufficient_serials`, `already_retired`); with `event_id` the holder
    must be the event's buyer (422 `not_event_buyer`). Send an `Idempotency-Key`."""
    move = certificate_service.retire_serials(lot_id=lot_id, actor_user_id=g.user.id, **data)
    return {**_move_view(move), "event_id": data["event_id"], "certificate_id": move.certificate_id}


@blp.route("/certificates/serials/<string:serial>", methods=["GET"])
@access.public
@blp.response(200, SerialVerificationSchema, example=ex.SERIAL_VERIFICATION)
def verify_serial(serial: str):
    """Verify a serial or serial range: lot, methodology, period, status, retirement. No personal data.

    Public (no login). `status` is `mixed` when a range covers active and retired blocks;
    `blocks` are the blocks the serial or range touches. An unknown serial is a 404
    (`serial_not_found`)."""
    found = certificate_service.verify_serial(serial=serial)
    return {**found, "lot": lot_view(found["lot"])}
