"""Responses of the open-data endpoints: public, cacheable, with a strong ETag, so a CDN or
the city's portal can serve them and a client that has the body gets 304."""
from __future__ import annotations

import hashlib
import json

from flask import Response, request

CACHE_SECONDS = 300


def public_response(body: bytes, mimetype: str, filename: str | None = None) -> Response:
    """A public, cacheable response with a strong ETag; 304 when the client has it."""
    etag = hashlib.sha256(body).hexdigest()[:32]
    response = Response(body, mimetype=mimetype)
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.vary.add("Accept")
    return response.make_conditional(request)


def public_json(schema, data) -> Response:
    """`data` dumped by `schema` as a public, cacheable JSON response (keys sorted, so the
    same figures give the same bytes and the same ETag)."""
    body = json.dumps(schema.dump(data), ensure_ascii=False, sort_keys=True).encode()
    return public_response(body, "application/json")
