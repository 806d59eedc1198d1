"""Reports: reductions by scene, methodology, district, partner and period, as a table, a chart
and CSV.

Both pages mirror `GET /api/v1/admin/reports/reductions`: the query is read by the API's own
argument schema (same names, defaults and refusals), the report comes from the same service
call with the same district scoping, and the CSV is built from the same rows and file name.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from flask import render_template, request, url_for
from marshmallow import EXCLUDE

from api.auth import staff_region
from api.charts import bar_chart, line_chart
from api.console.blueprint import blueprint
from api.console.forms import load_form
from api.console.access import console_page
from api.csvexport import csv_response
from api.resources.reports import ReductionReportArgsSchema
from api.site.content import mass_unit
from api.site.texts import scene_name
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.regions import REGIONS
from carbon_credits.services import reports as report_service
from carbon_credits.services.leaderboards import period_bounds, scheme_today

FILTERS = ("from", "to", "group_by", "region")
DEFAULT_DAYS = 30
PERIODS = ("day", "week", "month")
GROUP_HEADINGS = {"action_type": "Scene", "methodology": "Methodology", "day": "Day",
                  "week": "Week starting", "month": "Month", "partner": "Partner",
                  "region": "District"}
GROUP_NOUNS = {"action_type": "scene", "methodology": "methodology", "day": "day", "week": "week",
               "month": "month", "partner": "partner", "region": "district"}
GROUP_CHOICES = {"action_type": "Scene (action type)", "methodology": "Methodology",
                 "day": "Day", "week": "Week (Monday to Sunday)", "month": "Month",
                 "partner": "Partner (channel)", "region": "District"}
SHOWN = Decimal("0.001")  # kg to the gram, t to the kilogram: the CSV keeps every milligram


@blueprint.get("/reports")
@console_page("reports.reductions")
def reports():
    """The filter form and the report as a table and a chart; bad filters: the form, 422."""
    asked = _asked()
    try:
        report = _reductions(asked)
    except ValidationFailed as error:
        return render_template("console/reports/index.html", asked=asked, error=error,
                               status=422, **_form_choices()), 422
    return render_template("console/reports/index.html", asked=_filters_of(report),
                           view=report_view(report),
                           csv_url=url_for("console.report_csv", **_filters_of(report)),
                           **_form_choices())


@blueprint.get("/reports.csv")
@console_page("reports.reductions")
def report_csv():
    """The same report as the API's CSV (with its BOM, so spreadsheets read it as UTF-8)."""
    report = _reductions(_asked())
    header, rows = report_service.report_rows(report)
    return csv_response(header, rows, filename=report_service.report_filename(report))


# --- the query --------------------------------------------------------------------------------

def _asked() -> dict[str, str]:
    """The filters as typed (empty fields dropped); no dates at all: the last 30 scheme days."""
    asked = {name: value for name in FILTERS if (value := request.args.get(name, "").strip())}
    if "from" not in asked and "to" not in asked:
        today = scheme_today()
        asked["from"] = (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        asked["to"] = today.isoformat()
    return asked


def _reductions(asked: dict[str, str]) -> dict:
    """The report, exactly as `GET /api/v1/admin/reports/reductions` computes it."""
    args = load_form(ReductionReportArgsSchema(), asked, unknown=EXCLUDE)
    return report_service.get_reductions_report(
        date_from=args["date_from"], date_to=args["date_to"], group_by=args["group_by"],
        region=args["region"], within=staff_region())


def _filters_of(report: dict) -> dict[str, str]:
    filters = {"from": report["from"].isoformat(), "to": report["to"].isoformat(),
               "group_by": report["group_by"]}
    if report["region"]:
        filters["region"] = report["region"]
    return filters


def _form_choices() -> dict:
    return {"group_choices": [(g, GROUP_CHOICES.get(g, g)) for g in report_service.GROUP_BYS],
            "regions": REGIONS, "own_region": staff_region()}


# --- what the page shows ------------------------------------------------------------------------

def report_view(report: dict) -> dict:
    """The report's rows with labels and masses in one unit (kg, or t from a tonne), its
    totals, and a chart of the credited reduction per row."""
    totals = report["totals"]
    unit, divisor = mass_unit(max(totals["reduction_g"], totals["credited_g"],
                                  totals["reversed_credited_g"]))

    def measures(line: dict) -> dict:
        masses = {name: in_unit(line[name], divisor)
                  for name in ("reduction_g", "credited_g", "reversed_credited_g")}
        return {**line, **masses}

    group_by = report["group_by"]
    rows = [{"label": row_label(group_by, item), "code": row_code(group_by, item),
             **measures(item)} for item in report["items"]]
    chart = _chart(report, rows, unit, divisor) if rows else None
    return {"group_by": group_by, "heading": GROUP_HEADINGS[group_by],
            "noun": GROUP_NOUNS[group_by], "unit": unit, "rows": rows,
            "totals": measures(totals), "chart": chart, "region": report["region"],
            "timezone": report["timezone"]}


def in_unit(grams: Decimal, divisor: Decimal) -> Decimal:
    """Grams in kg (to the gram) or t (to the kilogram), exactly, with Decimal."""
    return (grams / divisor).quantize(SHOWN, ROUND_HALF_UP)


def row_label(group_by: str, item: dict) -> str:
    if group_by == "action_type":
        return scene_name(item["action_type"], "en")
    if group_by == "methodology":
        code = item["methodology_code"]
        return f"{code} v{item['methodology_version']}" if code else "(no methodology)"
    if group_by in PERIODS:
        start = item["period_start"]
        return start.strftime("%Y-%m") if group_by == "month" else start.isoformat()
    if group_by == "partner":
        return item["partner_name"]
    return item["region_name"]


def row_code(group_by: str, item: dict) -> str | None:
    """The identifier the API and the CSV use for a row, where the label is a name."""
    return {"action_type": item.get("action_type"), "region": item.get("region"),
            "partner": str(item["partner_id"]) if item.get("partner_id") else None
            }.get(group_by)


def _chart(report: dict, rows: list[dict], unit: str, divisor: Decimal):
    title = (f"Credited reduction by {GROUP_NOUNS[report['group_by']]}, "
             f"{report['from']} to {report['to']}")
    if report["group_by"] not in PERIODS:
        return bar_chart(title, [r["label"] for r in rows], [r["credited_g"] for r in rows],
                         unit=unit, label_heading=GROUP_HEADINGS[report["group_by"]],
                         value_heading="Credited reduction")
    # A time line shows every period of the range: one with no action is a real zero.
    by_start = {item["period_start"]: item["credited_g"] for item in report["items"]}
    starts = periods(report["group_by"], report["from"], report["to"])
    labels = [row_label(report["group_by"], {"period_start": s}) for s in starts]
    values = [in_unit(by_start.get(s, Decimal(0)), divisor) for s in starts]
    return line_chart(title, labels, [("Credited reduction", values)], unit=unit,
                      label_heading=GROUP_HEADINGS[report["group_by"]])


def periods(unit: str, date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The first day of every day/week/month the range touches, as the report groups them."""
    starts, start = [], period_bounds(unit, date_from)[0]
    while start <= date_to:
        starts.append(start)
        start = period_bounds(unit, start)[1]
    return starts

