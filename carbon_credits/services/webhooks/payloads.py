"""The `data` of each event type, built once from the rows the emitting services hold, so every
site sends the same facts (docs/webhooks.md lists them). Ids are strings, amounts integers,
times ISO 8601 UTC."""
from __future__ import annotations

import datetime as dt
import uuid

from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.domain.webhooks import iso_utc
from carbon_credits.services.statements import Statement
from carbon_credits.services.webhooks import outbox

# The action statuses that are events of their own when an action is stored with them.
STORED_STATUS_EVENTS = {"credited": "action.credited", "rejected": "action.rejected"}


def _get(source, name):
    return source.get(name) if isinstance(source, dict) else getattr(source, name, None)


def _text(value) -> str | None:
    return None if value is None else str(value)


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else iso_utc(value)


def action_data(action) -> dict:
    """An action (an `Action`, a stored-row value, or the row dict written) as receivers see it."""
    g = lambda name: _get(action, name)  # noqa: E731
    credited_mg = g("credited_mg") or 0
    return {
        "action_id": _text(g("id")), "external_id": g("external_id"),
        "action_type": g("action_type"), "mode": g("mode"), "channel": g("channel"),
        "status": g("status"), "occurred_at": _time(g("occurred_at")),
        "reduction_mg": g("reduction_mg"), "credited_mg": credited_mg,
        "credited_g": format(mg_to_grams(credited_mg), "f"), "points": g("points") or 0,
        "methodology": ({"code": g("methodology_code"), "version": g("methodology_version")}
                        if g("methodology_code") else None),
        "reason_codes": [r.get("code") for r in (g("reasons") or []) if isinstance(r, dict)],
        "partner_id": _text(g("partner_id")), "user_id": _text(g("user_id")),
    }


def _action_event(event_type: str, action, **extra) -> dict:
    return {"event_type": event_type, "data": {**action_data(action), **extra},
            "partner_id": _get(action, "partner_id"), "user_id": _get(action, "user_id")}


def stored_action_events(rows) -> list[dict]:
    """The events of actions just stored (credited or rejected), as `outbox.emit_many` takes."""
    return [_action_event(STORED_STATUS_EVENTS[_get(r, "status")], r) for r in rows
            if _get(r, "status") in STORED_STATUS_EVENTS]


def stored_action_call(row: dict) -> tuple[Statement, dict] | None:
    """The deferred event of one action just stored, or None if its status is not an event."""
    events = stored_action_events([row])
    return outbox.emit_call(**events[0]) if events else None


def emit_action(event_type: str, action, **extra) -> None:
    outbox.emit(**_action_event(event_type, action, **extra))


def emit_review(action, *, decision: str, reason: str | None) -> None:
    """An auditor's decision on a pending claim: the action's own event and `review.decided`."""
    emit_action(STORED_STATUS_EVENTS[action.status], action)
    emit_action("review.decided", action, decision=decision, review_reason=reason,
                reviewed_at=_time(action.reviewed_at))


def emit_campaign(event_type: str, *, campaign_id: uuid.UUID, user_id: uuid.UUID,
                  **facts) -> None:
    """A campaign bonus paid to a citizen, or taken back (docs/engagement.md): the city's
    subscriptions only (no partner is concerned)."""
    outbox.emit(event_type, {"campaign_id": _text(campaign_id), "user_id": _text(user_id),
                             **{k: _text(v) if isinstance(v, uuid.UUID) else v
                                for k, v in facts.items()}}, partner_id=None, user_id=user_id)


def emit_redemption(event_type: str, redemption, **extra) -> None:
    outbox.emit(event_type, {
        "redemption_id": _text(redemption.id), "reward_id": _text(redemption.reward_id),
        "user_id": _text(redemption.user_id), "points": redemption.points,
        "status": redemption.status, "expires_at": _time(getattr(redemption, "expires_at", None)),
        **extra}, partner_id=redemption.partner_id, user_id=redemption.user_id)


def emit_lot(event_type: str, lot, *, quantity: int, partner_id: uuid.UUID | None = None,
             **extra) -> None:
    outbox.emit(event_type, {
        "lot_id": _text(lot.id), "quantity": quantity, "unit_g": lot.unit_mg // 1000,
        "methodology": {"code": _get(lot, "methodology_code"),
                        "version": _get(lot, "methodology_version")},
        **{k: _text(v) if isinstance(v, uuid.UUID) else v for k, v in extra.items()}},
        partner_id=partner_id)


def emit_adjustment(adjustment, *, status: str, note: str | None) -> None:
    outbox.emit("adjustment.decided", {
        "adjustment_id": _text(adjustment.id), "status": status, "amount": adjustment.points,
        "user_id": _text(adjustment.user_id), "reason": adjustment.reason,
        "decision_note": note}, user_id=adjustment.user_id)
