"""The Python interface: one function per document kind, each taking the endpoint's JSON
answer (already parsed) and the key set, and returning a Report. None raises on bad input:
unreadable input is reported (`report.malformed`, exit code 2)."""
from __future__ import annotations

from typing import Any

from carbon_verify.certificates import check_certificate
from carbon_verify.common import report_keys
from carbon_verify.heads import check_chain_heads
from carbon_verify.keys import as_key_set
from carbon_verify.lots import check_lot_proof
from carbon_verify.manifests import check_manifest
from carbon_verify.receipts import check_receipt
from carbon_verify.report import Report, reading


def verify_receipt(answer: Any, keys: Any, *, chain_heads: Any = None) -> Report:
    """A receipt answer; with `chain_heads` (as for verify_chain_heads), its chain link is also
    compared with a signed head at the same position, if there is one."""
    report = Report()
    with reading(report):
        key_set = as_key_set(keys)
        report_keys(key_set, report)
        head_hashes = None if chain_heads is None else check_chain_heads(chain_heads, key_set, report)
        check_receipt(answer, key_set, report, head_hashes)
    return report


def verify_manifest(pages: Any, keys: Any) -> Report:
    """A lot manifest: the endpoint's answer, or a list of its pages."""
    report = Report()
    with reading(report):
        key_set = as_key_set(keys)
        report_keys(key_set, report)
        check_manifest(pages, key_set, report)
    return report


def verify_lot_proof(answer: Any, keys: Any) -> Report:
    report = Report()
    with reading(report):
        key_set = as_key_set(keys)
        report_keys(key_set, report)
        check_lot_proof(answer, key_set, report)
    return report


def verify_certificate(answer: Any, keys: Any, *, manifest: Any = None) -> Report:
    """A retirement certificate; with `manifest` (its lot's manifest, one page or a list of
    pages), the manifest is checked too and the certificate against it."""
    report = Report()
    with reading(report):
        key_set = as_key_set(keys)
        report_keys(key_set, report)
        lot = None
        if manifest is not None:
            lot = check_manifest(manifest, key_set, report)
            if lot is None:
                report.failed("certificate: not compared with the lot: its manifest does not verify")
        check_certificate(answer, key_set, report, lot)
    return report


def verify_chain_heads(source: Any, keys: Any) -> Report:
    """Chain heads: the endpoint's answer, a list of answers or items, or the parsed lines of
    an open-data .jsonl file, in any order."""
    report = Report()
    with reading(report):
        key_set = as_key_set(keys)
        report_keys(key_set, report)
        check_chain_heads(source, key_set, report)
    return report
