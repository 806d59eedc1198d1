"""JWS compact serialization (RFC 7515) signed with Ed25519 (`alg: EdDSA`, RFC 8037), exactly
as the service signs: protected header {"alg": "EdDSA", "kid": <thumbprint>}, nothing else."""
from __future__ import annotations

import dataclasses
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from carbon_verify.encoding import b64url_decode, parse_json
from carbon_verify.keys import KeySet

ALGORITHM = "EdDSA"


class JwsError(ValueError):
    """The JWS does not verify; the message says why."""


@dataclasses.dataclass(frozen=True)
class Signed:
    kid: str
    payload: dict


def ed25519_verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 Ed25519 verification of `signature` over `message`."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _decode_part(text: str, name: str) -> bytes:
    try:
        return b64url_decode(text)
    except ValueError as error:
        raise JwsError(f"the {name} is not valid base64url ({error})") from None


def _json_object(data: bytes, name: str) -> dict:
    try:
        value = parse_json(data)
    except ValueError as error:
        raise JwsError(f"the {name} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise JwsError(f"the {name} is not a JSON object")
    return value


def _kid_of(header: dict) -> str:
    if header.get("alg") != ALGORITHM:
        raise JwsError(f"the header's alg is {header.get('alg')!r}; only EdDSA is accepted")
    extra = sorted(set(header) - {"alg", "kid"})
    if extra:
        raise JwsError(f"the header has members other than alg and kid: {', '.join(extra)}")
    if not isinstance(header.get("kid"), str):
        raise JwsError("the header names no kid")
    return header["kid"]


def _public_key(keys: KeySet, kid: str) -> bytes:
    if kid in keys.refused:
        raise JwsError(f"signed with key {kid}, which the key set holds but is refused: "
                       f"{keys.refused[kid]}")
    if kid not in keys.keys:
        raise JwsError(f"signed with key {kid}, which is not in the key set")
    return keys.keys[kid]


def verify_jws(token: Any, keys: KeySet, expected_type: str | None = None) -> Signed:
    """The verified payload of a compact JWS, or JwsError naming what is wrong."""
    if not isinstance(token, str):
        raise JwsError("the document is not a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsError("not a JWS in compact serialization (three parts separated by '.')")
    header = _json_object(_decode_part(parts[0], "header"), "header")
    kid = _kid_of(header)
    public_key = _public_key(keys, kid)
    signature = _decode_part(parts[2], "signature")
    payload_bytes = _decode_part(parts[1], "payload")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not ed25519_verifies(public_key, signing_input, signature):
        raise JwsError(f"the Ed25519 signature does not verify with key {kid}")
    payload = _json_object(payload_bytes, "payload")
    if expected_type is not None and payload.get("type") != expected_type:
        raise JwsError(f"the payload's type is {payload.get('type')!r}, expected {expected_type!r}")
    return Signed(kid, payload)
