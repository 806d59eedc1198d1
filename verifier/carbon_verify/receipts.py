"""Receipts (docs/verification.md section 5): what one credited action earned, signed."""
from __future__ import annotations

from typing import Any

from carbon_verify.common import copy_matches, field, only_known_members, signed
from carbon_verify.encoding import grams
from carbon_verify.keys import KeySet
from carbon_verify.report import Report
from carbon_verify.shapes import METHODOLOGY, hex64, integer, json_object, optional, record, text

RECEIPT_TYPE = "carbon-credits/receipt/v1"
RECEIPT = record({
    "type": text, "action_id": text, "action_type": text, "occurred_at": text,
    "inputs": json_object, "methodology": METHODOLOGY, "credited_mg": integer(0),
    "credited_g": text, "points": integer(), "credited_at": text,
    "ledger_entry": record({"transfer_id": text, "seq": integer(1)}),
    "chain": optional(record({"position": integer(1), "hash": hex64, "sealed_at": text})),
})


def check_receipt(answer: Any, keys: KeySet, report: Report,
                  head_hashes: dict[int, str] | None = None) -> dict | None:
    """Check one receipt answer ({"action_id", "document", "receipt"}; the export's entries
    carry only the first two). `head_hashes`: position -> hash of verified chain heads."""
    token = field(answer, "document", text, "receipt answer")
    document = signed(report, token, keys, RECEIPT_TYPE, RECEIPT, "receipt")
    if document is None:
        return None
    receipt = document.payload
    only_known_members(report, answer, {"action_id", "document", "receipt"}, "receipt")
    copy_matches(report, answer, "action_id", receipt["action_id"], "receipt")
    copy_matches(report, answer, "receipt", receipt, "receipt")
    report.expect(receipt["credited_g"] == grams(receipt["credited_mg"]),
                  f"receipt: credited_g {receipt['credited_g']} is credited_mg / 1000",
                  f"receipt: credited_g {receipt['credited_g']!r} is not "
                  f"{grams(receipt['credited_mg'])!r} (credited_mg / 1000)")
    chain = receipt["chain"]
    if chain is None:
        report.passed("receipt: not yet sealed into the hash chain (chain is null); "
                      "ask again after the next seal")
    elif head_hashes is not None:
        _against_heads(chain, head_hashes, report)
    return receipt


def _against_heads(chain: dict, head_hashes: dict[int, str], report: Report) -> None:
    position = chain["position"]
    if position not in head_hashes:
        report.passed(f"receipt: no signed chain head at position {position} among those given; "
                      "the chain link is not compared")
        return
    report.expect(head_hashes[position] == chain["hash"],
                  f"receipt: chain link at position {position} equals the signed chain head's",
                  f"receipt: chain link at position {position} differs from the signed chain "
                  f"head's hash {head_hashes[position]}")
