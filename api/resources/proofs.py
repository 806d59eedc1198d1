"""Verifiability (docs/verification.md): the service's public keys, the signed chain heads,
lot manifests and a citizen's proof that their action is in a lot. Everything but the lot proof
is public and cacheable; every document is a JWS anyone can check with the published keys."""
from __future__ import annotations

import datetime as dt
import re
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.caching import public_json, public_response
from api.extensions import Blueprint
from api.pagination import decode_cursor, encode_cursor, page_schema
from api.resources import proof_examples as ex
from carbon_credits.domain.errors import NotFound
from carbon_credits.services import actions as action_service
from carbon_credits.services import signing
from carbon_credits.services.certificates import manifests
from carbon_credits.services.ledger import heads

blp = Blueprint("proofs", __name__, url_prefix="",
                description="Verifiability: public keys, chain heads, lot manifests and proofs")

HEX64 = {"description": "64 lower-case hex digits (SHA-256)"}


class JwkSchema(Schema):
    kty = fields.String(metadata={"example": "OKP"})
    crv = fields.String(metadata={"example": "Ed25519"})
    x = fields.String(metadata={"description": "The public key, base64url (RFC 8037)"})
    kid = fields.String(metadata={"description": "RFC 7638 thumbprint of the key"})
    alg = fields.String(metadata={"example": "EdDSA"})
    use = fields.String(metadata={"example": "sig"})
    status = fields.String(metadata={"description": "active | retired (retired keys stay published)"})
    created_at = fields.String()
    retired_at = fields.String(allow_none=True)


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


@blp.route("/.well-known/carbon-credits-keys", methods=["GET"])
@access.public
@blp.response(200, JwksSchema, example=ex.KEYS)
def published_keys():
    """Every key the service ever signed with, as a JWK Set (RFC 7517): Ed25519, `kid` = thumbprint.

    Public and cacheable (strong `ETag`; send `If-None-Match` for a 304). Match a document's
    JWS header `kid` to a key here to check its signature offline; retired keys stay listed so
    old receipts, heads and certificates still verify (docs/verification.md)."""
    return public_json(JwksSchema(), signing.published_keys())


class ChainHeadArgsSchema(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=heads.MAX_PAGE))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


class ChainHeadSchema(Schema):
    position = fields.Integer(metadata={"description": "Transfers in the chain at this head"})
    hash = fields.String(metadata=HEX64)
    transfers_sealed = fields.Integer()
    sealed_at = fields.DateTime()
    kid = fields.String()
    document = fields.String(attribute="jws", metadata={
        "description": "The signed head: JWS, payload type carbon-credits/chain-head/v1"})


ChainHeadPageSchema = page_schema(ChainHeadSchema, "ChainHeadPageSchema")


@blp.route("/api/v1/public/chain-heads", methods=["GET"])
@access.public
@blp.arguments(ChainHeadArgsSchema, location="query")
@blp.response(200, ChainHeadPageSchema, example=ex.CHAIN_HEADS)
def list_chain_heads(args):
    """The ledger's chain heads as the sealer signed them, newest first.

    Public and cacheable. Each head commits to every ledger transfer up to `position`
    (`hash`), and `document` is that head signed: keep copies to prove later that the ledger
    was not rewritten. Keyset pages: pass `next_cursor` back as `cursor`."""
    before = decode_cursor(args["cursor"], converters=(int,))
    rows, last = heads.list_heads(before=before[0] if before else None, limit=args["limit"])
    return public_json(ChainHeadPageSchema(), {"items": rows, "next_cursor": encode_cursor(
        None if last is None else [last])})


@blp.route("/api/v1/public/chain-heads/daily/<string:day>", methods=["GET"])
@access.public
@blp.response(200, description="JSON Lines: {position, hash, document} per head, oldest first",
              content_type="application/x-ndjson")
def daily_chain_heads(day: str):
    """The open-data file of the heads signed on one scheme day (YYYY-MM-DD), once the day is over.

    Public and cacheable: one JSON object per line, oldest first, an attachment named
    `chain-heads-<day>.jsonl`. A malformed day is a 404 (`day_not_found`); a day not yet over
    is a 409 (`day_not_over`), since its file could still grow."""
    body = heads.daily_file(parse_day(day))
    return public_response(body, "application/x-ndjson", filename=f"chain-heads-{day}.jsonl")


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> dt.date:
    """Exactly YYYY-MM-DD (Python 3.11 would also take week dates and compact forms)."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise NotFound("No such day: give YYYY-MM-DD.", code="day_not_found") from None


class ManifestArgsSchema(Schema):
    limit = fields.Integer(load_default=manifests.MAX_PAGE,
                           validate=validate.Range(min=1, max=manifests.MAX_PAGE))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


class LotManifestSchema(Schema):
    lot_id = fields.String()
    document = fields.String(metadata={"description": "The signed lot document (JWS, "
                                       "carbon-credits/lot/v1)"})
    tree_size = fields.Integer()
    root = fields.String(metadata=HEX64)
    first_index = fields.Integer()
    leaves = fields.List(fields.Dict(), metadata={
        "description": "carbon-credits/lot-leaf/v1 objects in index order"})
    next_cursor = fields.String(allow_none=True)


@blp.route("/api/v1/public/lots/<uuid:lot_id>/manifest", methods=["GET"])
@access.public
@blp.arguments(ManifestArgsSchema, location="query")
@blp.response(200, LotManifestSchema, example=ex.LOT_MANIFEST)
def lot_manifest(args, lot_id: uuid.UUID):
    """A certified lot's signed document and its salted leaves (no identity), in Merkle order.

    Public and cacheable. Each leaf names its action only by a salted hash, so the manifest
    reveals no citizen; with every leaf anyone can recompute `root` and check it against the
    signed `document`. Leaves come in pages (`first_index`, `next_cursor`); an unknown lot is
    a 404."""
    after = decode_cursor(args["cursor"], converters=(int,))
    page = manifests.manifest_page(lot_id, first_index=after[0] if after else 0,
                                   limit=args["limit"])
    page["next_cursor"] = encode_cursor(None if page["next_cursor"] is None
                                        else [page["next_cursor"]])
    return public_json(LotManifestSchema(), page)


class LotProofSchema(Schema):
    action_id = fields.String()
    lot_id = fields.String()
    document = fields.String(metadata={"description": "The signed lot document (JWS)"})
    salt = fields.String(metadata={"description": "This action's salt, 64 hex digits: yours alone"})
    leaf = fields.Dict()
    leaf_index = fields.Integer()
    tree_size = fields.Integer()
    audit_path = fields.List(fields.String(), metadata={"description": "RFC 9162 inclusion proof"})


@blp.route("/api/v1/actions/<uuid:action_id>/lot-proof", methods=["GET"])
@access("citizen")
@blp.response(200, LotProofSchema, example=ex.LOT_PROOF)
def lot_proof(action_id: uuid.UUID):
    """Proof that my action is in a certified lot: my leaf, its salt and its Merkle audit path.

    Citizens, for their own action (another's is a 404). With `salt` and the action id the
    citizen can recompute their leaf's `action` commitment; `audit_path` (RFC 9162) leads from the leaf to the root signed in
    `document`. An action in no lot is a 404 (`not_in_a_lot`). Keep `salt` private."""
    action_service.get_own_action_or_raise(user_id=g.user.id, action_id=action_id)
    return manifests.lot_proof(action_id)
