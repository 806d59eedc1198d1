"""Signed retirement certificates, public (docs/verification.md, section 8)."""
from __future__ import annotations

from api.extensions import Blueprint

blp = Blueprint("public_certificates", __name__, url_prefix="/api/v1/public",
                description="Signed retirement certificates (JSON or PDF, no login)")
