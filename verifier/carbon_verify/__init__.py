"""carbon_verify: an independent, offline verifier of the carbon-credits service's signed
documents (receipts, lot manifests, lot proofs, retirement certificates, chain heads), written
from docs/verification.md alone. It needs nothing but `cryptography` and the published keys."""
from carbon_verify.api import (verify_certificate, verify_chain_heads, verify_lot_proof,
                               verify_manifest, verify_receipt)
from carbon_verify.encoding import b64url_decode, b64url_encode, canonical_json, parse_json
from carbon_verify.jws import JwsError, Signed, ed25519_verifies, verify_jws
from carbon_verify.keys import KeySet, jwk_thumbprint, load_keys
from carbon_verify.merkle import (leaf_hash, node_hash, root_from_inclusion, tree_hash,
                                  verify_inclusion)
from carbon_verify.report import MalformedInput, Report

__version__ = "1.0.0"
__all__ = [
    "JwsError", "KeySet", "MalformedInput", "Report", "Signed", "b64url_decode", "b64url_encode",
    "canonical_json", "ed25519_verifies", "jwk_thumbprint", "leaf_hash", "load_keys",
    "node_hash", "parse_json", "root_from_inclusion", "tree_hash", "verify_certificate",
    "verify_chain_heads", "verify_inclusion", "verify_jws", "verify_lot_proof",
    "verify_manifest", "verify_receipt",
]
