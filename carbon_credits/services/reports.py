"""Reduction reports for the city and the province, and their background CSV exports.

One GROUP BY over `actions` per report: the database aggregates, Python only formats the
groups. Days are scheme days (`Action.scheme_day`, stored in the scheme's time zone when the
action is recorded), so a report of "May" means May in `SCHEME_TIMEZONE`.

What is counted: actions whose status is `credited` (their `credited_mg` and `points`), and,
in separate columns, those `reversed` since (what they had credited). The ledger agrees to
the point: every earn posted for the report's actions = `points + reversed_points`, and every
reversal's earned amount = `reversed_points` (tests/integration/test_reports.py).

A report's aggregate may be read on the read replica (services/replica.py); an export's claim,
lease and result are written on the primary, and the list of due exports is read there too
(it decides what to claim).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

from sqlalchemy import Date, Integer, String, case, cast, func, literal, literal_column, select, update

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.services import queue
from carbon_credits.services.audit import record_audit
from carbon_credits.domain.regions import BY_CODE
from carbon_credits.services.regions import in_district, scoped_region
from carbon_credits.services.replica import read_session
from carbon_credits.services.uow import unit_of_work
from models import Action, Partner, ReportExport, db, utcnow

log = logging.getLogger(__name__)

GROUP_BYS = ("action_type", "methodology", "day", "week", "month", "partner", "region")
MAX_REPORT_DAYS = 366
# The columns each grouping adds in front of the measures (JSON keys and CSV header).
DIMENSIONS = {
    "action_type": ["action_type"],
    "methodology": ["methodology_code", "methodology_version"],
    "day": ["period_start"],
    "week": ["period_start"],
    "month": ["period_start"],
    "partner": ["partner_id", "partner_name"],
    "region": ["region", "region_name"],
}
NO_REGION_NAME = "(no district)"
MEASURES = ["actions", "reduction_g", "credited_g", "points",
            "reversed_actions", "reversed_credited_g", "reversed_points"]
APP_CHANNEL_NAME = "app (self-reported)"
EXPORT_LEASE = dt.timedelta(minutes=10)  # a running export older than this was abandoned


def check_range(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise ValidationFailed("`to` must not be before `from`.", errors={"to": ["Before from."]})
    if (date_to - date_from).days >= MAX_REPORT_DAYS:
        raise ValidationFailed(f"At most {MAX_REPORT_DAYS} days per report.",
                               errors={"to": [f"At most {MAX_REPORT_DAYS} days after from."]})


def _check_group_by(group_by: str) -> None:
    if group_by not in GROUP_BYS:
        raise ValidationFailed(f"group_by must be one of {', '.join(GROUP_BYS)}.",
                               errors={"group_by": [f"Must be one of: {', '.join(GROUP_BYS)}."]})


def period_start(unit: str, column, dialect: str):
    """SQL for the first scheme day of the day/week (ISO, Monday)/month containing `column`."""
    if unit == "day":
        return column
    if dialect == "postgresql":
        return cast(func.date_trunc(literal_column(f"'{unit}'"), column), Date)
    if unit == "week":  # SQLite: strftime('%w') is 0 on Sunday; step back to Monday
        back = (cast(func.strftime("%w", column), Integer) + 6) % 7
        return func.date(column, literal("-").concat(cast(back, String)).concat(" days"),
                         type_=Date)
    return func.date(column, "start of month", type_=Date)


def _mg(value) -> int:
    return int(value or 0)


def get_reductions_report(*, date_from: dt.date, date_to: dt.date, group_by: str,
                          region: str | None = None, within: str | None = None) -> dict:
    """Reductions and points credited over scheme days [from, to], grouped in SQL; only the
    actions counting for `region` if given (district staff: always theirs, `within`)."""
    check_range(date_from, date_to)
    _check_group_by(group_by)
    region = scoped_region(region, within)
    with read_session() as session:
        query, keys = _report_query(date_from, date_to, group_by, session.get_bind().dialect.name)
        if region is not None:
            query = query.where(Action.region == region)
        rows = session.execute(query).mappings().all()
    items = []
    totals = dict.fromkeys(["actions", "reduction_mg", "credited_mg", "points", "reversed_actions",
                            "reversed_credited_mg", "reversed_points"], 0)
    for row in rows:
        item = {k.name: row[k.name] for k in keys}
        if group_by == "partner" and item["partner_id"] is None:
            item["partner_name"] = APP_CHANNEL_NAME
        if group_by == "region":
            known = BY_CODE.get(item["region"])
            item["region_name"] = known.name_zh if known else NO_REGION_NAME
        for name in totals:
            totals[name] += _mg(row[name])
        item.update(_measures({name: _mg(row[name]) for name in totals}))
        items.append(item)
    return {"from": date_from, "to": date_to, "group_by": group_by, "region": region,
            "timezone": get_settings().scheme_timezone, "items": items,
            "totals": _measures(totals)}


def _report_query(date_from: dt.date, date_to: dt.date, group_by: str, dialect: str):
    """The report's one GROUP BY, and the key columns it groups on."""
    credited = Action.status == "credited"
    reversed_ = Action.status == "reversed"

    def total(flag, column):
        return func.coalesce(func.sum(case((flag, column), else_=0)), 0)

    measures = [total(credited, 1).label("actions"),
                total(credited, Action.reduction_mg).label("reduction_mg"),
                total(credited, Action.credited_mg).label("credited_mg"),
                total(credited, Action.points).label("points"),
                total(reversed_, 1).label("reversed_actions"),
                total(reversed_, Action.credited_mg).label("reversed_credited_mg"),
                total(reversed_, Action.points).label("reversed_points")]
    if group_by == "action_type":
        keys = [Action.action_type.label("action_type")]
    elif group_by == "methodology":
        keys = [Action.methodology_code.label("methodology_code"),
                Action.methodology_version.label("methodology_version")]
    elif group_by == "partner":
        keys = [Action.partner_id.label("partner_id"), Partner.name.label("partner_name")]
    elif group_by == "region":
        keys = [Action.region.label("region")]
    else:
        keys = [period_start(group_by, Action.scheme_day, dialect).label("period_start")]
    query = (select(*keys, *measures)
             .where(Action.scheme_day >= date_from, Action.scheme_day <= date_to,
                    Action.status.in_(("credited", "reversed")))
             .group_by(*(literal_column(k.name) for k in keys))
             .order_by(*(literal_column(k.name) for k in keys)))
    if group_by == "partner":
        query = query.outerjoin(Partner, Partner.id == Action.partner_id)
    return query, keys


def _measures(raw: dict) -> dict:
    return {"actions": raw["actions"], "reduction_g": mg_to_grams(raw["reduction_mg"]),
            "credited_g": mg_to_grams(raw["credited_mg"]), "points": raw["points"],
            "reversed_actions": raw["reversed_actions"],
            "reversed_credited_g": mg_to_grams(raw["reversed_credited_mg"]),
            "reversed_points": raw["reversed_points"]}


def report_rows(report: dict) -> tuple[list[str], list[list]]:
    """The report as CSV header and rows (grams as 3-decimal strings, a final TOTAL row)."""
    dims = DIMENSIONS[report["group_by"]]
    header = dims + MEASURES

    def cell(value):
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        return format(value, "f") if hasattr(value, "quantize") else value

    rows = [[cell(item.get(name)) for name in header] for item in report["items"]]
    rows.append(["TOTAL"] + [""] * (len(dims) - 1) + [cell(report["totals"][m]) for m in MEASURES])
    return header, rows


def report_filename(report: dict) -> str:
    where = f"-{report['region']}" if report.get("region") else ""
    return f"reductions-{report['group_by']}{where}-{report['from']}-{report['to']}.csv"


# ---------------------------------------------------------------------------------------------
# Background exports: requested over HTTP, produced by a worker (RQ) or by `jobs run-due`.


def request_export(*, date_from: dt.date, date_to: dt.date, group_by: str,
                   actor_user_id: uuid.UUID, region: str | None = None,
                   within: str | None = None) -> ReportExport:
    """Queue a CSV export; a worker picks it up once this transaction has committed. District
    staff (`within`) export their district only, and only they and city-wide staff see it."""
    check_range(date_from, date_to)
    _check_group_by(group_by)
    region = scoped_region(region, within)
    with unit_of_work():
        export = ReportExport(id=uuid.uuid4(), kind="reductions", date_from=date_from,
                              date_to=date_to, group_by=group_by, status="pending",
                              requested_by=actor_user_id, created_at=utcnow(), region=region)
        db.session.add(export)
        db.session.flush()
        record_audit(action="report.export_requested", object_type="report_export",
                     object_id=export.id, actor_user_id=actor_user_id,
                     details={"from": date_from.isoformat(), "to": date_to.isoformat(),
                              "group_by": group_by, "region": region})
        # With Redis an RQ worker takes it now; without, `jobs run-due` finds it pending.
        queue.enqueue_after_commit("run_report_export", str(export.id),
                                   description=f"report export {export.id}")
    return export


def get_export_or_raise(export_id: uuid.UUID, *, within: str | None = None) -> ReportExport:
    """An export; district staff (`within`) see only their district's (another is a 404)."""
    export = db.session.get(ReportExport, export_id)
    if export is None or not in_district(export.region, within):
        raise NotFound("Report export not found.")
    return export


def get_finished_export_or_raise(export_id: uuid.UUID, *,
                                 within: str | None = None) -> tuple[ReportExport, list, list]:
    """A done export as (export, CSV header, rows); 409 while it is not produced yet."""
    export = get_export_or_raise(export_id, within=within)
    if export.status != "done":
        raise Conflict("This export is not ready yet; poll its status.", code="export_not_ready")
    stored = json.loads(export.content)
    return export, stored["header"], stored["rows"]


def _claim_export(export_id: uuid.UUID, now: dt.datetime, token: uuid.UUID) -> bool:
    """pending (or abandoned running) -> running, by one worker only: a conditional update."""
    with unit_of_work():
        claimed = db.session.execute(
            update(ReportExport)
            .where(ReportExport.id == export_id,
                   (ReportExport.status == "pending")
                   | ((ReportExport.status == "running")
                      & (ReportExport.started_at < now - EXPORT_LEASE)))
            .values(status="running", started_at=now, lease_token=token,
                    attempts=ReportExport.attempts + 1)
            .returning(ReportExport.id)).first()
    return claimed is not None


def run_export(*, export_id: uuid.UUID, now: dt.datetime | None = None) -> bool:
    """Produce one export if nobody else is; True when this call produced it. Idempotent."""
    now = now or utcnow()
    token = uuid.uuid4()
    if not _claim_export(export_id, now, token):
        return False
    export = db.session.get(ReportExport, export_id)
    date_from, date_to, group_by, region = (export.date_from, export.date_to, export.group_by,
                                            export.region)
    # End the primary's read transaction: a long report read on the replica must not leave it
    # idle in a transaction (idle_in_transaction_session_timeout would end the connection).
    db.session.rollback()
    report = get_reductions_report(date_from=date_from, date_to=date_to, group_by=group_by,
                                   region=region)
    header, rows = report_rows(report)
    content = json.dumps({"header": header, "rows": rows}, separators=(",", ":"))
    with unit_of_work():
        done = db.session.execute(
            update(ReportExport)
            .where(ReportExport.id == export_id, ReportExport.status == "running",
                   ReportExport.lease_token == token)
            .values(status="done", content=content, filename=report_filename(report),
                    finished_at=utcnow())
            .returning(ReportExport.id)).first()
    return done is not None


def run_pending_exports(*, now: dt.datetime | None = None, batch: int = 20) -> int:
    """Due job: produce pending (or abandoned) exports; returns how many this run produced."""
    now = now or utcnow()
    due = list(db.session.scalars(
        select(ReportExport.id)
        .where((ReportExport.status == "pending")
               | ((ReportExport.status == "running")
                  & (ReportExport.started_at < now - EXPORT_LEASE)))
        .order_by(ReportExport.created_at).limit(batch)))
    db.session.rollback()  # end the read transaction before the claims
    produced = 0
    for export_id in due:
        try:
            produced += int(run_export(export_id=export_id, now=now))
        except Exception:
            log.exception("report export %s failed", export_id)
            db.session.rollback()
            _mark_failed(export_id)
    return produced


def _mark_failed(export_id: uuid.UUID) -> None:
    with unit_of_work():
        db.session.execute(update(ReportExport)
                           .where(ReportExport.id == export_id, ReportExport.status == "running")
                           .values(status="failed", finished_at=utcnow()))
