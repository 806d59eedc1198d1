"""Console forms are checked by the API operation's own marshmallow schema: the same rules, and
a refusal is the API's 422 with the same field names and messages. Before that, every
state-changing request's body must be a UTF-8 form whose values the database can store."""
from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import request
from marshmallow import Schema, ValidationError

from api.errors import flatten_messages
from api.jsonbody import MalformedBody, UnsupportedMediaType, unstorable_text
from carbon_credits.domain.errors import ValidationFailed


def load_form(schema: Schema, data: dict, *, prefix: str = "", **load_options) -> dict:
    try:
        return schema.load(data, **load_options)
    except ValidationError as error:
        errors = flatten_messages(error.messages, prefix)
        field, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{field}: {messages[0]}", errors=errors) from None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def guard_form_body() -> None:
    """before_request (state-changing console requests): a form body, in UTF-8, whose values
    PostgreSQL text can hold. The JSON API's body guard (api/jsonbody.py) does this for JSON;
    without it a NUL in a reason would reach the database and come back as a 500."""
    raw = request.get_data(cache=True)
    if not raw:
        return
    if request.mimetype not in FORM_TYPES:
        raise UnsupportedMediaType("Console forms are sent as application/x-www-form-urlencoded.")
    if request.mimetype == FORM_TYPES[0] and \
            _utf8_or_none(unquote_to_bytes(raw.replace(b"+", b" "))) is None:
        raise MalformedBody("The form is not valid UTF-8.")
    for name, value in request.form.items(multi=True):
        problem = unstorable_text(name) or unstorable_text(value)
        if problem:
            raise ValidationFailed(f"{name}: form values must not contain {problem}.",
                                   errors={name: [f"Must not contain {problem}."]})


def _utf8_or_none(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
