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


@blp.route("/reductions", methods=["GET"])
@access("admin", "auditor", district_scoped=True)
@blp.arguments(ReductionReportArgsSchema, location="query", unknown=RAISE)
@blp.response(200, ReductionReportSchema)
@blp.doc(**csv_doc(ReductionReportSchema))
def reductions(args):
    """Reductions (grams CO2e) and points per group over scheme days (`Accept: text/csv`)."""
    report = report_service.get_reductions_report(
        date_from=args["date_from"], date_to=args["date_to"], group_by=args["group_by"],
        region=args["region"], within=staff_region())
    if not wants_csv():
        return report
    header, rows = report_service.report_rows(report)
    return csv_response(header, rows, filename=report_service.report_filename(report))


@blp.route("/exports", methods=["POST"])
@access("admin", "auditor", district_scoped=True)
@blp.arguments(ExportCreateSchema)
@blp.response(202, ExportSchema)
def create_export(data):
    """Queue a CSV export of the reductions report; a background worker produces it."""
    return report_service.request_export(date_from=data["date_from"], date_to=data["date_to"],
                                         group_by=data["group_by"], actor_user_id=g.user.id,
                                         region=data["region"], within=staff_region())


@blp.route("/exports/<uuid:export_id>", methods=["GET"])
@access("admin", "auditor", district_scoped=True)
@blp.response(200, ExportSchema)
def get_export(export_id: uuid.UUID):
    """An export's status (and its download link once done)."""
    return report_service.get_export_or_raise(export_id, within=staff_region())


@blp.route("/exports/<uuid:export_id>.csv", methods=["GET"])
@access("admin", "auditor", district_scoped=True)
@blp.doc(responses={"200": {"description": "The CSV", "content": {"text/csv": {}}},
                    "404": {"description": "No such export, or not produced yet"}})
def download_export(export_id: uuid.UUID):
    """Download a finished export."""
    export, header, rows = report_service.get_finished_export_or_raise(export_id,
                                                                       within=staff_region())
    return csv_response(header, rows, filename=export.filename)
