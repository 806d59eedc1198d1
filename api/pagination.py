"""Opaque keyset cursors and the common `limit`/`cursor` query arguments."""
from __future__ import annotations

import base64
import json

from marshmallow import Schema, fields, validate

from carbon_credits.domain.errors import ValidationFailed


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
                and all(isinstance(v, str) for v in values)):
            raise ValueError
        return tuple(convert(v) for convert, v in zip(converters, values))
    except (ValueError, TypeError, ArithmeticError):
        raise ValidationFailed("The cursor is not valid.",
                               errors={"cursor": ["Not a valid cursor."]}) from None
