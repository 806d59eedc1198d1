"""Documents shaped like the service's answers (docs/verification.md), signed with a test key,
for the verifier's tests. Leaves, commitments, roots and audit paths come from
carbon_credits.domain.proofs, so every valid document also holds the verifier against the
service's own construction."""
from __future__ import annotations

import dataclasses
import hashlib
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.pagination import encode_cursor
from carbon_credits.domain import proofs

METHODOLOGY = {"code": "SH-METRO", "version": 1}
PERIOD = {"from": "2026-10-01", "to": "2026-10-31"}


class Signer:
    """An Ed25519 key that signs the way the service does: header {"alg","kid"}, canonical
    JSON payload."""

    def __init__(self, seed: int = 1) -> None:
        self.private = Ed25519PrivateKey.from_private_bytes(
            hashlib.sha256(f"test signer {seed}".encode()).digest())
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        self.x = proofs.b64url(raw)
        self.kid = proofs.jwk_thumbprint(self.x)

    def jwk(self, **changes) -> dict:
        return {"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "alg": "EdDSA",
                "use": "sig", "status": "active", "created_at": "2026-12-06T02:00:00+00:00",
                "retired_at": None, **changes}

    def sign(self, payload, *, header: dict | None = None) -> str:
        header = {"alg": "EdDSA", "kid": self.kid} if header is None else header
        body = payload if isinstance(payload, bytes) else proofs.canonical_json(payload)
        signing_input = f"{proofs.b64url(proofs.canonical_json(header))}.{proofs.b64url(body)}"
        return f"{signing_input}.{proofs.b64url(self.private.sign(signing_input.encode()))}"


def key_set(*signers: Signer) -> dict:
    return {"keys": [signer.jwk() for signer in signers]}


def receipt_payload(**changes) -> dict:
    return {"type": proofs.RECEIPT_TYPE, "action_id": "0f7c2d4e-1b2a-4c3d-9e8f-001122334455",
            "action_type": "metro_trip", "occurred_at": "2026-11-03T08:10:00+00:00",
            "inputs": {"distance_m": 12400, "mode": "metro"}, "methodology": dict(METHODOLOGY),
            "credited_mg": 970000, "credited_g": "970.000", "points": 970,
            "credited_at": "2026-11-03T08:10:02.000001+00:00",
            "ledger_entry": {"transfer_id": "7d1e4f2a-0000-4000-8000-000000000001", "seq": 5123},
            "chain": {"position": 4411, "hash": "ab" * 32,
                      "sealed_at": "2026-11-03T08:15:00+00:00"}, **changes}


def receipt_answer(signer: Signer, payload: dict | None = None) -> dict:
    payload = receipt_payload() if payload is None else payload
    return {"action_id": payload["action_id"], "document": signer.sign(payload), "receipt": payload}


@dataclasses.dataclass
class Lot:
    payload: dict        # the lot document's payload
    leaves: list[dict]   # in index order
    action_ids: list[str]  # the action of each leaf, by index
    salts: list[str]     # hex, by index

    def leaf_hashes(self) -> list[bytes]:
        return [proofs.lot_leaf_hash(leaf) for leaf in self.leaves]


def build_lot(count: int = 7, *, code: str = "SH-METRO", year: int = 2026,
              unit_mg: int = 1_000_000, first_serial: int = 1, seed: int = 1) -> Lot:
    """A lot of `count` actions of 1.234567 kg and up, built as the service builds one."""
    secret = hashlib.sha256(f"lot secret {seed}".encode()).digest()
    methodology = {"code": code, "version": 1}
    entries = []
    for number in range(count):
        action_id = str(uuid.UUID(int=seed * 10**6 + number + 1))
        salt = proofs.action_salt(secret, action_id)
        leaf = proofs.lot_leaf(commitment=proofs.action_commitment(salt, action_id),
                               contributed_mg=1_234_567 + 1_000 * number,
                               methodology_code=code, methodology_version=1)
        entries.append((leaf["action"], leaf, action_id, salt.hex()))
    entries.sort(key=lambda entry: entry[0])
    leaves = [entry[1] for entry in entries]
    verified = sum(leaf["contributed_mg"] for leaf in leaves)
    quantity = verified // unit_mg
    last_serial = first_serial + quantity - 1
    root = proofs.merkle_root([proofs.lot_leaf_hash(leaf) for leaf in leaves]).hex()
    payload = {
        "type": proofs.LOT_TYPE, "lot_id": str(uuid.UUID(int=seed)),
        "serials": f"CC-{code}-{year}-{first_serial:09d}-{last_serial:09d}",
        "serial_start": first_serial, "serial_end": last_serial, "quantity": quantity,
        "unit_mg": unit_mg, "verified_mg": verified, "issued_mg": quantity * unit_mg,
        "remainder_mg": verified - quantity * unit_mg, "action_count": count,
        "methodology": methodology, "period": {"from": f"{year}-10-01", "to": f"{year}-10-31"},
        "vintage_year": year, "issued_at": f"{year + 1}-01-20T09:00:00+00:00",
        "merkle": {"leaf_type": proofs.LOT_LEAF_TYPE, "tree_size": count, "root": root},
        "verification": {"statement_id": 7, "opinion": "positive",
                         "signed_at": f"{year + 1}-01-25T09:00:00+00:00",
                         "verifier_organisation": "Verifier Co.", "report_reference": "R-1",
                         "sample_method": "hmac-sha256-v1", "seed": "s33d", "sample_size": 3},
    }
    return Lot(payload, leaves, [entry[2] for entry in entries], [entry[3] for entry in entries])


def manifest_pages(signer: Signer, lot: Lot, *, page_size: int | None = None,
                   payload: dict | None = None) -> list[dict]:
    """The manifest as the endpoint serves it, page by page (opaque cursors, as served)."""
    payload = lot.payload if payload is None else payload
    document = signer.sign(payload)
    size = page_size or max(len(lot.leaves), 1)
    pages = []
    for first in range(0, max(len(lot.leaves), 1), size):
        end = min(first + size, len(lot.leaves))
        pages.append({"lot_id": payload["lot_id"], "document": document,
                      "tree_size": payload["merkle"]["tree_size"], "root": payload["merkle"]["root"],
                      "first_index": first, "leaves": lot.leaves[first:end],
                      "next_cursor": encode_cursor([end]) if end < len(lot.leaves) else None})
    return pages


def manifest_answer(signer: Signer, lot: Lot, **kwargs) -> dict:
    (page,) = manifest_pages(signer, lot, **kwargs)
    return page


def lot_proof_answer(signer: Signer, lot: Lot, index: int) -> dict:
    path = proofs.inclusion_path(index, lot.leaf_hashes())
    return {"action_id": lot.action_ids[index], "lot_id": lot.payload["lot_id"],
            "document": signer.sign(lot.payload), "salt": lot.salts[index],
            "leaf": lot.leaves[index], "leaf_index": index, "tree_size": len(lot.leaves),
            "audit_path": [node.hex() for node in path]}


def serial_text(code: str, year: int, first: int, last: int) -> str:
    single = f"CC-{code}-{year}-{first:09d}"
    return single if first == last else f"{single}-{last:09d}"


def certificate_payload(lot: Lot, ranges=((1, 2),), **changes) -> dict:
    terms = lot.payload
    code, year = terms["methodology"]["code"], terms["vintage_year"]
    serials = [serial_text(code, year, first, last) for first, last in ranges]
    quantity = sum(last - first + 1 for first, last in ranges)
    retired = quantity * terms["unit_mg"]
    return {"type": proofs.CERTIFICATE_TYPE,
            "certificate_id": "5b1f0000-0000-4000-8000-00000000c0de",
            "lot_id": terms["lot_id"], "serials": serials, "quantity": quantity,
            "unit_mg": terms["unit_mg"], "retired_mg": retired,
            "retired_g": f"{retired // 1000}.{retired % 1000:03d}",
            "beneficiary": "苏州某科技有限公司", "purpose": "2026 年会碳中和",
            "retired_at": "2027-02-01T10:00:00+00:00", "methodology": dict(terms["methodology"]),
            "vintage_year": year, "period": dict(terms["period"]),
            "lot_merkle_root": terms["merkle"]["root"], "event_id": None,
            "lookup_url": f"https://carbon.example/verify?serial={serials[0]}", **changes}


def certificate_answer(signer: Signer, payload: dict) -> dict:
    return {"certificate_id": payload["certificate_id"], "document": signer.sign(payload),
            "certificate": payload}


def head_payloads(count: int = 5, *, first_position: int = 0, seed: int = 1) -> list[dict]:
    """`count` chain heads, oldest first, each linked to the one before."""
    heads, previous, position = [], None, first_position
    for number in range(count):
        sealed = 3 + (number * 7 + seed) % 11
        position += sealed
        digest = hashlib.sha256(f"link {seed} {position}".encode()).hexdigest()
        heads.append({"type": proofs.CHAIN_HEAD_TYPE, "position": position, "hash": digest,
                      "transfers_sealed": sealed,
                      "sealed_at": f"2026-12-05T02:{number % 60:02d}:00.123456+00:00",
                      "previous": previous})
        previous = {"position": position, "hash": digest}
    return heads


def head_item(signer: Signer, payload: dict) -> dict:
    """One head as the endpoint lists it."""
    return {"position": payload["position"], "hash": payload["hash"],
            "transfers_sealed": payload["transfers_sealed"], "sealed_at": payload["sealed_at"],
            "kid": signer.kid, "document": signer.sign(payload)}


def heads_pages(signer: Signer, payloads: list[dict], *, limit: int = 100) -> list[dict]:
    """The endpoint's pages: newest first, each cursor naming the page's oldest head."""
    newest_first = [head_item(signer, payload) for payload in reversed(payloads)]
    pages = []
    for start in range(0, max(len(newest_first), 1), limit):
        items = newest_first[start:start + limit]
        more = start + limit < len(newest_first)
        pages.append({"items": items,
                      "next_cursor": encode_cursor([items[-1]["position"]]) if more else None})
    return pages


def open_data_lines(signer: Signer, payloads: list[dict]) -> list[dict]:
    """The open-data file's lines, oldest first."""
    return [{"position": p["position"], "hash": p["hash"], "document": signer.sign(p)}
            for p in payloads]
