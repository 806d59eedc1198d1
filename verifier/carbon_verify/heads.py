"""Signed chain heads (docs/verification.md section 4): each a signed statement of the hash
chain's last link; together a chain of their own, which a later rewrite would contradict."""
from __future__ import annotations

import itertools
from typing import Any

from carbon_verify.common import copy_matches, cursor_position, field, only_known_members, signed
from carbon_verify.encoding import same_json
from carbon_verify.keys import KeySet
from carbon_verify.report import MalformedInput, Report
from carbon_verify.shapes import hex64, integer, optional, record, text

CHAIN_HEAD_TYPE = "carbon-credits/chain-head/v1"
HEAD = record({
    "type": text, "position": integer(1), "hash": hex64, "transfers_sealed": integer(1),
    "sealed_at": text,
    "previous": optional(record({"position": integer(1), "hash": hex64})),
})
UNSIGNED_COPIES = ("position", "hash", "transfers_sealed", "sealed_at")
ITEM_MEMBERS = frozenset(UNSIGNED_COPIES + ("kid", "document"))
PAGE_MEMBERS = frozenset({"items", "next_cursor"})


def head_items(source: Any) -> tuple[list[dict], list[dict]]:
    """The heads, and the endpoint pages they came in, from an endpoint answer
    ({"items": [...], "next_cursor": ...}), a list of answers or of items, or the lines of an
    open-data file (a list of {"position", "hash", "document"})."""
    if isinstance(source, dict):
        source = [source]
    if not isinstance(source, list):
        raise MalformedInput("chain heads are the endpoint's answer, a list of its pages or "
                             "items, or the open-data .jsonl lines")
    items, pages = [], []
    for entry in source:
        if isinstance(entry, dict) and "items" in entry and "document" not in entry:
            if not isinstance(entry["items"], list):
                raise MalformedInput("chain heads: 'items' is not a list")
            items.extend(entry["items"])
            pages.append(entry)
        else:
            items.append(entry)
    for item in items:
        field(item, "document", text, "chain head")
    return items, pages


def _check_page(page: dict, report: Report) -> None:
    """A page's own members: nothing unknown, and its cursor names its oldest head (the
    endpoint lists newest first; the next page starts below the cursor)."""
    only_known_members(report, page, PAGE_MEMBERS, "chain heads page")
    cursor = page.get("next_cursor")
    if cursor is None:
        return
    positions = [item.get("position") for item in page["items"]]
    oldest = min((p for p in positions if type(p) is int), default=None)
    report.expect(oldest is not None and cursor_position(cursor) == oldest,
                  "chain heads page: next_cursor names its oldest head",
                  f"chain heads page: next_cursor {cursor!r} does not name its oldest head {oldest}")


def _head_rules(head: dict, report: Report, what: str) -> None:
    previous = head["previous"]
    if previous is None:
        report.expect(head["transfers_sealed"] <= head["position"],
                      f"{what}: first signed head, transfers_sealed <= position",
                      f"{what}: seals {head['transfers_sealed']} transfers, more than its position")
        return
    report.expect(previous["position"] < head["position"],
                  f"{what}: previous head lies before it",
                  f"{what}: its previous head at {previous['position']} does not lie before it")
    report.expect(head["position"] - previous["position"] == head["transfers_sealed"],
                  f"{what}: position - previous.position = transfers_sealed",
                  f"{what}: seals {head['transfers_sealed']} transfers, but lies "
                  f"{head['position'] - previous['position']} after its previous head")


def _check_item(number: int, item: dict, keys: KeySet, report: Report) -> dict | None:
    position = item.get("position")
    what = f"chain head {position}" if type(position) is int else f"chain head #{number}"
    document = signed(report, item["document"], keys, CHAIN_HEAD_TYPE, HEAD, what)
    if document is None:
        return None
    only_known_members(report, item, ITEM_MEMBERS, what)
    for name in UNSIGNED_COPIES:
        copy_matches(report, item, name, document.payload[name], what)
    copy_matches(report, item, "kid", document.kid, what)
    _head_rules(document.payload, report, what)
    return document.payload


def _distinct_positions(heads: list[dict], report: Report) -> list[dict]:
    by_position: dict[int, dict] = {}
    for head in heads:
        seen = by_position.setdefault(head["position"], head)
        if seen["hash"] != head["hash"]:
            report.failed(f"chain heads: two signed heads at position {head['position']} name "
                          f"different hashes ({seen['hash']}, {head['hash']}): history was rewritten")
        elif not same_json(seen, head):
            report.failed(f"chain heads: two different signed heads at position {head['position']}")
    return sorted(by_position.values(), key=lambda head: head["position"])


def _check_link(earlier: dict, later: dict, report: Report) -> str:
    """How `later` names the head before it: "linked" to `earlier`, a "gap" (heads between
    them are not in the input, which is no failure), or "broken"."""
    previous, where = later["previous"], f"chain head {later['position']}"
    if previous is None:
        report.failed(f"{where}: claims to be the first signed head, but head "
                      f"{earlier['position']} comes before it")
        return "broken"
    if previous["position"] < earlier["position"]:
        report.failed(f"{where}: names {previous['position']} as the head before it, but head "
                      f"{earlier['position']} lies in between")
        return "broken"
    if previous["position"] > earlier["position"]:
        return "gap"
    if previous["hash"] != earlier["hash"]:
        report.failed(f"{where}: its previous hash differs from the hash signed in head "
                      f"{earlier['position']}")
        return "broken"
    return "linked"


def _check_links(ordered: list[dict], report: Report) -> None:
    outcomes = [_check_link(a, b, report) for a, b in itertools.pairwise(ordered)]
    if outcomes:
        gaps = outcomes.count("gap")
        report.passed(f"chain heads: {outcomes.count('linked')} consecutive pair(s) linked by "
                      "'previous'" + (f"; {gaps} gap(s) where heads are not in the input" if gaps else ""))


def check_chain_heads(source: Any, keys: KeySet, report: Report) -> dict[int, str]:
    """Check a sequence of chain heads in any order; returns position -> hash of the heads
    whose signature holds."""
    items, pages = head_items(source)
    if not items:
        report.passed("chain heads: none given, nothing to check")
        return {}
    scratch = Report()
    for page in pages:
        _check_page(page, scratch)
    heads = [head for number, item in enumerate(items, start=1)
             if (head := _check_item(number, item, keys, scratch)) is not None]
    for failure in scratch.failures:
        report.failed(failure)
    if not scratch.failures:
        report.passed(f"chain heads: {len(items)} signed head(s) verify (type {CHAIN_HEAD_TYPE}); "
                      "their unsigned position, hash, transfers_sealed, sealed_at and kid equal the "
                      "signed ones; each previous head lies before it, transfers_sealed fits")
    conflicts_before = len(report.failures)
    ordered = _distinct_positions(heads, report)
    if ordered and len(report.failures) == conflicts_before:
        report.passed(f"chain heads: {len(ordered)} distinct position(s), from "
                      f"{ordered[0]['position']} to {ordered[-1]['position']}, one hash each")
    _check_links(ordered, report)
    return {head["position"]: head["hash"] for head in heads}
