"""The verifier's command line (docs/verification.md section 9): `python -m carbon_verify
--keys keys.json <kind> FILE...` on files as the endpoints serve them. Exit 0 when everything
holds, 1 naming each failure, 2 on unreadable input; every single-byte tampering of a served
file is caught."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from carbon_verify.cli import main, parse_args, verify_files
from tests.verification import verifier_support as vs

VERIFIER = pathlib.Path(__file__).resolve().parents[2] / "verifier"
SIGNER = vs.Signer()
LOT = vs.build_lot(5)
HEADS = vs.head_payloads(6)


def served(value) -> bytes:
    """A JSON answer as the service writes it: compact, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture
def files(tmp_path):
    def write(name: str, value) -> str:
        path = tmp_path / name
        path.write_bytes(value if isinstance(value, bytes) else served(value))
        return str(path)
    write("keys.json", vs.key_set(SIGNER))
    return write


@pytest.fixture
def keys(files, tmp_path):
    return str(tmp_path / "keys.json")


def run(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def documents(files):
    """One valid file of each kind: (kind, path, extra arguments)."""
    certificate = vs.certificate_payload(LOT, ((1, 3), (5, 5)))
    return [
        ("receipt", files("receipt.json", vs.receipt_answer(SIGNER)), []),
        ("manifest", files("manifest.json", vs.manifest_answer(SIGNER, LOT)), []),
        ("lot-proof", files("proof.json", vs.lot_proof_answer(SIGNER, LOT, 2)), []),
        ("certificate", files("cert.json", vs.certificate_answer(SIGNER, certificate)),
         ["--manifest", files("lot-manifest.json", vs.manifest_answer(SIGNER, LOT))]),
        ("chain-heads", files("heads.json", vs.heads_pages(SIGNER, HEADS)[0]), []),
    ]


def test_help_works_with_only_the_verifier_on_the_path():
    clean = {"PYTHONPATH": str(VERIFIER)}  # nothing else: not the service, not its venv on PATH
    done = subprocess.run([sys.executable, "-m", "carbon_verify", "--help"], cwd="/tmp", env=clean,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "receipt" in done.stdout and "chain-heads" in done.stdout and "--keys" in done.stdout


def test_every_kind_verifies_from_a_clean_environment(files, keys):
    clean = {"PYTHONPATH": str(VERIFIER)}  # nothing else: not the service, not its venv on PATH
    for kind, path, extra in documents(files):
        done = subprocess.run([sys.executable, "-m", "carbon_verify", "--keys", keys, kind, path,
                               *extra], cwd="/tmp", env=clean, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, (kind, done.stdout, done.stderr)
        assert "OK: all" in done.stdout and "FAIL" not in done.stdout


def test_json_summary_lists_checks_and_no_failures(files, keys, capsys):
    for kind, path, extra in documents(files):
        code, out = run(capsys, "--keys", keys, "--json", kind, path, *extra)
        summary = json.loads(out)
        assert code == 0 and summary["ok"] is True and summary["failures"] == [], (kind, summary)
        assert len(summary["checks"]) >= 3 and summary["kind"] == kind


def test_a_failure_is_named_and_exits_1(files, keys, capsys):
    answer = vs.certificate_answer(SIGNER, vs.certificate_payload(LOT))
    answer["certificate"]["beneficiary"] = "Someone Else Ltd"
    code, out = run(capsys, "--keys", keys, "certificate", files("cert.json", answer))
    assert code == 1
    assert "FAIL" in out and "'certificate' differs from the signed document" in out
    code, out = run(capsys, "--keys", keys, "--json", "certificate", files("cert.json", answer))
    summary = json.loads(out)
    assert code == 1 and summary["ok"] is False and len(summary["failures"]) == 1


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"receipt": {}}', b"[]",
                                     b'{"document": 12}', b"\xff\xfe"])
def test_unreadable_input_exits_2(files, keys, capsys, content):
    code, out = run(capsys, "--keys", keys, "receipt", files("receipt.json", content))
    assert code == 2 and "UNREADABLE INPUT" in out


def test_a_missing_file_or_key_set_exits_2(files, keys, capsys, tmp_path):
    receipt = files("receipt.json", vs.receipt_answer(SIGNER))
    assert run(capsys, "--keys", keys, "receipt", str(tmp_path / "nope.json"))[0] == 2
    assert run(capsys, "--keys", str(tmp_path / "nope.json"), "receipt", receipt)[0] == 2
    assert run(capsys, "--keys", files("bad-keys.json", {"kid": 1}), "receipt", receipt)[0] == 2


def test_a_key_set_with_a_wrong_kid_fails(files, capsys):
    receipt = files("receipt.json", vs.receipt_answer(SIGNER))
    bad = files("bad-keys.json", {"keys": [SIGNER.jwk(kid="kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")]})
    code, out = run(capsys, "--keys", bad, "receipt", receipt)
    assert code == 1 and "thumbprint" in out


def test_misplaced_options_are_usage_errors(files, keys):
    receipt = files("receipt.json", vs.receipt_answer(SIGNER))
    for argv in (["--keys", keys, "receipt", receipt, "--manifest", receipt],
                 ["--keys", keys, "manifest", receipt, "--chain-heads", receipt],
                 ["--keys", keys, "invoice", receipt], ["receipt", receipt]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2


def test_chain_heads_from_several_pages_and_open_data_files(files, keys, capsys):
    pages = vs.heads_pages(SIGNER, HEADS, limit=4)
    first, second = files("page1.json", pages[0]), files("page2.json", pages[1])
    lines = b"".join(served(line) + b"\n" for line in vs.open_data_lines(SIGNER, HEADS[:4]))
    jsonl = files("chain-heads-2026-12-05.jsonl", lines)
    code, out = run(capsys, "--keys", keys, "chain-heads", second, jsonl, first)
    assert code == 0, out
    assert "5 consecutive pair(s) linked" in out
    items = files("items.json", [item for page in pages for item in page["items"]])
    assert run(capsys, "--keys", keys, "chain-heads", items)[0] == 0
    broken = files("broken.jsonl", lines + b"{oops\n")
    assert run(capsys, "--keys", keys, "chain-heads", broken)[0] == 2


def test_chain_heads_that_contradict_each_other_exit_1(files, keys, capsys):
    rewritten = {**HEADS[2], "hash": "ab" * 32}
    lines = b"".join(served(line) + b"\n" for line in vs.open_data_lines(SIGNER, HEADS))
    mirror = files("mirror.jsonl", lines)
    now = files("now.jsonl", served(vs.open_data_lines(SIGNER, [rewritten])[0]) + b"\n")
    code, out = run(capsys, "--keys", keys, "chain-heads", mirror, now)
    assert code == 1 and "different hashes" in out


def test_a_manifest_in_several_page_files(files, keys, capsys):
    lot = vs.build_lot(12)
    pages = vs.manifest_pages(SIGNER, lot, page_size=5)
    paths = [files(f"page{i}.json", page) for i, page in enumerate(pages)]
    assert run(capsys, "--keys", keys, "manifest", *reversed(paths))[0] == 0
    code, out = run(capsys, "--keys", keys, "manifest", *paths[:2])
    assert code == 1 and "more leaves follow" in out


def test_a_receipt_file_may_hold_the_exports_receipts_or_a_list(files, keys, capsys):
    answers = [vs.receipt_answer(SIGNER, vs.receipt_payload(action_id=f"a{i}")) for i in range(3)]
    export = {"profile": {}, "receipts": [{"action_id": a["action_id"], "document": a["document"]}
                                          for a in answers]}
    assert run(capsys, "--keys", keys, "receipt", files("export.json", export))[0] == 0
    answers[1]["receipt"]["points"] = 1
    code, out = run(capsys, "--keys", keys, "receipt", files("list.json", answers))
    assert code == 1 and "[1] receipt: the answer's 'receipt' differs" in out


def test_a_receipt_is_compared_with_chain_heads_given(files, keys, capsys):
    head = HEADS[3]
    payload = vs.receipt_payload(chain={"position": head["position"], "hash": "cd" * 32,
                                        "sealed_at": head["sealed_at"]})
    receipt = files("receipt.json", vs.receipt_answer(SIGNER, payload))
    heads = files("heads.json", vs.heads_pages(SIGNER, HEADS))
    code, out = run(capsys, "--keys", keys, "receipt", receipt, "--chain-heads", heads)
    assert code == 1 and "differs from the signed chain head" in out


def tamperings(content: bytes, flips=(0x01,)):
    """A single-byte change at every position of `content`: the byte with its lowest bit
    flipped (its neighbour: digit to digit, letter to letter, quote to '#'), and with
    0x20, bit 5 (letter case, digit to punctuation)."""
    for position in range(len(content)):
        for flip in flips:
            changed = bytearray(content)
            changed[position] ^= flip
            yield position, bytes(changed)


def test_every_single_byte_tampering_of_a_served_document_is_caught(files, keys, capsys):
    undetected = []
    for kind, path, extra in documents(files):
        content = pathlib.Path(path).read_bytes()
        args = parse_args(["--keys", keys, kind, path, *extra])
        flips = (0x01, 0x20) if kind == "receipt" else (0x01,)
        for position, changed in tamperings(content, flips):
            pathlib.Path(path).write_bytes(changed)
            if verify_files(args).exit_code == 0:
                undetected.append(f"{kind} byte {position}: {content[max(0, position - 20):position + 20]!r}")
        pathlib.Path(path).write_bytes(content)
        assert main(["--keys", keys, kind, path, *extra]) == 0
    capsys.readouterr()
    assert not undetected, "\n".join(undetected[:20])


def test_the_console_script_entry_point_is_main():
    text = (VERIFIER / "pyproject.toml").read_text(encoding="utf-8")
    assert 'carbon-verify = "carbon_verify.cli:main"' in text
    assert os.path.exists(VERIFIER / "carbon_verify" / "__main__.py")
