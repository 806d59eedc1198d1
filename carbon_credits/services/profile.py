"""The citizen's own profile as shown by GET /api/v1/me."""
from __future__ import annotations

from carbon_credits.services.impact import get_total_reduction_g
from carbon_credits.services.ledger import get_available_balance
from models import User


def get_profile(*, user: User) -> dict:
    """Profile plus balance and lifetime reduction (filled by the ledger and actions modules)."""
    return {
        "id": user.id,
        "email": user.email,
        "phone": user.phone,
        "display_name": user.display_name,
        "roles": user.sorted_roles,
        "partner_id": user.partner_id,
        "created_at": user.created_at,
        "balance": get_available_balance(user_id=user.id),
        "total_reduction_g": get_total_reduction_g(user_id=user.id),
    }
