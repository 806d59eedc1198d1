"""Retirement certificates (docs/verification.md section 8), alone or against their lot."""
from __future__ import annotations

from typing import Any

from carbon_verify.common import copy_matches, field, only_known_members, signed
from carbon_verify.encoding import grams, same_json
from carbon_verify.keys import KeySet
from carbon_verify.lots import period_problem, serial_range
from carbon_verify.report import Report
from carbon_verify.shapes import (METHODOLOGY, PERIOD, anything, hex64, integer, list_of,
                                  optional, record, text)

CERTIFICATE_TYPE = "carbon-credits/retirement-certificate/v1"
CERTIFICATE = record({
    "type": text, "certificate_id": text, "lot_id": text, "serials": list_of(text),
    "quantity": integer(1), "unit_mg": integer(1), "retired_mg": integer(0), "retired_g": text,
    "beneficiary": text, "purpose": optional(text), "retired_at": text,
    "methodology": METHODOLOGY, "vintage_year": integer(1), "period": PERIOD,
    "lot_merkle_root": optional(hex64), "event_id": anything, "lookup_url": optional(text),
})


def _serial_ranges(certificate: dict, report: Report) -> list[tuple[int, int]] | None:
    code, year = certificate["methodology"]["code"], certificate["vintage_year"]
    ranges = []
    for serial in certificate["serials"]:
        parsed = serial_range(serial, code, year)
        if parsed is None:
            report.failed(f"certificate: serial {serial!r} is not CC-{code}-{year}-<9 digits> "
                          "or a range of them")
            return None
        ranges.append(parsed)
    ranges.sort()
    count = sum(last - first + 1 for first, last in ranges)
    report.expect(count == certificate["quantity"],
                  f"certificate: the serial ranges hold {count} units = quantity",
                  f"certificate: the serial ranges hold {count} units, not quantity "
                  f"{certificate['quantity']}")
    overlapping = [f"{a}..{b}" for (_, b), (a, _) in zip(ranges, ranges[1:]) if a <= b]
    report.expect(not overlapping, "certificate: the serial ranges do not overlap",
                  f"certificate: serial ranges overlap ({', '.join(overlapping)})")
    return ranges


def _against_lot(certificate: dict, ranges: list[tuple[int, int]] | None, lot: dict,
                 report: Report) -> None:
    report.expect(certificate["lot_id"] == lot["lot_id"], "certificate: same lot_id as the manifest",
                  f"certificate: lot_id {certificate['lot_id']} is not the manifest's {lot['lot_id']}")
    same_terms = all(same_json(certificate[name], lot[name])
                     for name in ("methodology", "vintage_year", "period"))
    report.expect(same_terms, "certificate: same methodology, vintage and period as the lot",
                  "certificate: methodology, vintage or period differ from the lot's")
    report.expect(certificate["lot_merkle_root"] == lot["merkle"]["root"],
                  "certificate: lot_merkle_root is the lot's signed Merkle root",
                  f"certificate: lot_merkle_root {certificate['lot_merkle_root']} is not the "
                  f"lot's root {lot['merkle']['root']}")
    if ranges is not None:
        outside = [f"{first}..{last}" for first, last in ranges
                   if not lot["serial_start"] <= first <= last <= lot["serial_end"]]
        report.expect(not outside, "certificate: every serial lies in the lot's range",
                      f"certificate: serials {', '.join(outside)} lie outside the lot's "
                      f"{lot['serial_start']}..{lot['serial_end']}")


def check_certificate(answer: Any, keys: KeySet, report: Report, lot: dict | None = None) -> dict | None:
    """Check a certificate answer ({"certificate_id", "document", "certificate"}); with `lot`
    (a verified lot document), also against the lot."""
    token = field(answer, "document", text, "certificate answer")
    document = signed(report, token, keys, CERTIFICATE_TYPE, CERTIFICATE, "certificate")
    if document is None:
        return None
    certificate = document.payload
    only_known_members(report, answer, {"certificate_id", "document", "certificate"}, "certificate")
    copy_matches(report, answer, "certificate_id", certificate["certificate_id"], "certificate")
    copy_matches(report, answer, "certificate", certificate, "certificate")
    retired = certificate["quantity"] * certificate["unit_mg"]
    report.expect(certificate["retired_mg"] == retired, "certificate: retired_mg = quantity x unit_mg",
                  f"certificate: retired_mg {certificate['retired_mg']} is not quantity x unit_mg "
                  f"= {retired}")
    report.expect(certificate["retired_g"] == grams(certificate["retired_mg"]),
                  f"certificate: retired_g {certificate['retired_g']} is retired_mg / 1000",
                  f"certificate: retired_g {certificate['retired_g']!r} is not "
                  f"{grams(certificate['retired_mg'])!r}")
    problem = period_problem(certificate)
    report.expect(problem is None, "certificate: the period lies within the vintage year",
                  f"certificate: {problem}")
    ranges = _serial_ranges(certificate, report)
    if lot is not None:
        _against_lot(certificate, ranges, lot, report)
    return certificate
