"""carbon-verify: check the service's documents offline against its published keys.

Exit status: 0 every check holds, 1 a check fails (each named), 2 unreadable input."""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections.abc import Callable
from typing import Any

from carbon_verify.certificates import check_certificate
from carbon_verify.common import report_keys
from carbon_verify.encoding import parse_json
from carbon_verify.heads import check_chain_heads
from carbon_verify.keys import KeySet, load_keys
from carbon_verify.lots import check_lot_proof
from carbon_verify.manifests import check_manifest
from carbon_verify.receipts import check_receipt
from carbon_verify.report import MalformedInput, Report, reading

KINDS = ("receipt", "manifest", "lot-proof", "certificate", "chain-heads")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carbon-verify",
        description="Verify the carbon-credits service's signed documents offline "
                    "(docs/verification.md). Exit 0: everything holds; 1: a check fails; "
                    "2: unreadable input.")
    parser.add_argument("--keys", required=True, metavar="KEYS_JSON",
                        help="the key set as served by /.well-known/carbon-credits-keys")
    parser.add_argument("--json", action="store_true", dest="as_json",
                        help='print {"ok", "checks", "failures"} as JSON')
    parser.add_argument("--manifest", action="append", metavar="FILE", default=[],
                        help="certificate: the lot's manifest (repeat for several pages)")
    parser.add_argument("--chain-heads", action="append", metavar="FILE", default=[],
                        dest="chain_heads", help="receipt: signed chain heads to compare the "
                        "receipt's chain link with (endpoint answer or open-data .jsonl)")
    parser.add_argument("kind", choices=KINDS, help="what the files are")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="the endpoint's JSON answer(s); for chain-heads also .jsonl files")
    return parser


def _json_lines(data: bytes, path: str) -> list:
    lines = []
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            try:
                lines.append(parse_json(line))
            except ValueError as error:
                raise MalformedInput(f"{path} line {number} is not JSON ({error})") from None
    return lines


def read_json(path: str, *, lines: bool = False) -> Any:
    """A file's JSON; with `lines`, a .jsonl file (or a JSON file) as the list of its lines."""
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as error:
        raise MalformedInput(f"cannot read {path}: {error.strerror or error}") from None
    if lines and path.endswith(".jsonl"):
        return _json_lines(data, path)
    try:
        return parse_json(data)
    except ValueError as error:
        if lines:
            return _json_lines(data, path)
        raise MalformedInput(f"{path} is not JSON ({error})") from None


def _joined(paths: list[str], *, lines: bool = False) -> list:
    """The contents of several files as one list (a file holding a list contributes its items)."""
    joined: list = []
    for path in paths:
        value = read_json(path, lines=lines)
        joined.extend(value if isinstance(value, list) else [value])
    return joined


def _each_document(args: argparse.Namespace, report: Report, check: Callable[[Any, Report], Any],
                   section: str | None = None) -> None:
    """Run `check` on every document in the files: a file holds one answer or a list of them
    (or, for receipts, the personal-data export's `receipts` section)."""
    for path in args.files:
        sub = Report()
        with reading(sub):
            value = read_json(path)
            if section and isinstance(value, dict) and isinstance(value.get(section), list):
                value = value[section]
            documents = value if isinstance(value, list) else [value]
            if not documents:
                raise MalformedInput(f"{path} holds no document")
            for index, document in enumerate(documents):
                one = Report()
                with reading(one):
                    check(document, one)
                sub.include(one, f"[{index}] " if len(documents) > 1 else "")
        report.include(sub, f"{path}: ")


def _run_kind(args: argparse.Namespace, keys: KeySet, report: Report) -> None:
    if args.kind == "receipt":
        heads = check_chain_heads(_joined(args.chain_heads, lines=True), keys, report) \
            if args.chain_heads else None
        _each_document(args, report, lambda doc, sub: check_receipt(doc, keys, sub, heads), "receipts")
    elif args.kind == "lot-proof":
        _each_document(args, report, lambda doc, sub: check_lot_proof(doc, keys, sub))
    elif args.kind == "certificate":
        lot = None
        if args.manifest:
            lot = check_manifest(_joined(args.manifest), keys, report)
            if lot is None:
                report.failed("certificate: not compared with the lot: its manifest does not verify")
        _each_document(args, report, lambda doc, sub: check_certificate(doc, keys, sub, lot))
    elif args.kind == "manifest":
        check_manifest(_joined(args.files), keys, report)
    else:
        check_chain_heads(_joined(args.files, lines=True), keys, report)


def verify_files(args: argparse.Namespace) -> Report:
    report = Report()
    with reading(report):
        keys = load_keys(read_json(args.keys))
        report_keys(keys, report)
        _run_kind(args, keys, report)
    return report


def _render(report: Report, args: argparse.Namespace) -> str:
    lines = [f"carbon-verify {args.kind}: {' '.join(args.files)}"]
    lines += [("  ok    " if held else "  FAIL  ") + text for held, text in report.lines]
    if report.malformed:
        lines.append("UNREADABLE INPUT (exit 2)")
    elif report.ok:
        lines.append(f"OK: all {len(report.checks)} checks hold")
    else:
        lines.append(f"FAILED: {len(report.failures)} check(s) failed (exit 1)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's arguments (usage errors exit 2, as argparse does)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.manifest and args.kind != "certificate":
        parser.error("--manifest goes with certificate")
    if args.chain_heads and args.kind != "receipt":
        parser.error("--chain-heads goes with receipt")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = verify_files(args)
    if args.as_json:
        print(json.dumps({"kind": args.kind, **report.summary()}, ensure_ascii=False, indent=2))
    else:
        print(_render(report, args))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
