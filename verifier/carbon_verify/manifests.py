"""Lot manifests (docs/verification.md section 6): the signed lot document and every leaf of
its Merkle tree, possibly over several pages."""
from __future__ import annotations

import itertools
from typing import Any

from carbon_verify.common import copy_matches, cursor_position, field, only_known_members, signed
from carbon_verify.encoding import same_json
from carbon_verify.keys import KeySet
from carbon_verify.lots import LOT, LOT_TYPE, check_lot_terms, leaf_problems, lot_leaf_hash
from carbon_verify.merkle import tree_hash
from carbon_verify.report import MalformedInput, Report
from carbon_verify.shapes import anything, integer, list_of, text

PAGE_FIELDS = {"lot_id": text, "document": text, "tree_size": integer(), "root": text,
               "first_index": integer(0), "leaves": list_of(anything), "next_cursor": anything}
MAX_LISTED = 20  # leaf problems listed one by one; beyond that, counted


def manifest_pages(source: Any) -> list[dict]:
    """One page (the endpoint's answer) or a list of pages, sorted by first_index."""
    pages = [source] if isinstance(source, dict) else source
    if not isinstance(pages, list) or not pages:
        raise MalformedInput("a manifest is the endpoint's answer or a non-empty list of its pages")
    for page in pages:
        for name, shape in PAGE_FIELDS.items():
            field(page, name, shape, "manifest")
    return sorted(pages, key=lambda page: page["first_index"])


def joined_leaves(pages: list[dict], report: Report) -> list | None:
    """All leaves in index order, when the pages join up without gap or overlap."""
    leaves: list = []
    for number, page in enumerate(pages, start=1):
        if page["first_index"] != len(leaves):
            report.failed(f"manifest: a page starts at leaf {page['first_index']}, expected "
                          f"{len(leaves)} (a page is missing or pages overlap)")
            return None
        leaves.extend(page["leaves"])
        last = number == len(pages)
        if (page["next_cursor"] is None) != last or \
                (not last and cursor_position(page["next_cursor"]) != len(leaves)):
            report.failed(f"manifest: the page from leaf {page['first_index']} has next_cursor "
                          f"{page['next_cursor']!r}: " + ("more leaves follow (pass every page)"
                                                           if last else "not where the next page starts"))
            return None
    report.passed(f"manifest: {len(pages)} page(s) join into {len(leaves)} leaves")
    return leaves


def _lot_of_pages(pages: list[dict], keys: KeySet, report: Report) -> dict | None:
    lots = []
    for token, group in itertools.groupby(sorted(pages, key=lambda p: p["document"]),
                                          key=lambda p: p["document"]):
        document = signed(report, token, keys, LOT_TYPE, LOT, "lot document")
        if document is None:
            return None
        merkle = document.payload["merkle"]
        for page in group:
            where = "manifest" if len(pages) == 1 else f"manifest page from leaf {page['first_index']}"
            only_known_members(report, page, PAGE_FIELDS.keys(), where)
            copy_matches(report, page, "lot_id", document.payload["lot_id"], where)
            copy_matches(report, page, "tree_size", merkle["tree_size"], where)
            copy_matches(report, page, "root", merkle["root"], where)
        lots.append(document.payload)
    for other in lots[1:]:
        report.expect(other["lot_id"] == lots[0]["lot_id"] and same_json(other["merkle"], lots[0]["merkle"]),
                      "manifest: every page's lot document names the same lot and tree",
                      "manifest: the pages' lot documents name different lots or trees")
    return lots[0]


def _leaf_hashes(lot: dict, leaves: list, report: Report) -> list[bytes] | None:
    problems = [problem for index, leaf in enumerate(leaves)
                for problem in leaf_problems(leaf, lot, f"manifest: leaf {index}")]
    for problem in problems[:MAX_LISTED]:
        report.failed(problem)
    if len(problems) > MAX_LISTED:
        report.failed(f"manifest: {len(problems) - MAX_LISTED} more leaf problems")
    try:
        hashes = [lot_leaf_hash(leaf) for leaf in leaves] if not problems else None
    except ValueError as error:
        report.failed(f"manifest: a leaf has no canonical JSON ({error})")
        return None
    if hashes is not None:
        report.passed("manifest: every leaf is a lot-leaf/v1 of the lot's methodology")
    return hashes


def _check_leaves(lot: dict, leaves: list, report: Report) -> None:
    merkle = lot["merkle"]
    report.expect(len(leaves) == merkle["tree_size"],
                  f"manifest: {len(leaves)} leaves = tree_size",
                  f"manifest: {len(leaves)} leaves, but tree_size is {merkle['tree_size']}")
    hashes = _leaf_hashes(lot, leaves, report)
    if hashes is None:
        return
    actions = [leaf["action"] for leaf in leaves]
    report.expect(all(a < b for a, b in itertools.pairwise(actions)),
                  "manifest: leaves sorted by action, without repeats",
                  "manifest: leaves are not sorted by action or an action repeats")
    total = sum(leaf["contributed_mg"] for leaf in leaves)
    report.expect(total == lot["verified_mg"], f"manifest: contributions add up to verified_mg {total}",
                  f"manifest: contributions add up to {total}, not verified_mg {lot['verified_mg']}")
    root = tree_hash(hashes).hex()
    report.expect(root == merkle["root"], f"manifest: the RFC 9162 Merkle root of the leaves is the signed root {root}",
                  f"manifest: the Merkle root of the leaves is {root}, not the signed root {merkle['root']}")


def check_manifest(source: Any, keys: KeySet, report: Report) -> dict | None:
    """Check a manifest (all pages); returns the signed lot document when its signature holds."""
    pages = manifest_pages(source)
    lot = _lot_of_pages(pages, keys, report)
    leaves = joined_leaves(pages, report)
    if lot is None:
        return None
    check_lot_terms(lot, report)
    if leaves is not None:
        _check_leaves(lot, leaves, report)
    return lot
