"""The Idempotency-Key mechanism for POSTs that create value (contract: Idempotency)."""
from __future__ import annotations

import functools
import hashlib
import re

from flask import g, jsonify, request

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.services import idempotency
from carbon_credits.services.uow import unit_of_work

KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


class BadIdempotencyKey(ValidationFailed):
    code = "bad_idempotency_key"
    http_status = 400


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def idempotent(view):
    """Place under @access: the principal scopes the key. The effect and the stored response
    commit in one transaction; a replay returns the first response with `Idempotent-Replayed`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not KEY_RE.match(key):
            raise BadIdempotencyKey("Idempotency-Key must be 1-255 printable ASCII characters.")
        principal = g.principal
        with unit_of_work():
            stored = idempotency.claim(principal=principal, key=key, fingerprint=_fingerprint())
            if stored is not None:
                response = jsonify(stored.body)
                response.status_code = stored.status_code
                response.headers["Idempotent-Replayed"] = "true"
                return response
            response = view(*args, **kwargs)
            idempotency.complete(principal=principal, key=key, status_code=response.status_code,
                                 body=response.get_json(silent=True))
        return response

    from api.auth import _with_doc
    return _with_doc(wrapper, parameters=[{
        "in": "header", "name": "Idempotency-Key", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"},
        "description": "Retry-safe key; same key and body replays the first response."}])
