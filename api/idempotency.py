"""The Idempotency-Key mechanism for POSTs that create value (contract: Idempotency)."""
from __future__ import annotations

import functools
import hashlib
import re

from flask import g, jsonify, request

from carbon_credits.domain.errors import ValidationFailed
from api.auth import finish_authentication
from carbon_credits.services import idempotency
from carbon_credits.services.uow import unit_of_work

KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


def refer_to(object_id, *, kept: tuple[str, ...]) -> None:
    """From a view under `idempotent(rebuild=...)`: store a reference, not the body."""
    g.idempotency_ref = (str(object_id), kept)


def _reference(body) -> dict | None:
    ref = g.pop("idempotency_ref", None)
    if ref is None or not isinstance(body, dict):
        return None
    object_id, kept = ref
    return {"id": object_id, "kept": {name: body[name] for name in kept}}


def _replay(stored, rebuild):
    body = stored.body
    if stored.ref is not None:
        body = {**rebuild(stored.ref["id"]), **stored.ref["kept"]}
    response = jsonify(body)
    response.status_code = stored.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


class BadIdempotencyKey(ValidationFailed):
    code = "bad_idempotency_key"
    http_status = 400


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def idempotent(view=None, *, rebuild=None):
    """Place under @access: the principal scopes the key. The effect and the stored response
    commit in one transaction; a replay returns the first response with `Idempotent-Replayed`.

    With `rebuild`, a view may name what it answered about instead of having its body stored:
    `refer_to(id, kept=(...))` keeps the object's id and the response fields that may change
    later, as first sent; a replay is `rebuild(id)` with those fields put back, the same
    bytes as the first answer. That spares writing a ~2 KB body on every credit."""
    if view is None:
        return functools.partial(idempotent, rebuild=rebuild)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not KEY_RE.match(key):
            if "authentication" in g:  # who is asking comes first: 401 before 400
                finish_authentication()
            raise BadIdempotencyKey("Idempotency-Key must be 1-255 printable ASCII characters.")
        principal = g.principal
        with unit_of_work():
            stored = idempotency.claim(principal=principal, key=key, fingerprint=_fingerprint())
            if "authentication" in g:  # checked in the same round trip as the claim
                finish_authentication()
            if stored is not None:
                return _replay(stored, rebuild)
            g.pop("idempotency_ref", None)
            response = view(*args, **kwargs)
            body = response.get_json(silent=True)
            idempotency.complete(principal=principal, key=key, status_code=response.status_code,
                                 body=body, ref=_reference(body) if rebuild else None)
        return response

    wrapper._idempotent = True
    from api.auth import _with_doc
    return _with_doc(wrapper, parameters=[{
        "in": "header", "name": "Idempotency-Key", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"},
        "description": "Retry-safe key; same key and body replays the first response."}])
