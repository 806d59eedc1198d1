"""An auditor's review of green actions: approve or reject a pending claim, reverse a credited
one. Four-eyes: nobody decides their own claim.

Approval credits the way the pipeline would have (`services/actions`): the methodology version
in force at the action's instant, the daily cap of its scheme day and the points come from the
same rules (`domain/crediting` through `daily_caps.credit_on_row`)."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from carbon_credits.config import Settings, get_settings
from carbon_credits.domain import actions as rules
from carbon_credits.domain import methodology as method_domain
from carbon_credits.domain import crediting
from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied
from carbon_credits.services import certificates, leaderboards, ledger
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services.audit import record_audit
from carbon_credits.services.claims import missing_inputs_reason, submission_from_action
from carbon_credits.services.daily_caps import count_credits, credit_on_row, lock_daily_rows
from carbon_credits.services.engagement.reversals import take_back_bonuses
from carbon_credits.services.regions import in_district
from carbon_credits.services import notifications
from carbon_credits.services.uow import unit_of_work
from carbon_credits.services.webhooks import payloads as webhook_payloads
from models import Action, MethodologyVersion, db, utcnow


def _lock_action(action_id: uuid.UUID, within: str | None) -> Action:
    """`within`: the district the deciding auditor is scoped to; an action elsewhere is a 404."""
    action = db.session.execute(select(Action).where(Action.id == action_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one_or_none()
    if action is None or not in_district(action.region, within):
        raise NotFound("Action not found.")
    return action


def _refuse_own_review(action: Action, actor_user_id: uuid.UUID) -> None:
    """An auditor who also holds `citizen` never decides their own claims (four-eyes)."""
    if action.user_id == actor_user_id:
        raise PermissionDenied("This is your own claim; another auditor must review it.",
                               code="four_eyes")


def _lock_pending(action_id: uuid.UUID, actor_user_id: uuid.UUID, verb: str,
                  within: str | None) -> Action:
    action = _lock_action(action_id, within)
    if action.status != "pending_review":
        raise Conflict(f"Only pending actions can be {verb}; this one is {action.status}.",
                       code="action_not_pending")
    _refuse_own_review(action, actor_user_id)
    return action


def approve_action(*, action_id: uuid.UUID, actor_user_id: uuid.UUID, note: str | None = None,
                   within: str | None = None) -> Action:
    """Credit a pending claim with the methodology in force at its instant, within the cap of
    the scheme day it happened (a windowed action: when it ended)."""
    settings = get_settings()
    with unit_of_work():
        action = _lock_pending(action_id, actor_user_id, "approved", within)
        version, calculation = _requantify(action, settings)
        daily = lock_daily_rows({(action.user_id, action.scope_key, action.scheme_day)})
        reduction_mg = rules.grams_to_mg(calculation.reduction_g)
        credit = credit_on_row(daily[(action.user_id, action.scope_key, action.scheme_day)],
                               reduction_mg=reduction_mg, cap_mg=version.daily_cap_mg,
                               points_per_gram=settings.points_per_gram)
        count_credits(daily.values())
        _record_approval(action, version=version, calculation=calculation, credit=credit,
                         reduction_mg=reduction_mg, settings=settings, actor_user_id=actor_user_id,
                         note=note)
        if credit.points > 0:
            ledger.post_earns([ledger.EarnEntry(user_id=action.user_id, amount=credit.points,
                                                external_ref=f"action:{action.id}", action_id=action.id,
                                                event_time=action.occurred_at)])
        leaderboards.record_after_commit([(action.user_id, action.scheme_day, credit.credited_mg)])
        record_audit(action="action.approve", object_type="action", object_id=action.id,
                     actor_user_id=actor_user_id, details={"points": credit.points, "note": note})
        webhook_payloads.emit_review(action, decision="approved", reason=note)
        _tell_citizen(action, "review_decided", decision="approved")  # the note is the staff's
    return action


def _requantify(action: Action, settings: Settings):
    """The version in force at the claim's instant and its calculation; a claim that version
    cannot credit is a conflict (the auditor should reject it)."""
    submission = submission_from_action(action)
    # Rows stored before the one-clock rule may carry a sent occurred_at: re-derive both.
    action.occurred_at = submission.occurred_at
    action.scheme_day = rules.scheme_day(submission.occurred_at, settings.scheme_timezone)
    version = methodology_service.get_version_in_force_or_raise(
        action_type=action.action_type, mode=action.mode, occurred_at=submission.occurred_at)
    missing = method_domain.missing_inputs(version.family, submission.sent_fields())
    if missing:
        raise Conflict("The claim lacks inputs the methodology in force needs; reject it.",
                       code="action_not_creditable",
                       errors={"reasons": [missing_inputs_reason(version, missing)["message"]]})
    q = methodology_service.quantify_with_version(version=version, activity=submission.activity(),
                                                  channel="partner")
    if q.outcome == "reject":
        raise Conflict("The claim fails the methodology's rules; reject it instead.",
                       code="action_not_creditable",
                       errors={"reasons": [r.message for r in q.reasons]})
    return version, q.calculation


def _record_approval(action: Action, *, version: MethodologyVersion, calculation, credit: crediting.Credit,
                     reduction_mg: int, settings: Settings, actor_user_id: uuid.UUID,
                     note: str | None) -> None:
    now = utcnow()
    reasons = list(action.reasons or [])
    if credit.cap_reason:
        reasons.append(credit.cap_reason)
    action.status, action.reasons = "credited", reasons
    action.methodology_version_id, action.methodology_code = version.id, version.methodology.code
    action.methodology_version = version.version
    action.breakdown = method_domain.compact(calculation.breakdown)
    action.reduction_mg, action.credited_mg, action.points = reduction_mg, credit.credited_mg, credit.points
    action.points_per_gram = settings.points_per_gram
    action.reviewed_by, action.reviewed_at, action.review_reason = actor_user_id, now, note
    action.credited_at = now


def reject_action(*, action_id: uuid.UUID, actor_user_id: uuid.UUID, reason: str,
                  within: str | None = None) -> Action:
    with unit_of_work():
        action = _lock_pending(action_id, actor_user_id, "rejected", within)
        action.status = "rejected"
        action.reasons = list(action.reasons or []) + [crediting.reason("rejected_by_auditor", reason)]
        action.reviewed_by, action.reviewed_at, action.review_reason = actor_user_id, utcnow(), reason
        record_audit(action="action.reject", object_type="action", object_id=action.id,
                     actor_user_id=actor_user_id, details={"reason": reason})
        webhook_payloads.emit_review(action, decision="rejected", reason=reason)
        _tell_citizen(action, "review_decided", decision="rejected", reason=reason)
    return action


def reverse_action(*, action_id: uuid.UUID, actor_user_id: uuid.UUID, reason: str,
                   within: str | None = None):
    """Reverse a credited action (fraud): its points are clawed back through the ledger."""
    with unit_of_work():
        action = _lock_action(action_id, within)
        if action.status != "credited":
            code = "already_reversed" if action.status == "reversed" else "action_not_credited"
            raise Conflict(f"Only credited actions can be reversed; this one is {action.status}.",
                           code=code)
        # Certified grams may be sold or retired already: their actions stay credited.
        certificates.refuse_reversal_inside_lot(action)
        reversal = None
        if action.points > 0:
            reversal = ledger.reverse_earn(external_ref=f"action:{action.id}", reason=reason,
                                           actor_user_id=actor_user_id)
        action.status = "reversed"
        action.reversed_by, action.reversed_at, action.reversal_reason = actor_user_id, utcnow(), reason
        # Campaign bonuses this action helped earn are taken back too (docs/engagement.md).
        bonus_back = sum(t.due for t in take_back_bonuses(action, actor_user_id=actor_user_id))
        leaderboards.record_after_commit([(action.user_id, action.scheme_day, -action.credited_mg)])
        record_audit(action="action.reverse", object_type="action", object_id=action.id,
                     actor_user_id=actor_user_id,
                     details={"reason": reason, "points": action.points,
                              "clawed_back": getattr(reversal, "clawed_back", 0),
                              "shortfall": getattr(reversal, "shortfall", 0),
                              "bonus_taken_back": bonus_back})
        webhook_payloads.emit_action("action.reversed", action, reversal_reason=reason,
                                     clawed_back=getattr(reversal, "clawed_back", 0),
                                     bonus_taken_back=bonus_back)
        _tell_citizen(action, "action_reversed", reason=reason,
                      clawed_back=getattr(reversal, "clawed_back", 0),
                      bonus_taken_back=bonus_back)
    return action, reversal


def _tell_citizen(action: Action, kind: str, **facts) -> None:
    """The citizen's notification of a decision on their action, in the decision's unit of work
    (docs/notifications.md); once per action and kind."""
    notifications.notify(user_id=action.user_id, kind=kind, dedupe_key=f"{kind}:{action.id}",
                         data={"action_id": str(action.id), "action_type": action.action_type,
                               "status": action.status, "points": action.points or 0, **facts})
