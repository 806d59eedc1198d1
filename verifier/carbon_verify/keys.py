"""The published key set (RFC 7517) and its Ed25519 keys (RFC 8037 section 2), each named by
its RFC 7638 thumbprint. A key whose `kid` is not its thumbprint is refused."""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from carbon_verify.encoding import b64url_decode, b64url_encode, canonical_json
from carbon_verify.report import MalformedInput


def jwk_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public JWK: base64url(SHA-256) of its required
    members (crv, kty, x) as canonical JSON."""
    required = {"crv": "Ed25519", "kty": "OKP", "x": x}
    return b64url_encode(hashlib.sha256(canonical_json(required)).digest())


@dataclasses.dataclass
class KeySet:
    """Usable keys by kid (raw 32-byte public keys), and why any other key was refused."""
    keys: dict[str, bytes] = dataclasses.field(default_factory=dict)
    refused: dict[str, str] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)


def _refusal(jwk: dict) -> str | None:
    """Why this JWK cannot verify our documents, or None if it can."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return "not an Ed25519 key (kty OKP, crv Ed25519)"
    if jwk.get("alg", "EdDSA") != "EdDSA" or jwk.get("use", "sig") != "sig":
        return "not meant for EdDSA signatures (alg/use)"
    if "d" in jwk:
        return "it publishes its private part (d)"
    x = jwk.get("x")
    try:
        raw = b64url_decode(x)
    except ValueError:
        return "x is not base64url"
    if len(raw) != 32:
        return "x is not a 32-byte Ed25519 public key"
    if jwk.get("kid") != jwk_thumbprint(x):
        return "its kid is not its RFC 7638 thumbprint"
    return None


def load_keys(jwks: Any) -> KeySet:
    """The key set as served by /.well-known/carbon-credits-keys. Raises MalformedInput when it
    is not a JWK Set at all; keys that fail a check are listed in `refused` and `problems`."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise MalformedInput('the key set is not a JWK Set ({"keys": [...]})')
    found = KeySet()
    for position, jwk in enumerate(jwks["keys"]):
        if not isinstance(jwk, dict):
            raise MalformedInput(f"key set: entry {position} is not a JSON object")
        kid = jwk.get("kid") if isinstance(jwk.get("kid"), str) else f"#{position}"
        reason = _refusal(jwk)
        if reason is None:
            found.keys[kid] = b64url_decode(jwk["x"])
        else:
            found.refused[kid] = reason
            found.problems.append(f"key set: key {kid} is refused: {reason}")
    return found


def as_key_set(keys: Any) -> KeySet:
    return keys if isinstance(keys, KeySet) else load_keys(keys)
