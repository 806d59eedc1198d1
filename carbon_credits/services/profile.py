"""The citizen's own profile as shown by GET /api/v1/me."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from carbon_credits.domain.errors import NotFound, ValidationFailed
from carbon_credits.domain.regions import optional_region
from carbon_credits.services.audit import record_audit
from carbon_credits.services.impact import get_total_reduction_g
from carbon_credits.services.ledger import get_available_balance
from carbon_credits.services.uow import unit_of_work
from carbon_credits.services.regions import change_citizen_region
from models import User, db, utcnow
from carbon_credits.domain.vocabulary import LEADERBOARD_VISIBILITIES

PROFILE_FIELDS = ("display_name", "leaderboard_visibility", "region")


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
        "verified": user.is_verified,
        "leaderboard_visibility": user.leaderboard_visibility,
        "region": user.region,
        "region_since": user.region_since,
        "balance": get_available_balance(user_id=user.id),
        "total_reduction_g": get_total_reduction_g(user_id=user.id),
    }


def update_profile(*, user_id: uuid.UUID, changes: dict) -> User:
    """PATCH /me: the display name, how I appear on leaderboards and my district (from now on;
    the history is kept). The audit row names the fields changed, the visibility and the
    districts, never the name itself (it is personal data)."""
    name, visibility = _checked(changes)
    region_sent = "region" in changes
    region = optional_region(changes.get("region")) if region_sent else None
    with unit_of_work():
        user = db.session.execute(select(User).where(User.id == user_id, User.erased_at.is_(None))
                                  .with_for_update(key_share=True)
                                  .execution_options(populate_existing=True)).scalar_one_or_none()
        if user is None:
            raise NotFound("User not found.")
        details: dict = {"changed": []}
        if name is not None and name != user.display_name:
            user.display_name = name
            details["changed"].append("display_name")
        if visibility is not None and visibility != user.leaderboard_visibility:
            details["changed"].append("leaderboard_visibility")
            details["leaderboard_visibility"] = {"before": user.leaderboard_visibility,
                                                 "after": visibility}
            user.leaderboard_visibility = visibility
        moved = change_citizen_region(user, region, utcnow()) if region_sent else None
        if moved:
            details["changed"].append("region")
            details["region"] = moved
        if details["changed"]:
            record_audit(action="user.profile_update", object_type="user", object_id=user.id,
                         actor_user_id=user.id, details=details)
    return user


def _checked(changes: dict) -> tuple[str | None, str | None]:
    """The new display name and visibility, if sent, validated (region: by `optional_region`)."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed("Unknown fields.", errors={f: ["Unknown field."] for f in unknown})
    name = changes.get("display_name")
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 64 or not name.isprintable():
            raise ValidationFailed("display_name must be 1-64 printable characters.",
                                   errors={"display_name": ["Must be 1-64 printable characters."]})
    visibility = changes.get("leaderboard_visibility")
    if visibility is not None and visibility not in LEADERBOARD_VISIBILITIES:
        raise ValidationFailed("Unknown leaderboard visibility.", errors={
            "leaderboard_visibility": [f"Must be one of: {', '.join(LEADERBOARD_VISIBILITIES)}."]})
    return name, visibility
