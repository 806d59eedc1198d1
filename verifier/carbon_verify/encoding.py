"""Bytes and text as the documents use them: strict base64url (RFC 7515 section 2), JSON read
strictly, RFC 8785 canonical JSON for the values our documents hold, and lower-case hex."""
from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from typing import Any

_B64URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                  "\r": "\\r", "\t": "\\t"}


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    """base64url without padding, refusing every text but the one encoding of its bytes: a
    changed character that only touches the unused low bits is refused, not silently ignored."""
    if not isinstance(text, str) or not _B64URL_ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if b64url_encode(data) != text:
        raise ValueError("not the canonical base64url encoding of its bytes")
    return data


def is_hex64(value: Any) -> bool:
    """A SHA-256 digest as our documents write it: 64 lower-case hex digits."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def _no_duplicate_members(pairs: list[tuple[str, Any]]) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate member {key!r}")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: bytes | str) -> Any:
    """UTF-8 JSON, refusing duplicate members and NaN/Infinity; non-integer numbers become
    Decimal (our documents never hold any, and a Decimal can never pass for an integer)."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        return json.loads(text, object_pairs_hook=_no_duplicate_members, parse_float=Decimal,
                          parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _escape(match: re.Match) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _string(text: str) -> str:
    """RFC 8785 section 3.2.2.2: only the quote, the backslash and control characters are
    escaped, with the short forms where JSON has them and \\u00xx (lower-case) otherwise."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _utf16_order(key: str) -> bytes:
    return key.encode("utf-16-be")  # RFC 8785 section 3.2.3 sorts by UTF-16 code units


def _serialise(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_serialise(item) for item in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("object member names must be strings")
        members = sorted(value, key=_utf16_order)
        return "{" + ",".join(_string(key) + ":" + _serialise(value[key]) for key in members) + "}"
    raise ValueError(f"{type(value).__name__} values never appear in these documents "
                     "(numbers are integers or decimal strings)")


def canonical_json(value: Any) -> bytes:
    """RFC 8785 for objects, arrays, strings, integers, booleans and null: members sorted, no
    whitespace, only quote, backslash and control characters escaped, UTF-8."""
    try:
        return _serialise(value).encode("utf-8")
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _same(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return left == right


def same_json(left: Any, right: Any) -> bool:
    """Equal as JSON values, types included (`true` is not `1`, `1` is not `1.0`)."""
    try:
        return _same(left, right)
    except RecursionError:
        return False


def grams(mg: int) -> str:
    """Milligrams as the decimal string of grams with three decimals: 970000 -> "970.000"."""
    sign = "-" if mg < 0 else ""
    return f"{sign}{abs(mg) // 1000}.{abs(mg) % 1000:03d}"
