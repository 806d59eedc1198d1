"""Steps every document check shares: reading the unsigned answer around a document, verifying
the signed payload, and comparing the answer's convenience copies with what is signed."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from carbon_verify.encoding import b64url_decode, canonical_json, parse_json, same_json
from carbon_verify.jws import JwsError, Signed, verify_jws
from carbon_verify.keys import KeySet
from carbon_verify.report import MalformedInput, Report
from carbon_verify.shapes import Shape


def field(answer: Any, name: str, shape: Shape, what: str) -> Any:
    """A member the answer must have, of the right shape; MalformedInput otherwise."""
    if not isinstance(answer, dict):
        raise MalformedInput(f"{what} is not a JSON object")
    if name not in answer:
        raise MalformedInput(f"{what} has no {name!r}")
    problems = shape(answer[name], f"{what}.{name}")
    if problems:
        raise MalformedInput("; ".join(problems))
    return answer[name]


def signed(report: Report, token: Any, keys: KeySet, doc_type: str, shape: Shape,
           what: str) -> Signed | None:
    """The verified payload of `token` when its signature, type and fields hold (each recorded
    in `report`), else None."""
    try:
        document = verify_jws(token, keys, doc_type)
    except JwsError as error:
        report.failed(f"{what}: {error}")
        return None
    report.passed(f"{what}: Ed25519 signature verifies with key {document.kid}; type {doc_type}")
    problems = shape(document.payload, what)
    try:
        canonical_json(document.payload)
    except ValueError as error:
        problems.append(f"{what}: {error}")
    for problem in problems:
        report.failed(f"{problem} (signed payload)")
    if problems:
        return None
    report.passed(f"{what}: the payload has every field of {doc_type}")
    return document


def copy_matches(report: Report, answer: dict, name: str, signed_value: Any, what: str) -> None:
    """The answer's unsigned `name` (when present) says what the signed payload says."""
    if name in answer:
        report.expect(same_json(answer[name], signed_value),
                      f"{what}: the answer's {name!r} equals the signed one",
                      f"{what}: the answer's {name!r} differs from the signed document "
                      f"(unsigned copy altered?)")


def report_keys(keys: KeySet, report: Report) -> None:
    for problem in keys.problems:
        report.failed(problem)
    report.expect(bool(keys.keys),
                  f"key set: {len(keys.keys)} usable Ed25519 key(s), each kid its RFC 7638 thumbprint",
                  "key set: no usable key")


def only_known_members(report: Report, answer: dict, known: Iterable[str], what: str) -> None:
    """Every member of an answer is either the document or a copy checked against it: a member
    this verifier does not know is not vouched for by any signature, so it is reported."""
    unknown = sorted(set(answer) - set(known))
    report.expect(not unknown, f"{what}: every member of the answer is accounted for",
                  f"{what}: the answer has member(s) {', '.join(map(repr, unknown))} that no "
                  "signature covers")


def cursor_position(cursor: Any) -> int | None:
    """The position a page's `next_cursor` points at: an integer, a decimal string, or the
    service's opaque form (base64url of a JSON list holding one decimal string); None when it
    is none of these."""
    if type(cursor) is int:
        return cursor
    if not isinstance(cursor, str):
        return None
    text = cursor
    if not cursor.isdecimal():
        try:
            values = parse_json(b64url_decode(cursor))
        except ValueError:
            return None
        if not (isinstance(values, list) and len(values) == 1 and isinstance(values[0], str)):
            return None
        text = values[0]
    if not (text.isascii() and text.isdecimal()) or str(int(text)) != text:
        return None
    return int(text)
