"""A notification's `message`: one sentence for people, written when it is read, in the
request's language, from its `kind` and `data` (docs/notifications.md). Stored notifications
keep only kind and data, so a notification reads in whatever language the client asks for
today; `data` stays the machine-readable record."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from api.i18n import N_, translate
from carbon_credits.config import get_settings

ACTION_TYPE_NAMES = {
    "transit": N_("green trip"),
    "ev_charging": N_("EV charging session"),
    "waste_sorting": N_("waste sorting"),
    "everyday": N_("everyday green choice"),
    "household_energy": N_("household saving"),
}

TEMPLATES = {
    "points_expiring": N_("%(points)s points lapse on %(expires_on)s."),
    "voucher_expiring": N_("Your voucher for %(reward_title)s expires at %(expires_at)s."),
    ("review_decided", "approved"): N_("Your %(action)s was approved: %(points)s points credited."),
    ("review_decided", "rejected"): N_("Your %(action)s was not credited: %(reason)s"),
    "action_reversed": N_("Your %(action)s was reversed (%(reason)s): %(clawed_back)s points "
                          "taken back."),
}
NO_REASON = N_("no reason given")


def _local_time(value: str | None) -> str:
    """An ISO 8601 instant as the scheme's local date and time (YYYY-MM-DD HH:MM)."""
    try:
        instant = dt.datetime.fromisoformat(value or "")
    except ValueError:
        return value or ""
    if instant.tzinfo is None:
        return value
    zone = zoneinfo.ZoneInfo(get_settings().scheme_timezone)
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def notification_message(view: dict) -> str | None:
    """The sentence for a notification view ({kind, data, ...}); None for a kind or shape
    this version does not know (the client still has kind and data)."""
    kind, data = view.get("kind"), dict(view.get("data") or {})
    template = TEMPLATES.get((kind, data.get("decision"))) or TEMPLATES.get(kind)
    if template is None:
        return None
    action_name = ACTION_TYPE_NAMES.get(data.get("action_type"))
    data.update(
        action=translate(action_name) if action_name else data.get("action_type"),
        reason=data.get("reason") or translate(NO_REASON),
        expires_at=_local_time(data.get("expires_at")))
    try:
        return translate(template) % data
    except (KeyError, TypeError, ValueError):
        return None
