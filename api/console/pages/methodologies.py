"""Methodologies: the list, a version, a diff of two versions with the credit of a sample
activity under each, and the review workflow (submit / approve / reject).

Every page reads and writes through carbon_credits.services.methodologies with the arguments
the JSON API's handlers pass (api/resources/methodologies.py), and its forms are parsed by that
API's own schemas, so a page can neither show nor accept more than the API does.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import Schema, fields

from api.console.blueprint import blueprint
from api.console.forms import load_form
from api.console.access import can, console_page
from api.errors import status_of
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor
from api.resources.methodologies import (ActivitySchema, CalculateSchema, RejectSchema,
                                         VersionSchema)
from carbon_credits.domain import crediting
from carbon_credits.domain import methodology as domain
from carbon_credits.domain.errors import DomainError, PermissionDenied, ValidationFailed
from carbon_credits.services import methodologies as service
from carbon_credits.services.duties import ensure_independent
from carbon_credits.services.methodologies import review

STATUSES = ("draft", "submitted", "approved", "rejected", "retired")
AUDIT_ROWS = 100
VERSION_PAGE = ".methodology_version"

# What the sample activity starts as, per calculator family: an everyday example of each.
SAMPLE_DEFAULTS = {
    "transit_distance": {"distance_km": "10"},       # a 10 km trip
    "transit_boarding": {"boardings": "1"},          # one bus boarding
    "ev_charging": {"energy_kwh": "20"},             # a 20 kWh charge
    "recyclables": {"category": "paper", "weight_kg": "2"},  # 2 kg of paper
    "per_event": {"events": "1"},                    # one qualifying order
    "metered_baseline": {"consumption": "200", "baseline": "230"},  # a month on the meter
}
SAMPLE_FIELDS = tuple(ActivitySchema().fields)  # in the API's order


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- the list -------------------------------------------------------------------------------------

@blueprint.get("/methodologies")
@console_page("methodologies.list_all")
def methodologies():
    """Every methodology code with all its versions (drafts included), in force or not."""
    args = load_form(PageArgsSchema(), {k: v for k, v in request.args.items()
                                    if k in ("cursor", "limit")})
    rows, last = service.list_methodologies(after=decode_cursor(args["cursor"], converters=(str,)),
                                            limit=args["limit"])
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    action_type = request.args.get("action_type")
    action_type = action_type if action_type in domain.ACTION_TYPES else None
    now = _now()
    shown = []
    for methodology, versions in rows:
        if action_type and methodology.action_type != action_type:
            continue
        versions = [v for v in versions if status is None or v.status == status]
        if versions or status is None:
            shown.append((methodology, [(v, crediting.is_in_force(v, now)) for v in versions]))
    return render_template("console/methodologies/list.html", rows=shown,
                           next_cursor=encode_cursor(last), status=status, statuses=STATUSES,
                           action_type=action_type, action_types=domain.ACTION_TYPES,
                           limit=args["limit"])


# --- one version ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Step:
    """A workflow button and what is said before it: shown to those whose role may press it;
    `blocked` is why the service would refuse this viewer now (the button is disabled)."""

    shown: bool
    blocked: str | None = None


def _four_eyes_refusal(code: str, row) -> str | None:
    """Why `approve_version` would refuse the signed-in auditor as not independent: the same
    authors (the audit trail's drafter, editors, submitter) and the same duties check."""
    viewer = g.console_user
    # The service's own reading of the authors (a read, nothing locked): a second list kept
    # here could drift from the rule the button is disabled for.
    authors = review.authors_of(code, row)
    if viewer.id in authors:
        what = [verb for verb, who in (("drafted", row.drafted_by), ("submitted", row.submitted_by))
                if who == viewer.id] or ["edited"]
        return (f"You {' and '.join(what)} this version: another auditor, independent of "
                "everyone who drafted, edited or submitted it, must approve it.")
    try:
        ensure_independent(decider_id=viewer.id, requester_ids=authors, role="auditor",
                           what="this version")
    except PermissionDenied as refusal:
        return refusal.detail
    return None


def _overlap(row) -> tuple[str | None, str | None]:
    """(refusal, note) about the scope's one-version-in-force rule, from the query the service
    runs: another code's overlapping version refuses the approval; this code's version in
    force at its start is ended there (supersession). The query names one clash: a preview,
    never a promise; the service checks again when the button is pressed."""
    clash = review.overlapping(row.methodology.scope_key, row)
    if clash is None:
        return None, None
    if clash.methodology_id != row.methodology_id:
        return (f"Its effective period overlaps {clash.methodology.code} version {clash.version}, "
                "in force for the same scope: approval would be refused (at most one version "
                "is in force per scope). Retire that version or change this one's dates first."), None
    start = row.effective_from.isoformat()
    return None, (f"Approving it ends version {clash.version} of this code at {start} "
                  "(its start), in the same step: no gap, no overlap.")


def _workflow(code: str, row) -> dict:
    """What the workflow box says and offers this viewer, for the version's status."""
    box: dict = {"status": row.status}
    if row.status == "draft":
        missing = None if row.effective_from else \
            "Set effective_from before submitting (the service refuses a draft without it)."
        box["submit"] = Step(shown=can("console.submit_methodology_version"), blocked=missing)
        if row.effective_from:  # what approval would meet, said before anyone submits
            box["approval_preview"], box["supersedes"] = _overlap(row)
    elif row.status == "submitted":
        may_approve = can("console.approve_methodology_version")
        refusal = note = None
        if may_approve:
            refusal = _four_eyes_refusal(code, row)
            overlap, note = _overlap(row)
            refusal = refusal or overlap
        box["approve"] = Step(shown=may_approve, blocked=refusal)
        box["supersedes"] = note
        box["reject"] = Step(shown=can("console.reject_methodology_version"))
    return box


@blueprint.get("/methodologies/<string:code>/versions/<int:v>")
@console_page("methodologies.get_version", "methodologies.get_admin", "methodologies.audit_log")
def methodology_version(code: str, v: int):
    """A version: status, validity, parameters with their sources, caps, filing, who did what;
    the methodology's audit log; compare with another version; the workflow box."""
    row = service.get_version_or_raise(code=code, version=v)
    methodology, versions = service.get_methodology_for_viewer(code=code, viewer=g.console_user)
    log, _ = service.list_audit_log(code=code, after=None, limit=AUDIT_ROWS)
    return render_template("console/methodologies/version.html", methodology=methodology,
                           version=VersionSchema().dump(row), versions=versions,
                           in_force=crediting.is_in_force(row, _now()), log=log,
                           workflow=_workflow(code, row), viewer_id=g.console_user.id)


def _back_to(code: str, v: int):
    return redirect(url_for(VERSION_PAGE, code=code, v=v), 303)


@blueprint.post("/methodologies/<string:code>/versions/<int:v>/submit")
@console_page("methodologies.submit_version")
def submit_methodology_version(code: str, v: int):
    """Submit a draft for approval (admin)."""
    service.submit_version(code=code, version=v, actor_user_id=g.console_user.id)
    flash(f"{code} version {v} is submitted: an independent auditor must now approve or "
          "reject it.", "ok")
    return _back_to(code, v)


@blueprint.post("/methodologies/<string:code>/versions/<int:v>/approve")
@console_page("methodologies.approve_version")
def approve_methodology_version(code: str, v: int):
    """Approve a submitted version (auditor; never one's own)."""
    service.approve_version(code=code, version=v, actor_user_id=g.console_user.id)
    flash(f"{code} version {v} is approved.", "ok")
    return _back_to(code, v)


@blueprint.post("/methodologies/<string:code>/versions/<int:v>/reject")
@console_page("methodologies.reject_version")
def reject_methodology_version(code: str, v: int):
    """Reject a submitted version with a reason (auditor)."""
    form = {"reason": request.form["reason"]} if "reason" in request.form else {}
    data = load_form(RejectSchema(), form)
    service.reject_version(code=code, version=v, reason=data["reason"],
                           actor_user_id=g.console_user.id)
    flash(f"{code} version {v} is rejected.", "ok")
    return _back_to(code, v)


# --- the diff and the sample credit --------------------------------------------------------------

class DiffArgsSchema(Schema):
    a = fields.Integer(required=True, strict=False)
    b = fields.Integer(required=True, strict=False)


@dataclasses.dataclass(frozen=True)
class DiffRow:
    field: str
    label: str
    before: object
    after: object
    change: str | None  # changed | added | removed, as the service's diff names it


def _diff_rows(before: dict, after: dict, changes: list[dict]) -> list[DiffRow]:
    """Both snapshots side by side, one row per setting, parameter attribute and rule; a row
    is marked with the change the service's diff reports for it (or for its whole parameter)."""
    marks = {c["field"]: c["change"] for c in changes}
    rows: list[DiffRow] = []
    for key in before:
        if key == "parameters":
            rows += _parameter_rows(before[key] or [], after[key] or [], marks)
        elif key == "applicability":
            rules = list(dict.fromkeys([*(before[key] or {}), *(after[key] or {})]))
            rows += [DiffRow(f"applicability.{r}", r, (before[key] or {}).get(r),
                             (after[key] or {}).get(r), marks.get(f"applicability.{r}"))
                     for r in rules]
        else:
            rows.append(DiffRow(key, key, before[key], after[key], marks.get(key)))
    return rows


def _parameter_rows(first: list[dict], second: list[dict], marks: dict) -> list[DiffRow]:
    pa, pb = {p["name"]: p for p in first}, {p["name"]: p for p in second}
    rows = []
    for name in dict.fromkeys([*pa, *pb]):
        whole = marks.get(f"parameters.{name}")
        attributes = dict.fromkeys([*pa.get(name, {}), *pb.get(name, {})])
        rows += [DiffRow(f"parameters.{name}.{attr}", f"{name} · {attr}",
                         pa.get(name, {}).get(attr), pb.get(name, {}).get(attr),
                         whole or marks.get(f"parameters.{name}.{attr}"))
                 for attr in attributes if attr != "name"]
    return rows


def _sample_form(families: tuple[str, ...]) -> dict[str, str]:
    """The sample activity's fields (those either family uses) and their values: as sent, or
    the families' defaults on first view."""
    used = {name for f in families for kind in ("required", "optional")
            for name in domain.INPUTS[f][kind]}
    names = [name for name in SAMPLE_FIELDS if name in used]
    if "sample" in request.args:
        return {name: request.args.get(name, "") for name in names}
    defaults = {k: v for f in families for k, v in SAMPLE_DEFAULTS.get(f, {}).items()}
    return {name: defaults.get(name, "") for name in names}


def _json_value(name: str, text: str):
    """A form field as the JSON value the API would receive: numbers as exact numbers (left
    as text when not one, for the API's schema to refuse with its own message)."""
    field = ActivitySchema().fields[name]
    if not isinstance(field, fields.Number):
        return text
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if isinstance(field, fields.Integer) and number.is_finite() and number == number.to_integral_value():
        return int(number)
    return number


def _sample_credit(code: str, versions: tuple[int, int], form: dict[str, str], channel: str):
    """The dry run of the sample under each version, as `POST .../calculate` computes it (the
    same schema and service call); results and errors per version, nothing stored."""
    activity = {name: _json_value(name, text.strip()) for name, text in form.items() if text.strip()}
    data = load_form(CalculateSchema(), {"channel": channel, "activity": activity})
    results = []
    for number in versions:
        try:
            results.append(service.dry_run(code=code, version=number,
                                           occurred_at=data["occurred_at"],
                                           activity=data["activity"], channel=data["channel"],
                                           viewer=g.console_user))
        except DomainError as error:
            results.append(error)
    return results


def grams(value) -> str:
    return format(Decimal(value).quantize(Decimal("0.001")), "f")


@blueprint.get("/methodologies/<string:code>/diff")
@console_page("methodologies.diff_versions")
def methodology_diff(code: str):
    """Two versions side by side, changed values marked, and a sample activity's credit under
    each (a dry run: nothing is stored)."""
    args = load_form(DiffArgsSchema(), {k: request.args[k] for k in ("a", "b") if k in request.args})
    diff = service.diff_versions(code=code, a=args["a"], b=args["b"])
    first = service.get_version_or_raise(code=code, version=args["a"])
    second = service.get_version_or_raise(code=code, version=args["b"])
    rows = _diff_rows(service.snapshot(first), service.snapshot(second), diff["changes"])
    form = _sample_form(tuple(dict.fromkeys([first.family, second.family])))
    channel = request.args.get("channel", "partner")
    try:
        results, problem = _sample_credit(code, (args["a"], args["b"]), form, channel), None
    except ValidationFailed as error:
        results, problem = None, error
    errors = [r for r in results or [] if isinstance(r, DomainError)]
    refused = problem or (errors[0] if errors else None)
    page = render_template("console/methodologies/diff.html", code=code, first=first,
                           second=second, rows=rows, changes=diff["changes"], form=form,
                           channel=channel, channels=domain.CHANNELS,
                           categories=domain.WASTE_CATEGORIES, results=results, problem=problem,
                           status_of=status_of, grams=grams)
    return page, status_of(refused) if refused else 200
