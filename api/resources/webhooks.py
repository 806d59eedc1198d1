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


def _with_secret(issued) -> dict:
    s = issued.subscription
    return {**{name: getattr(s, name) for name in WebhookSubscriptionSchema().fields},
            "secret": issued.secret}


@blp.route("/admin/webhooks", methods=["POST"])
@access("admin")
@blp.arguments(WebhookCreateSchema, example={"url": "https://partner.example.cn/hooks/carbon",
                                             "events": ["action.credited"]})
@blp.response(201, WebhookWithSecretSchema)
def create_webhook(data):
    """Subscribe a URL to events; the signing secret is returned once."""
    return _with_secret(webhook_service.create_subscription(
        url=data["url"], events=data["events"], partner_id=data["partner_id"],
        actor_user_id=g.user.id))


@blp.route("/admin/webhooks", methods=["GET"])
@access("admin")
@blp.response(200, WebhookListSchema)
def list_webhooks():
    """Every subscription (secrets are never listed)."""
    return {"items": webhook_service.list_subscriptions()}


@blp.route("/admin/webhooks/<uuid:webhook_id>", methods=["GET"])
@access("admin")
@blp.response(200, WebhookSubscriptionSchema)
def get_webhook(webhook_id: uuid.UUID):
    """One subscription."""
    return webhook_service.get_subscription_or_raise(webhook_id)


@blp.route("/admin/webhooks/<uuid:webhook_id>", methods=["PATCH"])
@access("admin")
@blp.arguments(WebhookUpdateSchema, example={"status": "active"})
@blp.response(200, WebhookSubscriptionSchema)
def update_webhook(data, webhook_id: uuid.UUID):
    """Change the URL or events, disable, or re-enable after an automatic disabling."""
    return webhook_service.update_subscription(subscription_id=webhook_id, changes=data,
                                               actor_user_id=g.user.id)


@blp.route("/admin/webhooks/<uuid:webhook_id>/rotate-secret", methods=["POST"])
@access("admin")
@blp.response(200, WebhookWithSecretSchema)
def rotate_webhook_secret(webhook_id: uuid.UUID):
    """A new signing secret, returned once; the old one stops signing at once."""
    return _with_secret(webhook_service.rotate_secret(subscription_id=webhook_id,
                                                      actor_user_id=g.user.id))


@blp.route("/admin/webhooks/<uuid:webhook_id>/deliveries", methods=["GET"])
@access("admin")
@blp.arguments(WebhookDeliveryArgsSchema, location="query")
@blp.response(200, WebhookDeliveryPageSchema)
def list_webhook_deliveries(args, webhook_id: uuid.UUID):
    """The subscription's deliveries, newest first, each with its attempt log."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = webhook_service.list_deliveries(subscription_id=webhook_id, status=args["status"],
                                                  after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/webhooks/<uuid:webhook_id>/deliveries/<uuid:delivery_id>/redeliver",
           methods=["POST"])
@access("admin")
@blp.response(201, WebhookDeliverySchema)
def redeliver_webhook(webhook_id: uuid.UUID, delivery_id: uuid.UUID):
    """Deliver the same event (same X-Event-Id) again, now."""
    return webhook_service.redeliver(subscription_id=webhook_id, delivery_id=delivery_id,
                                     actor_user_id=g.user.id)
