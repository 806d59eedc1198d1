"""Outbound webhooks: subscriptions, their delivery log and manual redelivery (admins only).
See docs/webhooks.md."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from carbon_credits.domain import webhooks as rules
from carbon_credits.services.webhooks import subscriptions as webhook_service

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Outbound webhooks")

_EVENTS = fields.List(
    fields.String(validate=validate.OneOf(rules.SUBSCRIPTION_EVENT_NAMES)),
    validate=validate.Length(min=1, max=len(rules.SUBSCRIPTION_EVENT_NAMES)),
    metadata={"description": "Event types to receive; [\"*\"] for every type",
              "example": ["action.credited", "voucher.redeemed"]})
_URL = fields.String(validate=validate.Length(min=1, max=rules.URL_MAX_LENGTH), metadata={
    "description": "Where events are POSTed: https:// (http:// outside production), no "
                   "credentials", "example": "https://partner.example.cn/hooks/carbon"})


class WebhookCreateSchema(Schema):
    url = fields.String(required=True, validate=_URL.validate, metadata=_URL.metadata)
    events = fields.List(_EVENTS.inner, required=True, validate=_EVENTS.validate,
                         metadata=_EVENTS.metadata)
    partner_id = fields.UUID(load_default=None, metadata={
        "description": "Only this partner's events, and never the citizen's id"})


class WebhookUpdateSchema(Schema):
    url = fields.String(validate=_URL.validate, metadata=_URL.metadata)
    events = fields.List(_EVENTS.inner, validate=_EVENTS.validate, metadata=_EVENTS.metadata)
    status = fields.String(validate=validate.OneOf(rules.SUBSCRIPTION_STATUSES), metadata={
        "description": "`active` re-enables (failure count reset, pending deliveries due now)"})


class WebhookSubscriptionSchema(Schema):
    id = fields.UUID()
    url = fields.String()
    events = fields.List(fields.String())
    partner_id = fields.UUID(allow_none=True)
    status = fields.String(metadata={"description": "active | disabled"})
    disabled_at = fields.DateTime(allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    consecutive_failures = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookWithSecretSchema(WebhookSubscriptionSchema):
    secret = fields.String(metadata={"description": "The signing secret: shown once, store it now."})


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSubscriptionSchema))


class WebhookAttemptSchema(Schema):
    attempt_no = fields.Integer()
    attempted_at = fields.DateTime()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    response_body = fields.String(allow_none=True, metadata={"description": "First kilobyte"})
    duration_ms = fields.Integer()


class WebhookDeliverySchema(Schema):
    id = fields.UUID()
    subscription_id = fields.UUID()
    event_id = fields.UUID()
    event_type = fields.String(attribute="event.event_type")
    manual = fields.Boolean(metadata={"description": "A redelivery asked for by an admin"})
    status = fields.String(metadata={"description": "pending | delivered | failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    attempt_log = fields.List(fields.Nested(WebhookAttemptSchema), attribute="attempt_rows")


class WebhookDeliveryArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(rules.DELIVERY_STATUSES))


WebhookDeliveryPageSchema = page_schema(WebhookDeliverySchema, "WebhookDeliveryPageSchema")

# Examples for the API document: bodies as the service answers them (a real run, fixed in time).
WEBHOOK_ID = "95709e8d-a619-459a-81f3-9581a124a41d"
WEBHOOK_EXAMPLE = {
    "id": WEBHOOK_ID, "url": "https://partner.example.cn/hooks/carbon",
    "events": ["action.credited", "voucher.redeemed"], "partner_id": None, "status": "active",
    "disabled_at": None, "disabled_reason": None, "consecutive_failures": 0,
    "created_at": "2026-12-06T07:14:10.592549+00:00",
    "updated_at": "2026-12-06T07:14:10.608574+00:00"}
DISABLED_WEBHOOK_EXAMPLE = {
    **WEBHOOK_EXAMPLE, "status": "disabled", "disabled_at": "2026-12-05T22:41:03.120044+00:00",
    "disabled_reason": "20 consecutive failed deliveries", "consecutive_failures": 20}
CREATED_WEBHOOK_EXAMPLE = {
    **WEBHOOK_EXAMPLE, "events": ["action.credited"],
    "updated_at": WEBHOOK_EXAMPLE["created_at"],
    "secret": "whsec_zxTgtl_gXTHDateYdiAQcN0rpQZOEylcLK2M416yK7M"}  # nosec B105 (a made-up example)
ROTATED_WEBHOOK_EXAMPLE = {**WEBHOOK_EXAMPLE, "updated_at": "2026-12-06T07:20:31.616028+00:00",
                           "secret": "whsec_syPZFKroezPGrLu1meCqeyiPSVUnBhYQPSQQmrCODjQ"}  # nosec B105 (a made-up example)
DELIVERY_EXAMPLE = {
    "id": "01c0be36-61fb-4a16-8c22-357e8bb42105", "subscription_id": WEBHOOK_ID,
    "event_id": "bdbd00a1-4ca5-4c4b-b267-768a26a350d6", "event_type": "action.credited",
    "manual": False, "status": "delivered", "attempts": 2, "next_attempt_at": None,
    "last_status_code": 200, "last_error": None,
    "delivered_at": "2026-12-06T07:14:41.625279+00:00",
    "created_at": "2026-12-06T07:14:10.625279+00:00",
    "attempt_log": [
        {"attempt_no": 1, "attempted_at": "2026-12-06T07:14:10.625279+00:00",
         "status_code": 503, "error": None, "response_body": "upstream unavailable",
         "duration_ms": 41},
        {"attempt_no": 2, "attempted_at": "2026-12-06T07:14:41.625279+00:00",
         "status_code": 200, "error": None, "response_body": "ok", "duration_ms": 12}]}
REDELIVERY_EXAMPLE = {
    **DELIVERY_EXAMPLE, "id": "44e70790-95b6-4b80-bd81-f23f62ac1bb7", "manual": True,
    "status": "pending", "attempts": 0, "next_attempt_at": "2026-12-06T09:30:00.653128+00:00",
    "last_status_code": None, "delivered_at": None,
    "created_at": "2026-12-06T09:30:00.653128+00:00", "attempt_log": []}


def _with_secret(issued) -> dict:
    s = issued.subscription
    return {**{name: getattr(s, name) for name in WebhookSubscriptionSchema().fields},
            "secret": issued.secret}


@blp.route("/admin/webhooks", methods=["POST"])
@access("admin")
@blp.arguments(WebhookCreateSchema, example={"url": "https://partner.example.cn/hooks/carbon",
                                             "events": ["action.credited"]})
@blp.response(201, WebhookWithSecretSchema, example=CREATED_WEBHOOK_EXAMPLE)
def create_webhook(data):
    """Subscribe a URL to events; the signing secret is returned once.

    Admins only. Each event is POSTed to `url` signed with the secret (`X-Signature`, HMAC
    SHA-256 over the timestamp and body; docs/webhooks.md), retried with backoff until
    delivered. Store the secret now: it is never shown again (rotate it to get a new one).
    With `partner_id` only that partner's events arrive, without the citizen's id. A URL that
    is not https (http outside production) or carries credentials is a 422; private addresses
    are refused when delivering (docs/webhooks.md)."""
    return _with_secret(webhook_service.create_subscription(
        url=data["url"], events=data["events"], partner_id=data["partner_id"],
        actor_user_id=g.user.id))


@blp.route("/admin/webhooks", methods=["GET"])
@access("admin")
@blp.response(200, WebhookListSchema, example={"items": [WEBHOOK_EXAMPLE,
                                                         DISABLED_WEBHOOK_EXAMPLE]})
def list_webhooks():
    """Every subscription, with its status and failure count (secrets are never listed).

    Admins only. A subscription whose deliveries keep failing is disabled automatically
    (`disabled_reason`); re-enable it with `PATCH` and `status: active`."""
    return {"items": webhook_service.list_subscriptions()}


@blp.route("/admin/webhooks/<uuid:webhook_id>", methods=["GET"])
@access("admin")
@blp.response(200, WebhookSubscriptionSchema, example=WEBHOOK_EXAMPLE)
def get_webhook(webhook_id: uuid.UUID):
    """One subscription (without its secret).

    Admins only; an unknown id is a 404."""
    return webhook_service.get_subscription_or_raise(webhook_id)


@blp.route("/admin/webhooks/<uuid:webhook_id>", methods=["PATCH"])
@access("admin")
@blp.arguments(WebhookUpdateSchema, example={"status": "active"})
@blp.response(200, WebhookSubscriptionSchema, example=WEBHOOK_EXAMPLE)
def update_webhook(data, webhook_id: uuid.UUID):
    """Change the URL or events, disable, or re-enable after an automatic disabling.

    Admins only; send only what changes (`events` replaces the whole list). `status:
    disabled` pauses deliveries; `status: active` resets the failure count and makes the
    deliveries left pending due now. The change is audited; a bad URL or event type is a 422."""
    return webhook_service.update_subscription(subscription_id=webhook_id, changes=data,
                                               actor_user_id=g.user.id)


@blp.route("/admin/webhooks/<uuid:webhook_id>/rotate-secret", methods=["POST"])
@access("admin")
@blp.response(200, WebhookWithSecretSchema, example=ROTATED_WEBHOOK_EXAMPLE)
def rotate_webhook_secret(webhook_id: uuid.UUID):
    """A new signing secret, returned once; the old one stops signing at once.

    Admins only; no body. Deliveries from now on are signed with the new secret, so update
    the receiver before or right after rotating. An unknown id is a 404."""
    return _with_secret(webhook_service.rotate_secret(subscription_id=webhook_id,
                                                      actor_user_id=g.user.id))


@blp.route("/admin/webhooks/<uuid:webhook_id>/deliveries", methods=["GET"])
@access("admin")
@blp.arguments(WebhookDeliveryArgsSchema, location="query")
@blp.response(200, WebhookDeliveryPageSchema, example={"items": [DELIVERY_EXAMPLE],
                                                       "next_cursor": None})
def list_webhook_deliveries(args, webhook_id: uuid.UUID):
    """The subscription's deliveries, newest first, each with its attempt log.

    Admins only. `status` filters `pending`, `delivered` or `failed`; each attempt shows the
    receiver's status code, the first kilobyte of its answer or the network error, and how
    long it took. Keyset pages: pass `next_cursor` back as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = webhook_service.list_deliveries(subscription_id=webhook_id, status=args["status"],
                                                  after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/webhooks/<uuid:webhook_id>/deliveries/<uuid:delivery_id>/redeliver",
           methods=["POST"])
@access("admin")
@blp.response(201, WebhookDeliverySchema, example=REDELIVERY_EXAMPLE)
def redeliver_webhook(webhook_id: uuid.UUID, delivery_id: uuid.UUID):
    """Deliver the same event (same X-Event-Id) again, now.

    Admins only; no body. The answer is a new, `manual` delivery due now; receivers
    deduplicate on `X-Event-Id`. A disabled subscription is a 409 (`webhook_disabled`):
    re-enable it first. An unknown subscription or delivery is a 404."""
    return webhook_service.redeliver(subscription_id=webhook_id, delivery_id=delivery_id,
                                     actor_user_id=g.user.id)
