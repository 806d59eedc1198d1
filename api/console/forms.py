"""Console forms are checked by the API operation's own marshmallow schema: the same rules, and
a refusal is the API's 422 with the same field names and messages."""
from __future__ import annotations

from marshmallow import Schema, ValidationError

from api.errors import flatten_messages
from carbon_credits.domain.errors import ValidationFailed


def load_form(schema: Schema, data: dict, *, prefix: str = "", **load_options) -> dict:
    try:
        return schema.load(data, **load_options)
    except ValidationError as error:
        errors = flatten_messages(error.messages, prefix)
        field, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{field}: {messages[0]}", errors=errors) from None
