"""What the public page shows, gathered from the services the open-data API calls, with the
same arguments: nothing here is shown that `/api/v1/public/...` or `/api/v1/methodologies`
would not give (a suppressed cell stays suppressed; a sum adds published figures only).
The shapes returned are plain dicts and ready-made charts for the templates."""
from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from api.charts import bar_chart, line_chart
from api.resources.certificates import lot_view
# The open data's own shaping of a lot, so the page shows exactly what /public/lots shows.
from api.resources.public import public_lots
from api.site.texts import district_name, scene_name, texts, word
from carbon_credits.config import get_settings
from carbon_credits.domain import certificates as certificate_rules
from carbon_credits.domain import metering
from carbon_credits.domain.errors import NotFound
from carbon_credits.domain.vocabulary import scope_key
from carbon_credits.services import certificates as certificate_service
from carbon_credits.services import disclosure
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services.leaderboards import scheme_today

MONTHS = 12
LOTS_SHOWN = 10
PAGE_LIMIT = 200           # the open data's largest page
MAX_METHODOLOGY_PAGES = 5  # 1000 methodologies in force: far beyond any real catalogue
GRAMS_PER_KG = Decimal(1000)
GRAMS_PER_TONNE = Decimal(1_000_000)
SERIAL_MAX_LENGTH = 120    # as the JSON lookup's path accepts
PARAMETER_FIELDS = ("name", "value", "unit", "source", "source_status", "note")  # as the API's


# --- totals ----------------------------------------------------------------------------------

def totals_section(lang: str) -> dict:
    """Headline figures, the monthly trend and the breakdowns of the last 12 months."""
    words = texts(lang)
    month_to = scheme_today().replace(day=1)
    month_from = metering.add_months(month_to, -(MONTHS - 1))
    min_citizens = get_settings().public_min_citizens
    reports = {group_by: disclosure.public_totals(group_by=group_by, month_from=month_from,
                                                  month_to=month_to, min_citizens=min_citizens)
               for group_by in ("scene", "district")}
    months = [metering.period_text(metering.add_months(month_from, i)) for i in range(MONTHS)]
    by_month = {t["period"]: t for t in reports["scene"]["totals"]}
    shown = [t for t in by_month.values() if not t["suppressed"]]
    reduction_g = sum((t["reduction_g"] for t in shown), Decimal(0))
    latest = max(shown, key=lambda t: t["period"], default=None)
    unit, divisor = mass_unit(max([t["reduction_g"] for t in shown], default=Decimal(0)))
    trend = [_scaled(by_month[m]["reduction_g"], divisor) if m in by_month else
             Decimal(0) for m in months]
    return {
        "first": months[0], "last": months[-1], "min_citizens": min_citizens,
        "has_data": bool(shown),
        "reduction": mass_text(reduction_g),
        "actions": sum(t["actions"] for t in shown), "points": sum(t["points"] for t in shown),
        "citizens": latest["citizens"] if latest else None,
        "citizens_month": latest["period"] if latest else months[-1],
        "withheld_months": sum(1 for t in by_month.values() if t["suppressed"]),
        "trend_chart": line_chart(words["trend_title"], months,
                                  [(words["trend_series"], trend)], unit=unit,
                                  label_heading=words["month"],
                                  table_summary=words["data_table"], missing=words["withheld"]),
        "scene_chart": _breakdown(reports["scene"]["items"], lambda g: scene_name(g, lang),
                                  words, "scenes_title", "scene", "series-1"),
        "district_chart": _breakdown(reports["district"]["items"],
                                     lambda g: district_name(g, lang), words, "districts_title",
                                     "district", "series-2"),
    }


def _breakdown(items: list[dict], name, words: dict, title: str, heading: str, css: str) -> dict:
    """One bar per group over the months: the sum of its published cells; None when every
    month withheld it; marked when some did."""
    groups: dict = {}
    for item in items:
        sums = groups.setdefault(item["group"], {"g": None, "withheld": 0})
        if item["suppressed"]:
            sums["withheld"] += 1
        else:
            sums["g"] = (sums["g"] or Decimal(0)) + item["reduction_g"]
    order = sorted(groups, key=lambda g: (groups[g]["g"] is None, -(groups[g]["g"] or 0),
                                          g is None, g or ""))
    unit, divisor = mass_unit(max((s["g"] for s in groups.values() if s["g"] is not None),
                                  default=Decimal(0)))
    partial = any(s["withheld"] and s["g"] is not None for s in groups.values())
    labels = [name(g) + (" *" if groups[g]["withheld"] and groups[g]["g"] is not None else "")
              for g in order]
    values = [None if groups[g]["g"] is None else _scaled(groups[g]["g"], divisor) for g in order]
    chart = bar_chart(words[title], labels, values, unit=unit, series_class=css,
                      label_heading=words[heading], value_heading=words["reduction"],
                      table_summary=words["data_table"], missing=words["withheld"])
    return {"chart": chart if order else None, "partial": partial}


def mass_unit(largest_g: Decimal) -> tuple[str, Decimal]:
    """kg below a tonne's worth, else t: one unit for a whole chart."""
    return ("t CO₂e", GRAMS_PER_TONNE) if largest_g >= GRAMS_PER_TONNE else ("kg CO₂e",
                                                                              GRAMS_PER_KG)


def mass_text(grams: Decimal) -> str:
    unit, divisor = mass_unit(grams)
    return f"{_scaled(grams, divisor):,} {unit}"


def _scaled(grams: Decimal | None, divisor: Decimal) -> Decimal | None:
    """Grams in kg (one decimal) or t (three), exactly."""
    if grams is None:
        return None
    places = Decimal("0.1") if divisor == GRAMS_PER_KG else Decimal("0.001")
    return (grams / divisor).quantize(places)


# --- methodologies ---------------------------------------------------------------------------

def methodologies_section(lang: str) -> list[dict]:
    """The methodologies in force now, by code, each with its version in force."""
    rows, after = [], None
    for _ in range(MAX_METHODOLOGY_PAGES):
        page, after = methodology_service.list_methodologies_in_force(after=after,
                                                                      limit=PAGE_LIMIT)
        rows.extend(page)
        if after is None:
            break
    return [_methodology(methodology, version, lang) for methodology, version in rows]


def _methodology(methodology, version, lang: str) -> dict:
    return {
        "code": methodology.code,
        "title": (methodology.title_zh if lang == "zh" and methodology.title_zh
                  else methodology.title),
        "description": methodology.description,
        "scene": scene_name(scope_key(methodology.action_type, methodology.mode), lang),
        "version": version.version, "formula": version.formula_text,
        "in_force_since": local_date(version.effective_from),
        "daily_cap": (None if version.daily_cap_g is None
                      else f"{version.daily_cap_g.normalize():,f} g CO₂e"),  # exact grams
        "filing": (f"{version.filing_number} ({version.filing_authority})"
                   if version.filing_number else None),
        "parameters": [{**{k: p.get(k) for k in PARAMETER_FIELDS},
                        "source_status": word(p.get("source_status"), lang)}
                       for p in version.parameters],
    }


# --- certified lots --------------------------------------------------------------------------

def lots_section(lang: str) -> dict:
    """The newest lots as `/api/v1/public/lots` shows them, and their retirements."""
    views, _ = public_lots(after=None, limit=LOTS_SHOWN)
    scheme = texts(lang)["scheme_account"]
    retirements = [{"date": local_date(e["at"]), "serials": e["serials"],
                    "quantity": e["quantity"], "holder": e["from_holder"] or scheme,
                    "beneficiary": e["beneficiary"], "purpose": e["purpose"]}
                   for view in views for e in view["history"] if e["event"] == "retire"]
    retirements.sort(key=lambda r: r["date"], reverse=True)
    lots = [{**_lot(view), "verification": word(view["verification"], lang),
             "retired": view["retired_quantity"]} for view in views]
    return {"lots": lots, "retirements": retirements}


def _lot(view: dict) -> dict:
    """The fields of a lot that both public endpoints show."""
    return {"serials": view["serials"],
            "methodology": f"{view['methodology']['code']} v{view['methodology']['version']}",
            "period": f"{view['period']['period_from']} – {view['period']['period_to']}",
            "vintage": view["vintage_year"], "quantity": view["quantity"],
            "issued": f"{Decimal(view['issued_tco2e']).normalize():f} t CO₂e"}


# --- serial lookup ---------------------------------------------------------------------------

def serial_lookup(serial: str, lang: str) -> tuple[int, dict]:
    """(status, page data) for the serial asked about: 200 with what `GET
    /api/v1/certificates/serials/...` gives, 422 for text that is no serial, 404 for a serial
    never issued. Reads only."""
    words = texts(lang)
    try:
        if len(serial) > SERIAL_MAX_LENGTH:
            raise ValueError("too long")
        certificate_rules.parse_serial(serial)
    except ValueError:
        return 422, {"message": words["verify_invalid"].format(serial=serial)}
    try:
        found = certificate_service.verify_serial(serial=serial)
    except NotFound:
        return 404, {"message": words["verify_unknown"].format(serial=serial)}
    blocks = [{**b, "status": word(b["status"], lang), "retired_at": local_date(b["retired_at"]),
               "holder": (words["scheme_account"] if b["holder"] == "scheme issuance account"
                          else b["holder"])} for b in found["blocks"]]
    return 200, {"message": words["verify_found"].format(serial=found["serial"]),
                 "serial": found["serial"], "status": word(found["status"], lang),
                 "lot": _lot(lot_view(found["lot"])), "blocks": blocks}


def local_date(moment: dt.datetime | None) -> str | None:
    """The scheme's calendar day of an instant (Suzhou time)."""
    if moment is None:
        return None
    zone = zoneinfo.ZoneInfo(get_settings().scheme_timezone)
    return moment.astimezone(zone).date().isoformat()
