"""Verifiability (docs/verification.md): the service's public keys, the signed chain heads,
lot manifests and a citizen's proof that their action is in a lot."""
from __future__ import annotations

from api.extensions import Blueprint

blp = Blueprint("proofs", __name__, url_prefix="",
                description="Verifiability: public keys, chain heads, lot manifests and proofs")
