"""Lot manifests (docs/verification.md, sections 6 and 7): a Merkle tree over a lot's salted
leaves, fixed at issuance; the signed lot document; the public manifest; and for an action's
owner, the proof that the action is in the lot.

The leaves are derived, not stored: from the lot's append-only membership and its secret.
Listing them costs one HMAC and two SHA-256 per member, so a page of a large lot's manifest
costs a pass over the lot; responses are public and cacheable (ETag), and a lot never changes
after issuance except for its verification statement."""
from __future__ import annotations

import dataclasses
import secrets
import uuid

from sqlalchemy import select

from carbon_credits.domain import certificates as rules
from carbon_credits.domain import proofs
from carbon_credits.domain.errors import NotFound, ValidationFailed
from carbon_credits.services import signing
from carbon_credits.services.certificates.blocks import lock_lot
from carbon_credits.services.certificates.verifications import latest_verification
from carbon_credits.services.uow import unit_of_work
from models import CertificateLot, CertificateLotAction, CertificateLotManifest, db, utcnow

MAX_PAGE = 10_000


@dataclasses.dataclass(frozen=True)
class Leaf:
    action_id: uuid.UUID
    salt: bytes
    body: dict

    @property
    def commitment(self) -> str:
        return self.body["action"]


def _leaves(lot: CertificateLot, secret: bytes, members) -> list[Leaf]:
    """The lot's leaves in index order (by commitment). `members`: (action_id, contributed_mg)."""
    leaves = []
    for action_id, contributed_mg in members:
        text = str(action_id)
        salt = proofs.action_salt(secret, text)
        leaves.append(Leaf(action_id=action_id, salt=salt, body=proofs.lot_leaf(
            commitment=proofs.action_commitment(salt, text), contributed_mg=int(contributed_mg),
            methodology_code=lot.methodology_code, methodology_version=lot.methodology_version)))
    leaves.sort(key=lambda leaf: leaf.commitment)
    return leaves


def _members(lot_id: uuid.UUID):
    return db.session.execute(select(CertificateLotAction.action_id, CertificateLotAction.contributed_mg)
                              .where(CertificateLotAction.lot_id == lot_id)).all()


def _root(leaves: list[Leaf]) -> str:
    return proofs.merkle_root([proofs.lot_leaf_hash(leaf.body) for leaf in leaves]).hex()


def fix_manifest(lot: CertificateLot, members) -> CertificateLotManifest:
    """Fix the lot's tree, inside the unit of work that issues the lot (or, for a lot issued
    before manifests existed, the one that first asks for it, under the lot's lock)."""
    secret = secrets.token_bytes(32)
    leaves = _leaves(lot, secret, members)
    manifest = CertificateLotManifest(lot_id=lot.id, leaf_secret=secret, tree_size=len(leaves),
                                      root_hash=_root(leaves), created_at=utcnow())
    db.session.add(manifest)
    db.session.flush()
    return manifest


def manifest_for(lot_id: uuid.UUID) -> CertificateLotManifest:
    """The lot's manifest row (404 `lot_not_found`)."""
    manifest = db.session.get(CertificateLotManifest, lot_id)
    if manifest is not None:
        return manifest
    with unit_of_work():
        lot = lock_lot(lot_id)
        manifest = db.session.get(CertificateLotManifest, lot_id)
        if manifest is None:
            manifest = fix_manifest(lot, _members(lot_id))
    return manifest


def _lot(lot_id: uuid.UUID) -> CertificateLot:
    lot = db.session.get(CertificateLot, lot_id)
    if lot is None:
        raise NotFound("Certificate lot not found.", code="lot_not_found")
    return lot


def _verification(lot_id: uuid.UUID) -> dict | None:
    latest = latest_verification(lot_id)
    if latest is None:
        return None
    return {"statement_id": latest.id, "opinion": latest.opinion,
            "signed_at": latest.signed_at.isoformat(),
            "verifier_organisation": latest.verifier_organisation,
            "report_reference": latest.report_reference, "sample_method": latest.sample_method,
            "seed": latest.seed, "sample_size": latest.sample_size}


def lot_payload(lot: CertificateLot, manifest: CertificateLotManifest) -> dict:
    return {
        "type": proofs.LOT_TYPE, "lot_id": str(lot.id),
        "serials": rules.format_range(lot.methodology_code, lot.vintage_year, lot.serial_start,
                                      lot.serial_end),
        "serial_start": lot.serial_start, "serial_end": lot.serial_end, "quantity": lot.quantity,
        "unit_mg": lot.unit_mg, "verified_mg": lot.verified_mg, "issued_mg": lot.issued_mg,
        "remainder_mg": lot.remainder_mg, "action_count": lot.action_count,
        "methodology": {"code": lot.methodology_code, "version": lot.methodology_version},
        "period": {"from": lot.period_from.isoformat(), "to": lot.period_to.isoformat()},
        "vintage_year": lot.vintage_year, "issued_at": lot.issued_at.isoformat(),
        "merkle": {"leaf_type": proofs.LOT_LEAF_TYPE, "tree_size": manifest.tree_size,
                   "root": manifest.root_hash},
        "verification": _verification(lot.id),
    }


def lot_document(lot_id: uuid.UUID) -> tuple[str, dict]:
    """The signed lot document (JWS, payload)."""
    lot = _lot(lot_id)
    manifest = manifest_for(lot_id)
    payload = lot_payload(lot, manifest)
    return signing.sign(payload), payload


def manifest_page(lot_id: uuid.UUID, *, first_index: int = 0, limit: int = MAX_PAGE) -> dict:
    """The public manifest: the lot document and leaves [first_index, first_index + limit)."""
    document, payload = lot_document(lot_id)
    manifest = manifest_for(lot_id)
    if not 0 <= first_index <= manifest.tree_size:
        raise ValidationFailed("The cursor is outside this manifest.",
                               errors={"cursor": ["Not a cursor of this manifest."]})
    leaves = _leaves(_lot(lot_id), bytes(manifest.leaf_secret), _members(lot_id))
    end = min(len(leaves), first_index + limit)
    return {"lot_id": str(lot_id), "document": document, "tree_size": manifest.tree_size,
            "root": manifest.root_hash, "first_index": first_index,
            "leaves": [leaf.body for leaf in leaves[first_index:end]],
            "next_cursor": end if end < len(leaves) else None}


def lot_of_action(action_id: uuid.UUID) -> uuid.UUID | None:
    return db.session.scalar(select(CertificateLotAction.lot_id)
                             .where(CertificateLotAction.action_id == action_id))


def lot_proof(action_id: uuid.UUID) -> dict:
    """The proof that `action_id` is in its lot (404 `not_in_a_lot`). Who may ask is the
    caller's business: the salt it reveals is the action owner's alone."""
    lot_id = lot_of_action(action_id)
    if lot_id is None:
        raise NotFound("This action is in no certified lot.", code="not_in_a_lot")
    document, _ = lot_document(lot_id)
    manifest = manifest_for(lot_id)
    leaves = _leaves(_lot(lot_id), bytes(manifest.leaf_secret), _members(lot_id))
    index = next(i for i, leaf in enumerate(leaves) if leaf.action_id == action_id)
    path = proofs.inclusion_path(index, [proofs.lot_leaf_hash(leaf.body) for leaf in leaves])
    return {"action_id": str(action_id), "lot_id": str(lot_id), "document": document,
            "salt": leaves[index].salt.hex(), "leaf": leaves[index].body, "leaf_index": index,
            "tree_size": len(leaves), "audit_path": [node.hex() for node in path]}


def check_manifests() -> list[str]:
    """Each fixed manifest still matches its lot's append-only membership."""
    problems = []
    for manifest in db.session.scalars(select(CertificateLotManifest)):
        lot = db.session.get(CertificateLot, manifest.lot_id)
        leaves = _leaves(lot, bytes(manifest.leaf_secret), _members(lot.id))
        if len(leaves) != manifest.tree_size or len(leaves) != lot.action_count:
            problems.append(f"lot {lot.id}: manifest has {manifest.tree_size} leaves, membership "
                            f"{len(leaves)}, lot {lot.action_count}")
        elif _root(leaves) != manifest.root_hash:
            problems.append(f"lot {lot.id}: manifest root does not match its membership")
    return problems
