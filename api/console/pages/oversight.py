"""Oversight: adjustment requests and decisions, certified lots, the audit log, ledger verify.

Each page parses its form or query with the API operation's own schema, calls the same service
with the same arguments, and shows the result dumped through the API's response schema: the
console can show neither more nor less than `GET /api/v1/admin/...` would (docs/console.md)."""
from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import fields

from api.console.blueprint import blueprint
from api.console.forms import load_form
from api.console.access import console_page
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor
from api.resources.admin_users import AuditEntrySchema, AuditQueryArgsSchema
from api.resources.certificates import (CertificateEventSchema, CertificateLotActionSchema,
                                        CertificateLotArgsSchema, CertificateLotCreateSchema,
                                        CertificateLotDetailSchema, CertificateLotSchema,
                                        LotVerificationSchema, blocks_view, statement_view,
                                        lot_view)
from api.resources.ledger import VerifySchema
from carbon_credits.config import get_settings
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.services import admin_queries
from carbon_credits.services import certificates as certificate_service
from carbon_credits.services.verify import verify_system

AUDIT_FILTERS = ("object_type", "object_id", "action", "actor_user_id", "created_from",
                 "created_to")
STATEMENTS_SHOWN = 50


def _load(schema, source) -> dict:
    """The API schema's answer for form or query values: blanks are left out (a form sends
    every field) and whole numbers typed as text become numbers (strict integer fields); a
    refusal is the API's 422 with the same messages."""
    values = {}
    for name, field in schema.fields.items():
        key = field.data_key or name
        raw = (source.get(key) or "").strip()
        if raw:
            whole = isinstance(field, fields.Integer) and raw.isascii() and raw.isdigit()
            values[key] = int(raw) if whole else raw
    return load_form(schema, values)


def _given(source, names) -> dict:
    """The non-blank values among `names`: what a pager link carries to the next page."""
    return {name: source[name] for name in names if (source.get(name) or "").strip()}


# --- certified lots ----------------------------------------------------------------------------

def _settled_rule() -> dict:
    """The issuance rule shown before the button, from the service's own function."""
    review_days = get_settings().lot_review_period_days
    now = dt.datetime.now(dt.timezone.utc)
    return {"review_days": review_days,
            "last_day": certificate_service.last_settled_day(now, review_days)}


def _moved_units(events) -> dict:
    """Units that left the scheme's account by transfer, and units retired (the registry's
    events, as the public lot list counts its `retired_quantity`)."""
    return {"transferred": sum(e.quantity for e in events if e.event == "transfer"),
            "retired": sum(e.quantity for e in events if e.event == "retire")}


@blueprint.get("/lots")
@console_page("certificates.list_lots")
def lots():
    """Issued lots, newest first, as `GET /admin/certificates/lots`; the issuance form for auditors."""
    args = _load(CertificateLotArgsSchema(), request.args)
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = certificate_service.list_lots(methodology_code=args["methodology_code"],
                                                after=after, limit=args["limit"])
    ids = [lot.id for lot in items]
    latest = certificate_service.latest_verifications(ids)
    events = certificate_service.events_by_lot(ids)
    rows = [{**CertificateLotSchema().dump(lot_view(lot, latest.get(lot.id))),
             **_moved_units(events.get(lot.id, []))} for lot in items]
    return render_template("console/oversight/lots.html", lots=rows,
                           filters=_given(request.args, ("methodology_code", "limit")),
                           next_cursor=encode_cursor(last), paged=bool(args["cursor"]),
                           rule=_settled_rule())


@blueprint.post("/lots")
@console_page("certificates.issue_lot")
def issue_lot():
    """Issue a lot (`POST /admin/certificates/lots`), then show it."""
    data = _load(CertificateLotCreateSchema(), request.form)
    issued = lot_view(certificate_service.issue_lot(actor_user_id=g.console_user.id, **data))
    flash(f"Lot {issued['serials']} issued: {issued['quantity']} units from "
          f"{issued['action_count']} actions.", "ok")
    return redirect(url_for("console.lot_detail", lot_id=issued["id"]), code=303)


def _lot_detail(lot) -> dict:
    """What `GET /admin/certificates/lots/{id}` answers, with holders' names on the events."""
    events = certificate_service.lot_events(lot.id)
    names = certificate_service.partner_names(
        p for e in events for p in (e.from_partner_id, e.to_partner_id))
    detail = CertificateLotDetailSchema().dump({
        **lot_view(lot, certificate_service.latest_verification(lot.id)),
        "holdings": blocks_view(lot, certificate_service.lot_holdings(lot.id)), "events": []})
    detail["events"] = [{
        **CertificateEventSchema().dump({
            "event": e.event, "serials": certificate_service.serials_of(lot, e),
            "quantity": e.quantity, "from_partner_id": e.from_partner_id,
            "to_partner_id": e.to_partner_id, "beneficiary": e.beneficiary,
            "purpose": e.purpose, "created_at": e.created_at}),
        "from_holder": names.get(e.from_partner_id), "to_holder": names.get(e.to_partner_id)}
        for e in events]
    return detail


@blueprint.get("/lots/<uuid:lot_id>")
@console_page("certificates.get_lot", "certificates.list_lot_actions",
              "certificates.list_verifications")
def lot_detail(lot_id: uuid.UUID):
    """One lot: terms, holdings, history, verification statements and its contributing actions
    (a page of `GET .../actions`, by action id)."""
    args = _load(PageArgsSchema(), request.args)
    lot = certificate_service.get_lot_or_raise(lot_id)
    after = decode_cursor(args["cursor"], converters=(uuid.UUID,))
    rows, last = certificate_service.lot_actions(lot_id=lot.id, after=after, limit=args["limit"])
    actions = CertificateLotActionSchema(many=True).dump(
        [{**row._asdict(), "contributed_g": mg_to_grams(row.contributed_mg)} for row in rows])
    statements, more_statements = certificate_service.list_verifications(
        lot_id=lot.id, after=None, limit=STATEMENTS_SHOWN)
    return render_template(
        "console/oversight/lot.html", lot=_lot_detail(lot), actions=actions,
        next_cursor=encode_cursor(last), paged=bool(args["cursor"]),
        page_filters=_given(request.args, ("limit",)),
        statements=LotVerificationSchema(many=True).dump([statement_view(s) for s in statements]),
        more_statements=more_statements is not None)


# --- the audit log -----------------------------------------------------------------------------

def _in_scheme_zone(value: str | None) -> str | None:
    """A time typed without an offset (`<input type="datetime-local">`) is read in the scheme's
    time zone; one with an offset is passed on as typed; the schema judges both."""
    try:
        moment = dt.datetime.fromisoformat((value or "").strip())
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(get_settings().scheme_timezone))
    return moment.isoformat()


@blueprint.get("/audit-log")
@console_page("admin_users.audit_log")
def audit_log():
    """The audit log, newest first, filtered as `GET /admin/audit-log` filters it."""
    values = {**request.args.to_dict(),
              **{name: _in_scheme_zone(request.args.get(name))
                 for name in ("created_from", "created_to") if request.args.get(name)}}
    args = _load(AuditQueryArgsSchema(), values)
    after = decode_cursor(args["cursor"], converters=(int,))
    items, last = admin_queries.list_audit_entries(
        object_type=args["object_type"], object_id=args["object_id"], action=args["action"],
        actor_user_id=args["actor_user_id"], created_from=args["created_from"],
        created_to=args["created_to"], after=after, limit=args["limit"])
    return render_template("console/oversight/audit_log.html",
                           entries=AuditEntrySchema(many=True).dump(items),
                           filters=_given(request.args, (*AUDIT_FILTERS, "limit")),
                           next_cursor=encode_cursor(last), paged=bool(args["cursor"]),
                           lot_object_type=certificate_service.OBJECT_TYPE,
                           scheme_timezone=get_settings().scheme_timezone)


# --- ledger verify -----------------------------------------------------------------------------

@blueprint.get("/ledger")
@console_page("ledger.verify")
def ledger_status():
    """`ledger verify` on demand (`?check=1`, the "Verify now" button): it re-reads every
    transfer, so opening the page alone does not run it."""
    if request.args.get("check") != "1":
        return render_template("console/oversight/ledger.html", report=None)
    report = VerifySchema().dump(verify_system())
    return render_template("console/oversight/ledger.html", report=report,
                           checked_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
