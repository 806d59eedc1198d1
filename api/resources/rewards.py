"""The rewards marketplace: public catalog, merchants' rewards, citizens' redemptions and
vouchers, merchant confirmation and settlement."""
from __future__ import annotations

import datetime as dt
import io
import uuid
import zoneinfo

import segno
from flask import request, Response, g, url_for
from marshmallow import (Schema, ValidationError, fields, post_load, validate, validates,
                         validates_schema)

from api.auth import access
from api.csvexport import csv_doc, csv_response, wants_csv
from api.extensions import Blueprint
from api.fields import AwareDateTime, StrictBoolean
from api.idempotency import idempotent
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources import reward_examples as ex
from carbon_credits.config import get_settings
from carbon_credits.domain import vouchers
from carbon_credits.services import rewards as reward_service
from carbon_credits.services.rewards import lookup as voucher_lookup
from carbon_credits.domain.merchants import image_url_problem
from carbon_credits.domain.vocabulary import (MAX_IMAGE_URL_LENGTH, MAX_PER_CITIZEN_LIMIT,
                                            MAX_POINTS_COST, MAX_STOCK, REWARD_CATEGORIES)

blp = Blueprint("rewards", __name__, url_prefix="/api/v1",
                description="Rewards catalog, redemptions and vouchers, merchant settlement")

def _cursor(args):
    return decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))


# ---------------------------------------------------------------------------------------------
# Schemas


class RewardSchema(Schema):
    id = fields.UUID()
    partner_id = fields.UUID()
    merchant_name = fields.String(metadata={"description": "The merchant's name",
                                            "example": "Green Leaf Tea House"})
    title = fields.String()
    description = fields.String()
    category = fields.String(metadata={"enum": list(REWARD_CATEGORIES)})
    image_url = fields.String(allow_none=True, metadata={
        "example": "https://cdn.example.com/rewards/oat-latte.jpg"})
    points_cost = fields.Integer()
    stock = fields.Integer(metadata={"description": "Units left to reserve"})
    valid_from = fields.DateTime()
    valid_until = fields.DateTime()
    per_citizen_limit = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


def _image_url(value):
    problem = image_url_problem(value) if value else None
    if problem:
        raise ValidationError(problem)


def _reward_fields(required: bool) -> dict:
    opts = {"required": True} if required else {}
    return {
        "title": fields.String(validate=validate.Length(min=1, max=120), **opts),
        "description": fields.String(validate=validate.Length(max=2000),
                                     **({"load_default": ""} if required else {})),
        "points_cost": fields.Integer(strict=True, validate=validate.Range(1, MAX_POINTS_COST), **opts),
        "stock": fields.Integer(strict=True, validate=validate.Range(0, MAX_STOCK), **opts),
        "valid_from": AwareDateTime(**opts),
        "valid_until": AwareDateTime(**opts),
        "per_citizen_limit": fields.Integer(strict=True,
                                            validate=validate.Range(1, MAX_PER_CITIZEN_LIMIT),
                                            **({"load_default": 1} if required else {})),
        "active": StrictBoolean(**({"load_default": True} if required else {})),
        "category": fields.String(validate=validate.OneOf(REWARD_CATEGORIES),
                                  **({"load_default": "other"} if required else {})),
        "image_url": fields.String(allow_none=True, validate=[
            validate.Length(max=MAX_IMAGE_URL_LENGTH), _image_url],
            metadata={"description": "https:// only, no credentials; null or \"\" removes it"},
            **({"load_default": None} if required else {})),
    }


class _WindowCheck(Schema):
    @validates_schema
    def _window(self, data, **kwargs):
        if "valid_from" in data and "valid_until" in data and data["valid_until"] <= data["valid_from"]:
            raise ValidationError("Must be after valid_from.", "valid_until")


RewardCreateSchema = type("RewardCreateSchema", (_WindowCheck,), _reward_fields(True))
RewardUpdateSchema = type("RewardUpdateSchema", (_WindowCheck,), _reward_fields(False))
RewardPageSchema = page_schema(RewardSchema, "RewardPageSchema")


class RewardQueryArgsSchema(PageArgsSchema):
    category = fields.String(load_default=None, validate=validate.OneOf(REWARD_CATEGORIES))


class RedemptionCreateSchema(Schema):
    reward_id = fields.UUID(required=True)


class RedemptionSchema(Schema):
    id = fields.UUID()
    reward_id = fields.UUID()
    reward_title = fields.String(attribute="reward.title")
    status = fields.String(metadata={"enum": ["reserved", "redeemed", "cancelled", "expired"]})
    points = fields.Integer()
    voucher_code = fields.Function(lambda r: vouchers.display(r.voucher_code),
                                   metadata={"description": "Show it or its QR at the merchant"})
    qr_url = fields.Function(lambda r: url_for("rewards.redemption_qr", redemption_id=r.id))
    expires_at = fields.DateTime()
    reserved_at = fields.DateTime()
    redeemed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    expired_at = fields.DateTime(allow_none=True)


RedemptionPageSchema = page_schema(RedemptionSchema, "RedemptionPageSchema")


class VoucherConfirmSchema(Schema):
    voucher_code = fields.String(required=True, validate=validate.Length(min=1, max=32))

    @validates("voucher_code")
    def _format(self, value, **kwargs):
        if vouchers.normalise(value) is None:
            raise ValidationError("Not a voucher code (10 characters, e.g. ABCDE-12345).")


class ConfirmedRedemptionSchema(Schema):
    """What merchant staff see: the voucher and the reward, nothing about the citizen."""
    id = fields.UUID()
    reward_id = fields.UUID()
    reward_title = fields.String(attribute="reward.title")
    status = fields.String()
    points = fields.Integer()
    voucher_code = fields.Function(lambda r: vouchers.display(r.voucher_code))
    redeemed_at = fields.DateTime()


class VoucherLookupSchema(Schema):
    """What merchant staff see of one of their vouchers before confirming it: the holder only
    masked (first character and two stars), never their e-mail, phone or id."""
    id = fields.UUID()
    voucher_code = fields.String(metadata={"example": "ABCDE-12345"})
    reward_id = fields.UUID()
    reward_title = fields.String()
    points = fields.Integer()
    status = fields.String(metadata={"enum": ["reserved", "redeemed", "cancelled", "expired"]})
    holder = fields.String(metadata={"description": "The holder's display name, masked",
                                     "example": "王**"})
    expires_at = fields.DateTime(metadata={"description": "Valid until (then it is expired)"})
    reserved_at = fields.DateTime()
    redeemed_at = fields.DateTime(allow_none=True)
    confirmable = fields.Boolean(metadata={"description": "Whether confirming it now succeeds"})
    refusal_code = fields.String(allow_none=True, metadata={
        "description": "Why not: the 409 code confirming would answer",
        # null listed too: in OpenAPI 3.0 `nullable` does not widen an `enum`
        "enum": ["already_redeemed", "voucher_cancelled", "voucher_expired", None]})
    refusal_detail = fields.String(allow_none=True)


SETTLEMENT_DAYS = validate.Range(min=dt.date(2000, 1, 1), max=dt.date(2999, 12, 31))


class SettlementArgsSchema(Schema):
    date_from = fields.Date(data_key="from", load_default=None, validate=SETTLEMENT_DAYS,
                            metadata={"description": "First scheme day (default: 30 days ago)"})
    date_to = fields.Date(data_key="to", load_default=None, validate=SETTLEMENT_DAYS,
                          metadata={"description": "Last scheme day, inclusive (default: today)"})

    @post_load
    def _defaults(self, data, **kwargs):
        today = dt.datetime.now(zoneinfo.ZoneInfo(get_settings().scheme_timezone)).date()
        data["date_to"] = data["date_to"] or today
        data["date_from"] = data["date_from"] or data["date_to"] - dt.timedelta(days=29)
        return data


class AdminSettlementArgsSchema(SettlementArgsSchema):
    partner_id = fields.UUID(required=True)


class SettlementLineSchema(Schema):
    date = fields.Date(metadata={"description": "Day in the scheme's time zone"})
    reward_id = fields.UUID()
    reward_title = fields.String()
    vouchers_confirmed = fields.Integer()
    points_redeemed = fields.Integer()


class SettlementSchema(Schema):
    partner_id = fields.UUID()
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    timezone = fields.String()
    items = fields.List(fields.Nested(SettlementLineSchema))
    total_vouchers_confirmed = fields.Integer()
    total_points_redeemed = fields.Integer()


SETTLEMENT_COLUMNS = ["date", "reward_id", "reward_title", "vouchers_confirmed", "points_redeemed"]


def _settlement_out(settlement: dict):
    if not wants_csv():
        return settlement
    rows = ([item["date"].isoformat(), str(item["reward_id"]), item["reward_title"],
             item["vouchers_confirmed"], item["points_redeemed"]] for item in settlement["items"])
    return csv_response(SETTLEMENT_COLUMNS, rows,
                        filename=f"settlement-{settlement['from']}-{settlement['to']}.csv")


class SettlementLinesArgsSchema(SettlementArgsSchema):
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


class AdminSettlementLinesArgsSchema(SettlementLinesArgsSchema):
    partner_id = fields.UUID(required=True)


class SettlementVoucherLineSchema(Schema):
    redemption_id = fields.UUID()
    voucher_code = fields.String(metadata={"example": "ABCDE-12345"})
    reward_id = fields.UUID()
    reward_title = fields.String()
    points = fields.Integer()
    redeemed_at = fields.DateTime()
    confirmed_by = fields.UUID(metadata={"description": "The staff member who confirmed it"})
    holder = fields.String(metadata={"description": "The holder's display name, masked",
                                     "example": "王**"})


class SettlementLinesSchema(Schema):
    partner_id = fields.UUID()
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    timezone = fields.String()
    items = fields.List(fields.Nested(SettlementVoucherLineSchema))
    next_cursor = fields.String(allow_none=True)
    total_vouchers_confirmed = fields.Integer(metadata={"description": "Of the whole period"})
    total_points_redeemed = fields.Integer(metadata={"description": "Of the whole period"})


SETTLEMENT_LINE_COLUMNS = ["redemption_id", "voucher_code", "reward_id", "reward_title", "points",
                           "redeemed_at", "confirmed_by", "holder"]


def _lines_period(args) -> dict:
    """The service's arguments: a page after the cursor, or with `Accept: text/csv` all."""
    period = {"date_from": args["date_from"], "date_to": args["date_to"]}
    if wants_csv():
        return {**period, "whole_period": True}
    return {**period, "limit": args["limit"], "after": decode_cursor(
        args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))}


def _lines_out(lines: dict):
    if not wants_csv():
        return {**lines, "next_cursor": encode_cursor(lines["next_cursor"])}
    rows = ([str(line["redemption_id"]), line["voucher_code"], str(line["reward_id"]),
             line["reward_title"], line["points"], line["redeemed_at"].isoformat(),
             str(line["confirmed_by"]), line["holder"]] for line in lines["items"])
    return csv_response(SETTLEMENT_LINE_COLUMNS, rows,
                        filename=f"settlement-lines-{lines['from']}-{lines['to']}.csv")


# ---------------------------------------------------------------------------------------------
# Public catalog


@blp.route("/rewards", methods=["GET"])
@access.public
@blp.arguments(RewardQueryArgsSchema, location="query")
@blp.response(200, RewardPageSchema, example=ex.page(ex.REWARD))
def catalog(args):
    """Rewards a citizen can reserve now, with their merchant's name.

    Public (no login). Only active rewards in stock and inside their validity window are listed,
    newest first; `category` narrows to one category. Keyset pages: pass `next_cursor` back as
    `cursor` (null: the last page)."""
    items, last = reward_service.list_catalog(after=_cursor(args), limit=args["limit"],
                                              category=args["category"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/rewards/<uuid:reward_id>", methods=["GET"])
@access.public
@blp.response(200, RewardSchema, example=ex.REWARD)
def get_reward(reward_id: uuid.UUID):
    """One active reward (also when sold out or not yet open).

    Public. A sold-out reward shows `stock: 0`; an inactive or unknown one is a 404."""
    return reward_service.get_catalog_reward_or_raise(reward_id)


# ---------------------------------------------------------------------------------------------
# Merchant staff


@blp.route("/merchant/rewards", methods=["POST"])
@access("merchant")
@idempotent
@blp.arguments(RewardCreateSchema, example=ex.REWARD_CREATE)
@blp.response(201, RewardSchema, example=ex.REWARD)
def create_reward(data):
    """Add a reward to my merchant's catalog.

    Merchant staff of an active merchant (403 `merchant_unbound` without one, 403
    `merchant_suspended`). `valid_until` must be after `valid_from` (422); `category` defaults to
    `other`, `per_citizen_limit` to 1. Send an `Idempotency-Key` to retry safely."""
    return reward_service.create_reward(merchant_user=g.user, **data)


@blp.route("/merchant/rewards", methods=["GET"])
@access("merchant")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, RewardPageSchema, example=ex.page(ex.REWARD, next_cursor=None))
def list_merchant_rewards(args):
    """My merchant's rewards, newest first, active or not.

    Merchant staff; keyset pages as in `GET /api/v1/rewards`."""
    items, last = reward_service.list_merchant_rewards(merchant_user=g.user, after=_cursor(args),
                                                       limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/merchant/rewards/<uuid:reward_id>", methods=["GET"])
@access("merchant")
@blp.response(200, RewardSchema, example=ex.REWARD)
def get_merchant_reward(reward_id: uuid.UUID):
    """One of my merchant's rewards, with the ETag that guards edits.

    Merchant staff; another merchant's reward is a 404. The `ETag` changes whenever the reward
    or its stock changes (a redemption included): send it as `If-Match` with the PATCH."""
    reward = reward_service.get_merchant_reward_or_raise(merchant_user=g.user, reward_id=reward_id)
    return reward, 200, {"ETag": reward_service.reward_etag(reward)}


@blp.route("/merchant/rewards/<uuid:reward_id>", methods=["PATCH"])
@access("merchant")
@blp.arguments(RewardUpdateSchema, example=ex.REWARD_UPDATE)
@blp.response(200, RewardSchema, example=ex.UPDATED_REWARD)
def update_reward(data, reward_id: uuid.UUID):
    """Edit one of my merchant's rewards (title, cost, stock left, window, limit, active).

    Merchant staff; only the fields sent change, and the change is audited. `stock` sets what is
    left to reserve. Send the GET's `ETag` as `If-Match` so an edit made on a stale stock figure
    is refused (412 `etag_mismatch`); the answer carries the new `ETag`. A window that ends
    before it starts is a 422."""
    reward = reward_service.update_reward(merchant_user=g.user, reward_id=reward_id, changes=data,
                                          if_match=request.headers.get("If-Match"))
    return reward, 200, {"ETag": reward_service.reward_etag(reward)}


@blp.route("/merchant/redemptions/confirm", methods=["POST"])
@access("merchant")
@blp.arguments(VoucherConfirmSchema, example={"voucher_code": "B3FH2-7KMYG"})
@blp.response(200, ConfirmedRedemptionSchema, example=ex.CONFIRMED)
def confirm_voucher(data):
    """Honour a citizen's voucher: its points go to my merchant; once only.

    Merchant staff of the reward's merchant (another merchant's voucher is a 404
    `voucher_not_found`). The code is read without regard to case, spaces or dashes. A voucher
    already confirmed, cancelled or expired is a 409 (`already_redeemed`, `voucher_cancelled`,
    `voucher_expired`); `POST /merchant/redemptions/lookup` tells beforehand."""
    return reward_service.confirm_redemption(voucher_code=data["voucher_code"],
                                             merchant_user=g.user)


@blp.route("/merchant/redemptions/lookup", methods=["POST"])
@access("merchant")
@blp.arguments(VoucherConfirmSchema, example={"voucher_code": "ABCDE-12345"})
@blp.response(200, VoucherLookupSchema, example=ex.VOUCHER_LOOKUP)
def lookup_voucher(data):
    """Look up one of my merchant's vouchers before confirming it; changes nothing.

    A POST so the code never lands in an access log or a query string. Another merchant's
    voucher answers 404 like an unknown code. Probing codes is hopeless: a code is 10 Crockford
    base32 characters drawn with `secrets` (50 bits), so a merchant with N live vouchers needs
    about 2^50 / N guesses per hit, and a hit reveals a reward and a masked initial, no more.
    """
    return voucher_lookup.lookup_voucher(voucher_code=data["voucher_code"], merchant_user=g.user)


@blp.route("/merchant/settlements", methods=["GET"])
@access("merchant")
@blp.arguments(SettlementArgsSchema, location="query")
@blp.response(200, SettlementSchema)
@blp.doc(**csv_doc(SettlementSchema, example=ex.SETTLEMENT))
def merchant_settlement(args):
    """Vouchers confirmed and points redeemed per day and reward (`Accept: text/csv` for CSV).

    Merchant staff, for their own merchant. Days are scheme days (`timezone`); the period
    defaults to the last 30 days and spans at most 366 days (422 beyond that, or when `to` is
    before `from`)."""
    return _settlement_out(reward_service.get_merchant_settlement(
        merchant_user=g.user, date_from=args["date_from"], date_to=args["date_to"]))


@blp.route("/admin/settlements", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(AdminSettlementArgsSchema, location="query")
@blp.response(200, SettlementSchema)
@blp.doc(**csv_doc(SettlementSchema, example=ex.SETTLEMENT))
def admin_settlement(args):
    """Any merchant's settlement, per day and reward (`Accept: text/csv` for CSV).

    Admins and auditors; `partner_id` names the merchant (unknown: 404). Otherwise as the
    merchant's own `GET /api/v1/merchant/settlements`."""
    return _settlement_out(reward_service.get_partner_settlement(
        partner_id=args["partner_id"], date_from=args["date_from"], date_to=args["date_to"]))


@blp.route("/merchant/settlements/lines", methods=["GET"])
@access("merchant")
@blp.arguments(SettlementLinesArgsSchema, location="query")
@blp.response(200, SettlementLinesSchema)
@blp.doc(**csv_doc(SettlementLinesSchema, example=ex.SETTLEMENT_LINES))
def merchant_settlement_lines(args):
    """One line per voucher my merchant confirmed in the period, oldest first.

    Merchant staff. Cursor-paged (`limit` up to 1000); the totals are of the whole period.
    `Accept: text/csv` gives every line of the period at once (more than 100,000: 422
    `too_many_lines`, ask for a shorter period). Holders are shown masked."""
    return _lines_out(reward_service.get_merchant_settlement_lines(merchant_user=g.user,
                                                                   **_lines_period(args)))


@blp.route("/admin/settlements/lines", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(AdminSettlementLinesArgsSchema, location="query")
@blp.response(200, SettlementLinesSchema)
@blp.doc(**csv_doc(SettlementLinesSchema, example=ex.SETTLEMENT_LINES))
def admin_settlement_lines(args):
    """Any merchant's per-voucher lines (as the merchant's; `Accept: text/csv` for CSV).

    Admins and auditors; `partner_id` names the merchant (unknown: 404). Paging, totals and
    the CSV limit as in `GET /api/v1/merchant/settlements/lines`."""
    return _lines_out(reward_service.get_partner_settlement_lines(partner_id=args["partner_id"],
                                                                  **_lines_period(args)))


# ---------------------------------------------------------------------------------------------
# Citizens' redemptions


@blp.route("/redemptions", methods=["POST"])
@access("citizen")
@idempotent
@blp.arguments(RedemptionCreateSchema, example={"reward_id": ex.REWARD_ID})
@blp.response(201, RedemptionSchema, example=ex.RESERVED)
def redeem(data):
    """Reserve a reward: its points are held and a voucher issued until `expires_at`.

    Verified citizens. One unit of stock, one use of the per-citizen limit and a hold of the
    points cost are taken together; show `voucher_code` (or `qr_url`) at the merchant before
    `expires_at`, or the hold lapses. Refused with 409: `insufficient_balance`, `out_of_stock`,
    `reward_unavailable` (inactive or outside its window), `per_citizen_limit_reached`. Send an
    `Idempotency-Key` to retry safely."""
    return reward_service.redeem_reward(user_id=g.user.id, reward_id=data["reward_id"])


@blp.route("/redemptions", methods=["GET"])
@access("citizen")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, RedemptionPageSchema, example=ex.page(ex.RESERVED))
def list_redemptions(args):
    """My redemptions, newest first.

    Citizens; every status (reserved, redeemed, cancelled, expired). Keyset pages: pass
    `next_cursor` back as `cursor`."""
    items, last = reward_service.list_redemptions(user_id=g.user.id, after=_cursor(args),
                                                  limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/redemptions/<uuid:redemption_id>", methods=["GET"])
@access("citizen")
@blp.response(200, RedemptionSchema, example=ex.REDEEMED)
def get_redemption(redemption_id: uuid.UUID):
    """One of my redemptions.

    Citizens; another citizen's redemption is a 404. Poll it to see the voucher confirmed
    (`redeemed`) at the till."""
    return reward_service.get_redemption_or_raise(user_id=g.user.id, redemption_id=redemption_id)


@blp.route("/redemptions/<uuid:redemption_id>/cancel", methods=["POST"])
@access("citizen")
@blp.response(200, RedemptionSchema, example=ex.CANCELLED)
def cancel_redemption(redemption_id: uuid.UUID):
    """Give back a reserved reward: my points are released, the stock returned.

    Citizens, for their own redemption while it is `reserved`; a redeemed, cancelled or
    expired one is a 409 (`redemption_not_reserved`)."""
    return reward_service.cancel_redemption(user_id=g.user.id, redemption_id=redemption_id)


@blp.route("/redemptions/<uuid:redemption_id>/qr.png", methods=["GET"])
@access("citizen")
@blp.doc(responses={"200": {"description": "The voucher code as a QR image (the code only)",
                            "content": {"image/png": {"schema": {"type": "string",
                                                                 "format": "binary"}}}},
                    "404": {"description": "Not one of my redemptions"}})
def redemption_qr(redemption_id: uuid.UUID):
    """My voucher as a QR code to show at the merchant.

    Citizens, for their own redemption: a PNG of the voucher code alone (a regular QR code
    that till scanners read), never cached (`Cache-Control: private, no-store`)."""
    redemption = reward_service.get_redemption_or_raise(user_id=g.user.id,
                                                        redemption_id=redemption_id)
    buffer = io.BytesIO()
    # A regular QR code, never Micro QR (segno's choice for short text): phone and till scanners
    # (ZXing, ML Kit) do not read Micro QR.
    segno.make_qr(vouchers.display(redemption.voucher_code), error="m").save(
        buffer, kind="png", scale=8, border=4)
    response = Response(buffer.getvalue(), mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response
