"""Certified lots (docs/verification.md sections 6 and 7): the signed lot document, its serials,
its leaves, and the lot proof handed to an action's owner."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from carbon_verify.common import copy_matches, field, only_known_members, signed
from carbon_verify.encoding import canonical_json, is_hex64, same_json
from carbon_verify.keys import KeySet
from carbon_verify.merkle import leaf_hash, root_from_inclusion
from carbon_verify.report import Report
from carbon_verify.shapes import (METHODOLOGY, PERIOD, anything, hex64, integer, json_object,
                                  list_of, optional, record, text)

LOT_TYPE = "carbon-credits/lot/v1"
LOT_LEAF_TYPE = "carbon-credits/lot-leaf/v1"
LOT = record({
    "type": text, "lot_id": text, "serials": text, "serial_start": integer(1),
    "serial_end": integer(1), "quantity": integer(0), "unit_mg": integer(1),
    "verified_mg": integer(0), "issued_mg": integer(0), "remainder_mg": integer(0),
    "action_count": integer(0), "methodology": METHODOLOGY, "period": PERIOD,
    "vintage_year": integer(1), "issued_at": text,
    "merkle": record({"leaf_type": text, "tree_size": integer(0), "root": hex64}),
    "verification": optional(json_object),
})
LEAF = record({"type": text, "action": hex64, "contributed_mg": integer(0),
               "methodology": METHODOLOGY})
PROOF_FIELDS = {"action_id": text, "lot_id": text, "document": text, "salt": text,
                "leaf": json_object, "leaf_index": integer(), "tree_size": integer(),
                "audit_path": list_of(anything)}
_NUMBERS = re.compile(r"([0-9]{9,})(?:-([0-9]{9,}))?")


def serial_range(serial: Any, code: str, year: int) -> tuple[int, int] | None:
    """(first, last) of `CC-<code>-<year>-<9 digits>` or `...-<9 digits>-<9 digits>`, for this
    methodology code (which may itself contain hyphens) and vintage; None if it is not one."""
    prefix = f"CC-{code}-{year:04d}-"
    if not isinstance(serial, str) or not serial.startswith(prefix):
        return None
    match = _NUMBERS.fullmatch(serial[len(prefix):])
    if match is None:
        return None
    first = int(match[1])
    last = int(match[2]) if match[2] else first
    if f"{first:09d}" != match[1] or (match[2] and f"{last:09d}" != match[2]):
        return None  # more leading zeros than the 9-digit form: not how serials are written
    return (first, last) if 1 <= first <= last else None


def period_problem(lot: dict) -> str | None:
    try:
        start = dt.date.fromisoformat(lot["period"]["from"])
        end = dt.date.fromisoformat(lot["period"]["to"])
    except ValueError:
        return "the period is not two ISO dates"
    if start > end:
        return "the period ends before it starts"
    if not start.year == end.year == lot["vintage_year"]:
        return f"the period does not lie within the vintage year {lot['vintage_year']}"
    return None


def check_lot_terms(lot: dict, report: Report, what: str = "lot document") -> None:
    """The arithmetic a lot document must satisfy on its own."""
    merkle = lot["merkle"]
    report.expect(merkle["leaf_type"] == LOT_LEAF_TYPE, f"{what}: leaf_type is {LOT_LEAF_TYPE}",
                  f"{what}: merkle.leaf_type is {merkle['leaf_type']!r}, expected {LOT_LEAF_TYPE!r}")
    report.expect(merkle["tree_size"] == lot["action_count"],
                  f"{what}: tree_size = action_count = {lot['action_count']}",
                  f"{what}: merkle.tree_size {merkle['tree_size']} is not action_count "
                  f"{lot['action_count']}")
    issued = lot["quantity"] * lot["unit_mg"]
    report.expect(lot["issued_mg"] == issued, f"{what}: issued_mg = quantity x unit_mg",
                  f"{what}: issued_mg {lot['issued_mg']} is not quantity x unit_mg = {issued}")
    report.expect(lot["issued_mg"] + lot["remainder_mg"] == lot["verified_mg"]
                  and 0 <= lot["remainder_mg"] < lot["unit_mg"],
                  f"{what}: issued_mg + remainder_mg = verified_mg, 0 <= remainder_mg < unit_mg",
                  f"{what}: issued_mg {lot['issued_mg']} + remainder_mg {lot['remainder_mg']} does "
                  f"not make verified_mg {lot['verified_mg']} with a remainder below unit_mg")
    report.expect(lot["serial_end"] - lot["serial_start"] + 1 == lot["quantity"],
                  f"{what}: serial_end - serial_start + 1 = quantity",
                  f"{what}: serials {lot['serial_start']}..{lot['serial_end']} are not "
                  f"{lot['quantity']} units")
    parsed = serial_range(lot["serials"], lot["methodology"]["code"], lot["vintage_year"])
    report.expect(parsed == (lot["serial_start"], lot["serial_end"]),
                  f"{what}: serials {lot['serials']} name serial_start..serial_end",
                  f"{what}: serials {lot['serials']!r} are not CC-<code>-<vintage>-"
                  f"{lot['serial_start']:09d}..{lot['serial_end']:09d}")
    problem = period_problem(lot)
    report.expect(problem is None, f"{what}: the period lies within the vintage year",
                  f"{what}: {problem}")


def leaf_problems(leaf: Any, lot: dict, path: str) -> list[str]:
    problems = LEAF(leaf, path)
    if problems:
        return problems
    if leaf["type"] != LOT_LEAF_TYPE:
        problems.append(f"{path}: type is {leaf['type']!r}, expected {LOT_LEAF_TYPE!r}")
    if not same_json(leaf["methodology"], lot["methodology"]):
        problems.append(f"{path}: methodology {leaf['methodology']} is not the lot's "
                        f"{lot['methodology']}")
    return problems


def lot_leaf_hash(leaf: dict) -> bytes:
    """RFC 9162 leaf hash of the leaf's canonical JSON (ValueError if it has none)."""
    return leaf_hash(canonical_json(leaf))


def check_lot_proof(answer: Any, keys: KeySet, report: Report) -> dict | None:
    """Check a lot proof answer; returns the signed lot document when its signature holds."""
    for name, shape in PROOF_FIELDS.items():
        field(answer, name, shape, "lot proof")
    document = signed(report, answer["document"], keys, LOT_TYPE, LOT, "lot document")
    if document is None:
        return None
    lot = document.payload
    only_known_members(report, answer, PROOF_FIELDS.keys(), "lot proof")
    copy_matches(report, answer, "lot_id", lot["lot_id"], "lot proof")
    copy_matches(report, answer, "tree_size", lot["merkle"]["tree_size"], "lot proof")
    check_lot_terms(lot, report)
    _check_commitment(answer, report)
    problems = leaf_problems(answer["leaf"], lot, "lot proof: leaf")
    for problem in problems:
        report.failed(problem)
    if not problems:
        report.passed("lot proof: the leaf is a lot-leaf/v1 of the lot's methodology")
    _check_inclusion(answer, lot, report)
    return lot


def _check_commitment(answer: dict, report: Report) -> None:
    salt, action_id = answer["salt"], answer["action_id"]
    if not is_hex64(salt) or not action_id.isascii():
        report.failed("lot proof: the salt is not 64 hex digits or the action id is not ASCII")
        return
    commitment = hashlib.sha256(bytes.fromhex(salt) + action_id.encode("ascii")).hexdigest()
    report.expect(answer["leaf"].get("action") == commitment,
                  "lot proof: leaf.action = SHA-256(salt || action id)",
                  f"lot proof: leaf.action is not SHA-256(salt || {action_id}) = {commitment}")


def _check_inclusion(answer: dict, lot: dict, report: Report) -> None:
    merkle, path = lot["merkle"], answer["audit_path"]
    if not all(is_hex64(node) for node in path):
        report.failed("lot proof: the audit path holds something other than SHA-256 hashes")
        return
    try:
        leaf = lot_leaf_hash(answer["leaf"])
    except ValueError as error:
        report.failed(f"lot proof: the leaf has no canonical JSON ({error})")
        return
    root = root_from_inclusion(answer["leaf_index"], merkle["tree_size"], leaf,
                               [bytes.fromhex(node) for node in path])
    if root is None:
        report.failed(f"lot proof: the audit path has the wrong shape for leaf "
                      f"{answer['leaf_index']} of a tree of {merkle['tree_size']}")
        return
    report.expect(root.hex() == merkle["root"],
                  f"lot proof: the RFC 9162 inclusion proof of leaf {answer['leaf_index']} leads "
                  f"to the signed root of the {merkle['tree_size']}-leaf tree",
                  f"lot proof: the inclusion proof leads to {root.hex()}, not the signed root "
                  f"{merkle['root']}")
