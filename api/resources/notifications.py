"""The citizen's notifications (docs/notifications.md): points about to lapse, vouchers about to
expire, read or unread."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields

from api.auth import access
from api.extensions import Blueprint
from api.notification_messages import notification_message
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor
from carbon_credits.services import notifications as service

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/me/notifications",
                description="The signed-in citizen's notifications")


class NotificationSchema(Schema):
    id = fields.UUID()
    kind = fields.String(metadata={
        "description": "points_expiring | voucher_expiring | review_decided | action_reversed"})
    data = fields.Dict(metadata={"description": "What it is about; its fields depend on the kind "
                                                "(docs/notifications.md)"})
    message = fields.Function(notification_message, metadata={
        "type": "string", "nullable": True,
        "description": "One sentence for people, in the response's Content-Language "
                       "(Accept-Language: en or zh-CN), written from kind and data when read"})
    created_at = fields.DateTime()
    read = fields.Boolean(metadata={"description": "Marked read by me"})
    read_at = fields.DateTime(allow_none=True)


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    unread_count = fields.Integer(required=True, metadata={
        "description": "All my unread notifications, not only this page's"})


class NotificationArgsSchema(PageArgsSchema):
    unread = fields.Boolean(load_default=False, metadata={
        "description": "true: only the notifications not yet read"})


class NotificationsMarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "How many were unread and are now read"})


NOTIFICATION_EXAMPLE = {
    "id": "3c9e4a1b-7d2f-4e8a-9b6c-1f0e2d3c4b5a", "kind": "points_expiring",
    "data": {"points": 420, "expires_on": "2026-12-31",
             "first_expires_at": "2026-12-30T16:00:00+00:00", "lots": 3},
    "message": "420 points lapse on 2026-12-31.",
    "created_at": "2026-12-01T01:00:00+00:00", "read": False, "read_at": None}


def notification_view(notification) -> dict:
    return {"id": notification.id, "kind": notification.kind, "data": notification.data,
            "created_at": notification.created_at, "read": notification.read_at is not None,
            "read_at": notification.read_at}


@blp.route("", methods=["GET"])
@access("citizen")
@blp.arguments(NotificationArgsSchema, location="query")
@blp.response(200, NotificationPageSchema, example={
    "items": [NOTIFICATION_EXAMPLE], "next_cursor": None, "unread_count": 1})
def list_notifications(args):
    """My notifications, newest first (`unread=true`: only the unread), with my unread count.

    Citizens only. Kinds: `points_expiring` (points lapsing on a scheme day),
    `voucher_expiring` (a reserved voucher within its last hour), `review_decided` and
    `action_reversed`; `data` depends on the kind (docs/notifications.md). `unread_count`
    counts all my unread ones, for a badge. Keyset pages: pass `next_cursor` back as
    `cursor`. Reading changes nothing."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = service.list_notifications(user_id=g.user.id, unread=args["unread"],
                                             after=after, limit=args["limit"])
    return {"items": [notification_view(n) for n in items], "next_cursor": encode_cursor(last),
            "unread_count": service.unread_count(user_id=g.user.id)}


@blp.route("/<uuid:notification_id>/read", methods=["POST"])
@access("citizen")
@blp.response(200, NotificationSchema, example={**NOTIFICATION_EXAMPLE, "read": True,
                                                "read_at": "2026-12-01T08:30:00+00:00"})
def mark_read(notification_id: uuid.UUID):
    """Mark one of my notifications read (again: it keeps when it was first read).

    Citizens only; no body. Marking it again is harmless and keeps the first `read_at`.
    Another citizen's notification, or an unknown id, is a 404."""
    return notification_view(service.mark_read(user_id=g.user.id,
                                               notification_id=notification_id))


@blp.route("/read-all", methods=["POST"])
@access("citizen")
@blp.response(200, NotificationsMarkedSchema, example={"marked": 4})
def mark_all_read():
    """Mark all my unread notifications read.

    Citizens only; no body. `marked` says how many were unread (0 when none: calling it
    again is harmless). Read notifications are deleted 30 days after they were read."""
    return {"marked": service.mark_all_read(user_id=g.user.id)}
