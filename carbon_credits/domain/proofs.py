"""What makes a published document checkable by anyone: canonical JSON, RFC 9162 Merkle trees,
JWK thumbprints, and the salted leaves of a lot manifest. docs/verification.md states each
construction precisely enough to reimplement it; `verifier/` is such an independent
implementation, and the tests hold the two against each other and the RFC test vectors.

Pure: bytes and integers in, bytes and strings out."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"  # RFC 9162 section 2.1.1: leaves and interior nodes never collide
NODE_PREFIX = b"\x01"

RECEIPT_TYPE = "carbon-credits/receipt/v1"
CHAIN_HEAD_TYPE = "carbon-credits/chain-head/v1"
LOT_TYPE = "carbon-credits/lot/v1"
LOT_LEAF_TYPE = "carbon-credits/lot-leaf/v1"
CERTIFICATE_TYPE = "carbon-credits/retirement-certificate/v1"


def canonical_json(value) -> bytes:
    """RFC 8785 (JCS) for the values we sign: objects with ASCII keys, strings, integers,
    booleans and null. Floats are refused: every quantity we publish is an integer or a
    decimal string, so no reader has to agree with us on number formatting."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _refuse_floats(value) -> None:
    if isinstance(value, float):
        raise TypeError("canonical_json: floats are not allowed; use an integer or a string")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise TypeError("canonical_json: keys must be ASCII strings")
            _refuse_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_floats(item)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public JWK (RFC 8037 section 2): our key ids."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": x}
    return b64url(hashlib.sha256(canonical_json(members)).digest())


# RFC 9162 section 2.1: the Merkle Tree Hash and inclusion proofs.

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves; the empty tree hashes to SHA-256 of nothing."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    level = list(leaf_hashes)
    # Bottom-up pairing builds the same tree as the RFC's recursive split: an odd node at the
    # end of a level is carried up unchanged, which is exactly the right subtree of size 2^k.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_path(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1: the audit path of leaf `index`, leaf end first."""
    if not 0 <= index < len(leaf_hashes):
        raise IndexError("leaf index outside the tree")
    path: list[bytes] = []
    level, position = list(leaf_hashes), index
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level, position = paired, position // 2
    return path


def root_from_path(index: int, tree_size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2: the root an inclusion proof leads to, or None if the proof
    has the wrong shape for that index and tree size."""
    if not 0 <= index < tree_size:
        return None
    fn, sn, result = index, tree_size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


# The leaves of a lot manifest (docs/verification.md, "Lot manifests").

def action_salt(lot_secret: bytes, action_id: str) -> bytes:
    """Each action's salt: HMAC-SHA256 keyed by the lot's secret (never published). Handed to
    the action's owner only, in the lot proof."""
    return hmac.new(lot_secret, action_id.encode("ascii"), hashlib.sha256).digest()


def action_commitment(salt: bytes, action_id: str) -> str:
    """SHA-256(salt || action id as lower-case hyphenated ASCII), hex: reveals nothing about
    the action to someone without its salt."""
    return hashlib.sha256(salt + action_id.encode("ascii")).hexdigest()


def lot_leaf(*, commitment: str, contributed_mg: int, methodology_code: str,
             methodology_version: int) -> dict:
    return {"type": LOT_LEAF_TYPE, "action": commitment, "contributed_mg": contributed_mg,
            "methodology": {"code": methodology_code, "version": methodology_version}}


def lot_leaf_hash(leaf: dict) -> bytes:
    return leaf_hash(canonical_json(leaf))
