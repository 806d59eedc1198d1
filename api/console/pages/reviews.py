"""The review queue: flagged actions with their breakdown and evidence, approve / reject /
reverse; and ledger adjustment requests with their four-eyes decisions (docs/console.md).

Every form is checked by the mirrored API operation's own marshmallow schema and handed to the
same service call as the API handler makes, so a rule refused by the API is refused here the
same way (the DomainError becomes the console's problem page with the API's status).
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, render_template, request, url_for

from api.auth import staff_region
from api.console.blueprint import blueprint
from api.console.forms import load_form
from api.console.access import can, console_page
from api.pagination import decode_cursor, encode_cursor
from api.resources import actions as action_api
from api.resources import ledger as ledger_api
from carbon_credits.config import get_settings
from carbon_credits.domain.errors import Conflict, ValidationFailed
from carbon_credits.domain.regions import BY_CODE, REGIONS
from carbon_credits.domain.vocabulary import (ACTION_STATUSES, ACTION_TYPES, ADJUSTMENT_REASONS,
                                            ADJUSTMENT_STATUSES)
from carbon_credits.services import actions as action_service
from carbon_credits.services import adjustments as adjustment_service
from carbon_credits.services import certificates

NEWEST_FIRST = (dt.datetime.fromisoformat, uuid.UUID)  # the keyset of both lists
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,19}")


# --- forms in, the API's schemas decide ---------------------------------------------------------

def _filled(source, *names: str, renamed: dict | None = None) -> dict:
    """The non-blank fields `names` of a form or query string, trimmed; a blank field counts as
    not sent (an HTML form always sends its empty inputs). `renamed`: form name -> API name."""
    renamed = renamed or {}
    values = {renamed.get(name, name): (source.get(name) or "").strip() for name in names}
    return {name: value for name, value in values.items() if value}


def _see(endpoint: str, **values):
    """Post/Redirect/Get: 303, so a reload never posts the decision again."""
    return redirect(url_for(endpoint, **values), code=303)


# --- the review queue ---------------------------------------------------------------------------

ACTION_FILTERS = ("status", "action_type", "region", "from", "to")


def _scheme_midnight(text: str, field: str, days_later: int) -> str:
    """A calendar day of the form as the API's aware instant: midnight in the scheme's time
    zone (`to` is inclusive on the form, exclusive in the API, hence the day after)."""
    try:
        day = dt.date.fromisoformat(text) + dt.timedelta(days=days_later)
        moment = dt.datetime.combine(day, dt.time(), ZoneInfo(get_settings().scheme_timezone))
    except (ValueError, OverflowError):
        raise ValidationFailed(f"{field}: Must be a date (YYYY-MM-DD).",
                               errors={field: ["Must be a date (YYYY-MM-DD)."]}) from None
    return moment.isoformat()


def _queue_filters(args) -> tuple[dict, dict]:
    """(the filters as the form shows them, the API query arguments they stand for). Without
    any `status` the queue shows what waits for a decision: `pending_review`."""
    shown = {name: (args.get(name) or "").strip() for name in ACTION_FILTERS}
    if "status" not in args:
        shown["status"] = "pending_review"
    query = {name: shown[name] for name in ("status", "action_type", "region") if shown[name]}
    if shown["from"]:
        query["occurred_from"] = _scheme_midnight(shown["from"], "from", 0)
    if shown["to"]:
        query["occurred_to"] = _scheme_midnight(shown["to"], "to", 1)
    query.update(_filled(args, "cursor", "limit"))
    return shown, load_form(action_api.AdminActionQueryArgsSchema(), query)


def _as_api_shows(action) -> dict:
    return action_api.AdminActionSchema().dump(action_api.action_view(action))


@blueprint.get("/reviews")
@console_page("actions.list_all_actions")
def review_queue():
    """Actions, flagged ones by default, filtered like `GET /admin/actions`, newest first."""
    shown, args = _queue_filters(request.args)
    items, last = action_service.list_actions(
        user_id=None, action_type=args["action_type"], status=args["status"],
        occurred_from=args["occurred_from"], occurred_to=args["occurred_to"],
        after=decode_cursor(args["cursor"], converters=NEWEST_FIRST), limit=args["limit"],
        region=args.get("region"), within=staff_region())
    cursor = encode_cursor(last)
    kept = {name: value for name, value in shown.items() if value or name == "status"}
    next_url = url_for("console.review_queue", **kept, cursor=cursor) if cursor else None
    within = staff_region()
    regions = [BY_CODE[within]] if within else REGIONS
    return render_template("console/reviews/queue.html", actions=[_as_api_shows(a) for a in items],
                           filters=shown, next_url=next_url, statuses=ACTION_STATUSES,
                           action_types=ACTION_TYPES, regions=regions)


def _refusals_ahead(action) -> dict[str, str]:
    """What the services would refuse the signed-in auditor, said before the buttons. The
    services still decide; these only spare a click. Keys: `own` (four-eyes), `lot`."""
    refusals = {}
    if action.user_id == g.console_user.id:
        refusals["own"] = "This is your own claim; another auditor must review it."
    if action.status == "credited" and can("console.action_reverse"):
        try:
            certificates.refuse_reversal_inside_lot(action)  # the reversal's own check
        except Conflict as refusal:
            refusals["lot"] = refusal.detail
    return refusals


@blueprint.get("/reviews/<uuid:action_id>")
@console_page("actions.get_any_action")
def action_review(action_id: uuid.UUID):
    """One action as `GET /admin/actions/{id}` shows it, and the decision its status allows."""
    action = action_service.get_action_or_raise(action_id, within=staff_region())
    return render_template("console/reviews/action.html", action=_as_api_shows(action),
                           refusals=_refusals_ahead(action))


@blueprint.post("/reviews/<uuid:action_id>/approve")
@console_page("actions.approve_action")
def action_approve(action_id: uuid.UUID):
    """Approve a pending claim (the decision box's text is the optional note)."""
    data = load_form(action_api.ApproveSchema(), _filled(request.form, "reason",
                                                     renamed={"reason": "note"}))
    action = action_service.approve_action(action_id=action_id, actor_user_id=g.console_user.id,
                                           note=data["note"], within=staff_region())
    flash(f"Action approved: {action.points} points credited.", "ok")
    return _see("console.action_review", action_id=action_id)


@blueprint.post("/reviews/<uuid:action_id>/reject")
@console_page("actions.reject_action")
def action_reject(action_id: uuid.UUID):
    """Reject a pending claim with a reason."""
    data = load_form(action_api.ActionDecisionReasonSchema(), _filled(request.form, "reason"))
    action_service.reject_action(action_id=action_id, actor_user_id=g.console_user.id,
                                 reason=data["reason"], within=staff_region())
    flash("Action rejected; nothing was credited.", "ok")
    return _see("console.action_review", action_id=action_id)


@blueprint.post("/reviews/<uuid:action_id>/reverse")
@console_page("actions.reverse_action")
def action_reverse(action_id: uuid.UUID):
    """Reverse a credited action with a reason. No idempotency key: a second submission finds
    the action reversed already and is refused (409 `already_reversed`), nothing clawed twice."""
    data = load_form(action_api.ActionDecisionReasonSchema(), _filled(request.form, "reason"))
    action, reversal = action_service.reverse_action(
        action_id=action_id, actor_user_id=g.console_user.id, reason=data["reason"],
        within=staff_region())
    clawed = getattr(reversal, "clawed_back", 0)
    flash(f"Action reversed: {clawed} of its {action.points} points clawed back.", "ok")
    return _see("console.action_review", action_id=action_id)


# --- adjustments --------------------------------------------------------------------------------
# The menu's `console.adjustments` (api/console/pages/oversight.py) points at `adjustment_list`.

def _adjustment_shown(view) -> dict:
    return ledger_api.AdjustmentSchema().dump(view)


@blueprint.get("/adjustments/list")
@console_page("ledger.list_adjustments")
def adjustment_list():
    """Adjustment requests as `GET /admin/ledger/adjustments` lists them; pending by default."""
    status = (request.args.get("status", "pending") or "").strip()  # none chosen: the queue
    query = {**({"status": status} if status else {}), **_filled(request.args, "cursor", "limit")}
    args = load_form(ledger_api.AdjustmentArgsSchema(), query)
    items, last = adjustment_service.list_adjustments(
        status=args["status"], after=decode_cursor(args["cursor"], converters=NEWEST_FIRST),
        limit=args["limit"])
    cursor = encode_cursor(last)
    next_url = url_for("console.adjustment_list", status=status, cursor=cursor) if cursor else None
    return render_template("console/reviews/adjustments.html",
                           adjustments=[_adjustment_shown(a) for a in items], status=status,
                           statuses=ADJUSTMENT_STATUSES, next_url=next_url)


@blueprint.get("/adjustments/<uuid:adjustment_id>")
@console_page("ledger.get_adjustment")
def adjustment_page(adjustment_id: uuid.UUID):
    """One request, its decision and, once approved, its transfer; the decision box."""
    view = adjustment_service.get_adjustment_or_raise(adjustment_id)
    return render_template("console/reviews/adjustment.html", adjustment=_adjustment_shown(view),
                           own_request=view.requested_by == g.console_user.id)


def _adjustment_request(form) -> dict:
    fields = _filled(form, "user_id", "points", "reason", "note", "external_ref")
    # The API takes points as a JSON integer only; a form sends text: a whole number becomes
    # one, anything else is left for the schema to refuse.
    if WHOLE_NUMBER.fullmatch(fields.get("points", "")):
        fields["points"] = int(fields["points"])
    return fields


@blueprint.route("/adjustments/new", methods=["GET", "POST"])
@console_page("ledger.request_adjustment")
def adjustment_new():
    """The request form (GET) and its submission (POST), as `POST /admin/ledger/adjustments`."""
    if request.method == "GET":
        # A fresh reference per form: submitting the same form twice records one request.
        return render_template("console/reviews/adjustment_form.html", reasons=ADJUSTMENT_REASONS,
                               user_id=(request.args.get("user_id") or "").strip(),
                               external_ref=f"console-{uuid.uuid4()}")
    data = load_form(ledger_api.AdjustmentCreateSchema(), _adjustment_request(request.form))
    view = adjustment_service.request_adjustment(actor_user_id=g.console_user.id, **data)
    flash("Adjustment requested; another auditor must approve or reject it.", "ok")
    return _see("console.adjustment_page", adjustment_id=view.id)


@blueprint.post("/adjustments/<uuid:adjustment_id>/approve")
@console_page("ledger.approve_adjustment")
def adjustment_approve(adjustment_id: uuid.UUID):
    """Approve someone else's request: posts the `adjustment` transfer."""
    data = load_form(ledger_api.AdjustmentDecisionSchema(), _filled(request.form, "note"))
    view = adjustment_service.approve_adjustment(adjustment_id=adjustment_id,
                                                 actor_user_id=g.console_user.id, note=data["note"])
    flash(f"Adjustment approved: {view.points:+d} points posted.", "ok")
    return _see("console.adjustment_page", adjustment_id=adjustment_id)


@blueprint.post("/adjustments/<uuid:adjustment_id>/reject")
@console_page("ledger.reject_adjustment")
def adjustment_reject(adjustment_id: uuid.UUID):
    """Reject someone else's request with a reason; nothing is posted."""
    data = load_form(ledger_api.AdjustmentRejectionSchema(), _filled(request.form, "note"))
    adjustment_service.reject_adjustment(adjustment_id=adjustment_id,
                                         actor_user_id=g.console_user.id, note=data["note"])
    flash("Adjustment rejected; nothing was posted.", "ok")
    return _see("console.adjustment_page", adjustment_id=adjustment_id)
