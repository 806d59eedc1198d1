"""Opaque keyset cursors and the common `limit`/`cursor` query arguments."""
from __future__ import annotations

import base64
import datetime as dt
import json

from marshmallow import Schema, fields, validate

from api.jsonbody import unstorable_text
from carbon_credits.domain.errors import ValidationFailed

BIGINT_BOUND = 2 ** 63


class PageArgsSchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


def page_schema(item_schema, name: str):
    """A `{"items": [...], "next_cursor": ...}` schema for `item_schema`."""
    return type(name, (Schema,), {
        "items": fields.List(fields.Nested(item_schema), required=True),
        "next_cursor": fields.String(allow_none=True, required=True),
    })


def encode_cursor(values: list | tuple | None) -> str | None:
    if values is None:
        return None
    raw = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, converters) -> tuple | None:
    """Decode a cursor made by `encode_cursor`; `converters` turn each part back into a value
    (e.g. `(datetime.fromisoformat, uuid.UUID)`). Anything tampered with is a 422."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not (isinstance(values, list) and len(values) == len(converters)
                and all(isinstance(v, str) and unstorable_text(v) is None for v in values)):
            raise ValueError
        return tuple(_storable(convert(v)) for convert, v in zip(converters, values))
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        raise ValidationFailed("The cursor is not valid.",
                               errors={"cursor": ["Not a valid cursor."]}) from None


def _storable(value):
    """A decoded cursor value the database can compare: a crafted cursor is a 422 here, not a
    500 in the query (naive or out-of-range datetimes, integers past BIGINT, NUL, surrogates)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.timezone.utc)  # OverflowError past year 1..9999 in UTC
    if isinstance(value, int) and not -BIGINT_BOUND <= value < BIGINT_BOUND:
        raise OverflowError("integer out of range")
    if isinstance(value, str) and unstorable_text(value) is not None:
        raise ValueError("unstorable text")
    return value
