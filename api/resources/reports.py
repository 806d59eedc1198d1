"""Admin reports: reductions and points by type, methodology, period or partner; CSV exports."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import RAISE, Schema, fields, validate

from api.auth import access, staff_region
from api.csvexport import csv_doc, csv_response, wants_csv
from api.extensions import Blueprint
from api.fields import GramsString, RegionCode
from carbon_credits.services import reports as report_service

blp = Blueprint("reports", __name__, url_prefix="/api/v1/admin/reports",
                description="Reports for the city and the province")


class ReductionReportArgsSchema(Schema):
    date_from = fields.Date(data_key="from", required=True,
                            metadata={"description": "First scheme day (in SCHEME_TIMEZONE)"})
    date_to = fields.Date(data_key="to", required=True,
                          metadata={"description": "Last scheme day, inclusive"})
    group_by = fields.String(load_default="action_type",
                             validate=validate.OneOf(report_service.GROUP_BYS),
                             metadata={"description": "region: one line per district (GB/T 2260 "
                                                      "code; null: actions with no district)"})
    region = RegionCode(load_default=None, metadata={
        "description": "Only the actions counting for this district; district staff always get "
                       "theirs (asking for another: 403)", "example": "320505"})


class ReportMeasuresSchema(Schema):
    actions = fields.Integer(metadata={"description": "Credited actions"})
    reduction_g = GramsString(metadata={"description": "Methodology result of credited actions"})
    credited_g = GramsString(metadata={"description": "Credited reduction (after daily caps)"})
    points = fields.Integer(metadata={"description": "Points credited (net of reversals)"})
    reversed_actions = fields.Integer()
    reversed_credited_g = GramsString()
    reversed_points = fields.Integer(metadata={"description": "Points of since-reversed actions"})


class ReductionReportLineSchema(ReportMeasuresSchema):
    action_type = fields.String()
    methodology_code = fields.String(allow_none=True)
    methodology_version = fields.Integer(allow_none=True)
    period_start = fields.Date(metadata={"description": "First scheme day of the day/week/month"})
    partner_id = fields.UUID(allow_none=True, metadata={"description": "null: the app channel"})
    partner_name = fields.String()
    region = fields.String(allow_none=True, metadata={"description": "null: no district"})
    region_name = fields.String(metadata={"example": "虎丘区"})


class ReductionReportSchema(Schema):
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    group_by = fields.String()
    region = fields.String(allow_none=True, metadata={"description": "The district reported on; "
                                                                     "null: the whole city"})
    timezone = fields.String()
    items = fields.List(fields.Nested(ReductionReportLineSchema))
    totals = fields.Nested(ReportMeasuresSchema)


class ExportCreateSchema(Schema):
    date_from = fields.Date(data_key="from", required=True)
    date_to = fields.Date(data_key="to", required=True)
    group_by = fields.String(load_default="action_type",
                             validate=validate.OneOf(report_service.GROUP_BYS))
    region = RegionCode(load_default=None, allow_none=True, metadata={
        "description": "Only this district (district staff: always theirs)", "example": "320505"})


class ExportSchema(Schema):
    id = fields.UUID()
    status = fields.String(metadata={"description": "pending | running | done | failed"})
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    group_by = fields.String()
    region = fields.String(allow_none=True, metadata={"description": "null: the whole city"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    download_url = fields.Function(
        lambda e: f"/api/v1/admin/reports/exports/{e.id}.csv" if e.status == "done" else None)


def _line(region, name, actions, reduction_g, credited_g, points, reversed_=(0, "0.000", 0)):
    return {"region": region, "region_name": name, "actions": actions, "reduction_g": reduction_g,
            "credited_g": credited_g, "points": points, "reversed_actions": reversed_[0],
            "reversed_credited_g": reversed_[1], "reversed_points": reversed_[2]}


# Examples for the API document: a month grouped by district (the shape of a real run).
REPORT_EXAMPLE = {
    "from": "2026-11-01", "to": "2026-11-30", "group_by": "region", "region": None,
    "timezone": "Asia/Shanghai",
    "items": [_line("320505", "虎丘区", 48210, "31562810.000", "31204115.000", 31201205,
                    (3, "2910.000", 2910)),
              _line("320508", "姑苏区", 20114, "12880412.500", "12877001.500", 12877001),
              _line(None, "(no district)", 312, "201844.000", "201844.000", 201844)],
    "totals": {k: v for k, v in _line(None, "", 68636, "44645066.500", "44282960.500", 44280050,
                                      (3, "2910.000", 2910)).items()
               if k not in ("region", "region_name")}}
REPORT_CSV_EXAMPLE = (
    "region,region_name,actions,reduction_g,credited_g,points,reversed_actions,"
    "reversed_credited_g,reversed_points\r\n"
    "320505,虎丘区,48210,31562810.000,31204115.000,31201205,3,2910.000,2910\r\n"
    "320508,姑苏区,20114,12880412.500,12877001.500,12877001,0,0.000,0\r\n"
    ",(no district),312,201844.000,201844.000,201844,0,0.000,0\r\n"
    "TOTAL,,68636,44645066.500,44282960.500,44280050,3,2910.000,2910\r\n")
REPORT_DOC = csv_doc(ReductionReportSchema, example=REPORT_EXAMPLE, csv_example=REPORT_CSV_EXAMPLE)
EXPORT_EXAMPLE = {"id": "f966fdac-f8eb-4b31-a340-fe89116a85ea", "status": "pending",
                  "from": "2026-11-01", "to": "2026-11-30", "group_by": "methodology",
                  "region": None, "created_at": "2026-12-06T07:14:11.225304+00:00",
                  "finished_at": None, "download_url": None}
DONE_EXPORT_EXAMPLE = {
    **EXPORT_EXAMPLE, "status": "done", "finished_at": "2026-12-06T07:14:41.265871+00:00",
    "download_url": "/api/v1/admin/reports/exports/f966fdac-f8eb-4b31-a340-fe89116a85ea.csv"}
EXPORT_CSV_EXAMPLE = (
    "methodology_code,methodology_version,actions,reduction_g,credited_g,points,"
    "reversed_actions,reversed_credited_g,reversed_points\r\n"
    "SH-METRO,1,60124,41203377.000,40871210.000,40868300,3,2910.000,2910\r\n"
    "SH-BUS,1,8512,3441689.500,3411750.500,3411750,0,0.000,0\r\n"
    "TOTAL,,68636,44645066.500,44282960.500,44280050,3,2910.000,2910\r\n")


@blp.route("/reductions", methods=["GET"])
@access("admin", "auditor", district_scoped=True)
@blp.arguments(ReductionReportArgsSchema, location="query", unknown=RAISE)
@blp.response(200, ReductionReportSchema)
@blp.doc(**REPORT_DOC)
def reductions(args):
    """Reductions (grams CO2e) and points per group over scheme days (`Accept: text/csv`).

    Admins and auditors; district staff get their district's actions only (another `region`:
    403). Scheme days `from`..`to` (at most 366) in `SCHEME_TIMEZONE`, one line per
    `group_by` value (type, methodology version, day/week/month, partner or district) and the
    totals; reversed actions are counted apart. With `Accept: text/csv` the same lines come
    as a UTF-8 CSV attachment with a byte-order mark and a final TOTAL row. Read from the
    replica when one keeps up; bad dates or a range past 366 days are a 422."""
    report = report_service.get_reductions_report(
        date_from=args["date_from"], date_to=args["date_to"], group_by=args["group_by"],
        region=args["region"], within=staff_region())
    if not wants_csv():
        return report
    header, rows = report_service.report_rows(report)
    return csv_response(header, rows, filename=report_service.report_filename(report))


@blp.route("/exports", methods=["POST"])
@access("admin", "auditor", district_scoped=True)
@blp.arguments(ExportCreateSchema, example={"from": "2026-11-01", "to": "2026-11-30",
                                            "group_by": "methodology"})
@blp.response(202, ExportSchema, example=EXPORT_EXAMPLE)
def create_export(data):
    """Queue a CSV export of the reductions report; a background worker produces it.

    Same parameters and rules as `GET .../reductions` (district staff: their district only).
    The answer is the export, `pending`; poll `GET .../exports/{id}` until `status` is
    `done`, then download `download_url`. The request is audited."""
    return report_service.request_export(date_from=data["date_from"], date_to=data["date_to"],
                                         group_by=data["group_by"], actor_user_id=g.user.id,
                                         region=data["region"], within=staff_region())


@blp.route("/exports/<uuid:export_id>", methods=["GET"])
@access("admin", "auditor", district_scoped=True)
@blp.response(200, ExportSchema, example=DONE_EXPORT_EXAMPLE)
def get_export(export_id: uuid.UUID):
    """An export's status (and its download link once done).

    `pending` or `running` while the worker has it, `done` with `download_url`, or `failed`.
    Another district's export, for district staff, is a 404 like an unknown id."""
    return report_service.get_export_or_raise(export_id, within=staff_region())


@blp.route("/exports/<uuid:export_id>.csv", methods=["GET"])
@access("admin", "auditor", district_scoped=True)
@blp.doc(responses={"200": {"description": "The CSV (UTF-8 with a byte-order mark)",
                            "content": {"text/csv": {"schema": {"type": "string"},
                                                     "example": EXPORT_CSV_EXAMPLE}}},
                    "404": {"description": "No such export"},
                    "409": {"description": "`export_not_ready`: not produced yet"}})
def download_export(export_id: uuid.UUID):
    """Download a finished export.

    The report's lines as a CSV attachment, byte for byte what `GET .../reductions` with
    `Accept: text/csv` gave for the same parameters when it was produced. Not yet `done`: a
    409 (`export_not_ready`); poll the export's status first."""
    export, header, rows = report_service.get_finished_export_or_raise(export_id,
                                                                       within=staff_region())
    return csv_response(header, rows, filename=export.filename)
