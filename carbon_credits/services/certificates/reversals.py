"""No double counting through reversals: an action whose grams were issued as certificates
stays credited. `reverse_action` asks here; it locks the action first and then only reads lot
membership, so no lock cycle with issuance exists."""
from __future__ import annotations

from sqlalchemy import select

from carbon_credits.domain.errors import Conflict
from models import Action, CertificateLotAction, db


def refuse_reversal_inside_lot(action: Action) -> None:
    """Asked by `reverse_action`: an action whose grams were issued as certificates stays
    credited (the certificates may be sold or retired already); reversing it is refused (409)."""
    lot_id = db.session.scalar(select(CertificateLotAction.lot_id)
                               .where(CertificateLotAction.action_id == action.id))
    if lot_id is not None:
        raise Conflict(f"This action's reduction is certified in lot {lot_id}; it cannot be "
                       "reversed.", code="in_certified_lot")
