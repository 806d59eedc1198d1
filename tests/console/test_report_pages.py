"""The console's reports (docs/console.md, "Reports"): the reductions report of the API as a
table, a chart and a CSV, with the same figures as `GET /api/v1/admin/reports/reductions` for
every grouping, the same district scoping, the same refusals (422, 403) and nothing changed by
any of them."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import pytest

from carbon_credits.services.reports import GROUP_BYS
from tests.api.test_actions import iso, recent, seeded, send_batch, trip  # noqa: F401
from tests.api.test_district_scoping import OTHER, OWN, _district_objects
from tests.conftest import all_table_counts
from tests.console_support import everyone, sign_in

REPORT = "/api/v1/admin/reports/reductions"
PAGE, CSV = "/console/reports", "/console/reports.csv"
SVG = "{http://www.w3.org/2000/svg}"
BOM = "\ufeff".encode()
MEASURES = ("actions", "reduction_g", "credited_g", "points", "reversed_actions",
            "reversed_credited_g", "reversed_points")


def scheme_today(app) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(app.config["SETTINGS"].scheme_timezone)).date()


def last_30_days(app) -> dict[str, str]:
    today = scheme_today(app)
    return {"from": (today - dt.timedelta(days=29)).isoformat(), "to": today.isoformat()}


@pytest.fixture
def activity(client, app, seeded, actors):  # noqa: F811
    """Everyone (district staff of OWN included), and credited actions in two scenes and two
    districts: a walk and an EV charge in OWN; a walk, and a reversed walk, in OTHER."""
    people = everyone(actors, client)
    own = _district_objects(client, actors, OWN)
    other = _district_objects(client, actors, OTHER)
    charger = actors.partner("charging_operator")
    actors.bind(own["citizen"], charger, "EV-1")
    start = recent(4)
    ev = send_batch(client, charger, [{"action_type": "ev_charging", "started_at": iso(start),
                                       "ended_at": iso(start + dt.timedelta(hours=1)),
                                       "energy_kwh": 30, "station_id": "S1", "external_id": "C-1",
                                       "external_ref": "EV-1"}]).json["results"][0]
    assert ev["status"] == "credited", ev
    walk = client.post("/api/v1/actions", json=trip(recent(8), minutes=30, km=3, mode="walk"),
                       headers=other["citizen"].headers)
    assert walk.json["status"] == "credited", walk.json
    reversed_ = client.post(f"/api/v1/admin/actions/{other['credited']}/reverse",
                            json={"reason": "duplicate claim"}, headers=people["auditor"].headers)
    assert reversed_.status_code == 200, reversed_.json
    return people


# --- reading the page -------------------------------------------------------------------------

def element(html: str, pattern: str) -> ET.Element:
    match = re.search(pattern, html, flags=re.S)
    assert match, pattern
    return ET.fromstring(match.group(0))


class Tags(HTMLParser):
    """The start tags of an HTML fragment, with their attributes (HTML, not XML: `selected`)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def text_of(node: ET.Element) -> str:
    return " ".join("".join(node.itertext()).split())


def page_table(html: str) -> tuple[list[str], list[list[str]], list[str]]:
    """The report table's headings, body rows and total row, as text."""
    table = element(html, r'<table id="report-table">.*?</table>')
    headings = [text_of(th) for th in table.find("thead/tr")]
    rows = [[text_of(cell) for cell in tr] for tr in table.iterfind("tbody/tr")]
    return headings, rows, [text_of(cell) for cell in table.find("tfoot/tr")]


def shown(item: dict, divisor: Decimal) -> list[str]:
    """An API line's measures as the page should show them: grams in its unit, to 3 places."""
    def mass(grams: str) -> str:
        return f"{(Decimal(grams) / divisor).quantize(Decimal('0.001'), ROUND_HALF_UP):,}"
    return [mass(item[m]) if m.endswith("_g") else f"{item[m]:,}" for m in MEASURES]


def row_key(group_by: str, item: dict) -> str:
    """What the row heading of an API line must contain."""
    if group_by == "methodology":
        return f"{item['methodology_code']} v{item['methodology_version']}"
    if group_by in ("day", "week"):
        return item["period_start"]
    if group_by == "month":
        return item["period_start"][:7]
    if group_by == "partner":
        return item["partner_name"]
    return item[{"action_type": "action_type", "region": "region_name"}[group_by]] or ""


def assert_page_matches_api(html: str, api: dict) -> None:
    headings, rows, total = page_table(html)
    divisor = Decimal(1000) if "(kg CO₂e)" in headings[2] else Decimal(1_000_000)
    assert "CO₂e" in headings[2] and len(rows) == len(api["items"]) > 0
    for row, item in zip(rows, api["items"]):
        assert row_key(api["group_by"], item) in row[0], (row, item)
        assert row[1:] == shown(item, divisor), (row, item)
    assert total == ["Total"] + shown(api["totals"], divisor)


def chart_figure(html: str) -> ET.Element:
    assert '<figure id="report-chart">' in html
    figure = element(html, r'<figure class="chart".*?</figure>')
    svg = figure.find(f"{SVG}svg")
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text.startswith("Credited reduction by ")
    return svg


def periods_between(group_by: str, date_from: str, date_to: str) -> int:
    first, last = dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    key = {"day": lambda d: d, "week": lambda d: d - dt.timedelta(days=d.weekday()),
           "month": lambda d: (d.year, d.month)}[group_by]
    return len({key(d) for d in days})


# --- the report -------------------------------------------------------------------------------

@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_the_table_and_the_chart_show_the_apis_figures(app, client, activity, group_by):
    admin = activity["admin"]
    query = {**last_30_days(app), "group_by": group_by}
    api = client.get(REPORT, query_string=query, headers=admin.headers).json
    browser = sign_in(app, admin)
    before = all_table_counts(app)
    r = browser.get(PAGE, query_string=query)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert_page_matches_api(html, api)
    svg = chart_figure(html)
    if group_by in ("day", "week", "month"):
        points = svg.findall(f"{SVG}circle")
        assert len(points) == periods_between(group_by, query["from"], query["to"])
        assert all(p.find(f"{SVG}title").text for p in points)
    else:
        bars = svg.findall(f"{SVG}rect")
        assert len(bars) == len(api["items"])
        titles = [bar.find(f"{SVG}title").text for bar in bars]
        _, rows, _ = page_table(html)
        for title, row in zip(titles, rows):
            label, value = title.rsplit(": ", 1)
            number = Decimal(value.split(" ")[0].replace(",", ""))
            assert row[0].startswith(label) and number == Decimal(row[3].replace(",", ""))
    assert ' style="' not in html and "<style" not in html
    assert all_table_counts(app) == before


def test_by_default_the_last_30_scheme_days_by_scene(app, client, activity):
    auditor = activity["auditor"]
    html = sign_in(app, auditor).get(PAGE).get_data(as_text=True)
    days = last_30_days(app)
    api = client.get(REPORT, query_string={**days, "group_by": "action_type"},
                     headers=auditor.headers).json
    assert {i["action_type"] for i in api["items"]} == {"transit", "ev_charging"}
    assert_page_matches_api(html, api)
    form = Tags(re.search(r'<form id="report-filter".*?</form>', html, flags=re.S).group(0)).tags
    fields = {attrs["name"]: attrs for tag, attrs in form if tag in ("input", "select")}
    assert fields["from"]["value"] == days["from"] and fields["to"]["value"] == days["to"]
    options = [attrs for tag, attrs in form if tag == "option"]
    group_options = [o for o in options if o["value"] in GROUP_BYS]
    assert [o["value"] for o in group_options] == list(GROUP_BYS)
    assert [o["value"] for o in group_options if "selected" in o] == ["action_type"]
    labels = {attrs["for"] for tag, attrs in form if tag == "label"}
    assert {"report-from", "report-to", "report-group-by", "report-region"} <= labels
    assert {attrs.get("id") for tag, attrs in form if tag in ("input", "select")} <= labels
    link = re.search(r'<a [^>]*id="report-csv"[^>]*>(.*?)</a>', html)
    assert link.group(1) == "Download CSV"
    href = Tags(link.group(0)).tags[0][1]["href"]
    assert href.startswith(CSV + "?") and f"from={days['from']}" in href
    assert "group_by=action_type" in href


def test_an_empty_range_shows_no_chart(app, activity):
    html = sign_in(app, activity["admin"]).get(
        PAGE, query_string={"from": "2020-01-01", "to": "2020-01-31", "group_by": "day"}
    ).get_data(as_text=True)
    assert 'id="report-empty"' in html and 'id="report-chart"' not in html
    assert 'id="report-csv"' in html


@pytest.mark.parametrize("group_by", ["region", "methodology", "day"])
def test_the_csv_is_the_apis_csv_with_a_byte_order_mark(app, client, activity, group_by):
    admin = activity["admin"]
    query = {**last_30_days(app), "group_by": group_by}
    api = client.get(REPORT, query_string=query, headers={**admin.headers, "Accept": "text/csv"})
    r = sign_in(app, admin).get(CSV, query_string=query)
    assert r.status_code == 200 and r.content_type == "text/csv; charset=utf-8"
    assert r.get_data().startswith(BOM) and r.get_data() == api.get_data()
    assert r.headers["Content-Disposition"] == api.headers["Content-Disposition"]
    assert r.headers["Content-Disposition"].startswith("attachment; filename=\"reductions-")
    if group_by == "region":
        assert "虎丘区" in r.get_data()[len(BOM):].decode("utf-8")


# --- district staff ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["district_auditor", "district_admin"])
def test_district_staff_see_only_their_district(app, client, activity, role):
    person = activity[role]
    query = {**last_30_days(app), "group_by": "region"}
    browser = sign_in(app, person)
    html = browser.get(PAGE, query_string=query).get_data(as_text=True)
    api = client.get(REPORT, query_string=query, headers=person.headers).json
    assert [i["region"] for i in api["items"]] == [OWN]
    assert_page_matches_api(html, api)
    assert 'id="report-region"' not in html and f"district {OWN}" in html
    city = client.get(REPORT, query_string=query, headers=activity["admin"].headers).json
    assert {i["region"] for i in city["items"]} == {OWN, OTHER}  # there was more to see
    csv_text = browser.get(CSV, query_string=query).get_data()[len(BOM):].decode("utf-8")
    assert OWN in csv_text and OTHER not in csv_text
    assert f"reductions-region-{OWN}-" in browser.get(CSV, query_string=query).headers[
        "Content-Disposition"]


def test_district_staff_asking_for_another_district_are_refused(app, activity):
    browser = sign_in(app, activity["district_auditor"])
    before = all_table_counts(app)
    query = {**last_30_days(app), "region": OTHER}
    for path in (PAGE, CSV):
        r = browser.get(path, query_string=query)
        assert r.status_code == 403, path
        assert 'data-problem="outside_district"' in r.get_data(as_text=True)
    own = browser.get(PAGE, query_string={**query, "region": OWN})
    assert own.status_code == 200
    assert all_table_counts(app) == before


def test_a_city_wide_auditor_may_pick_one_district(app, client, activity):
    auditor = activity["auditor"]
    query = {**last_30_days(app), "group_by": "methodology", "region": OTHER}
    html = sign_in(app, auditor).get(PAGE, query_string=query).get_data(as_text=True)
    api = client.get(REPORT, query_string=query, headers=auditor.headers).json
    assert api["region"] == OTHER and api["totals"]["reversed_actions"] == 1
    assert_page_matches_api(html, api)
    assert f'<option value="{OTHER}" selected>' in html


# --- refusals ---------------------------------------------------------------------------------

BAD_FILTERS = [
    ("from_after_to", {"from": "2026-02-01", "to": "2026-01-31"}, "to"),
    ("range_too_long", {"from": "2024-01-01", "to": "2025-12-31"}, "to"),
    ("unknown_group_by", {"from": "2026-01-01", "to": "2026-01-31", "group_by": "citizen"},
     "group_by"),
    ("not_a_date", {"from": "2026-13-01", "to": "2026-12-31"}, "from"),
    ("missing_to", {"from": "2026-01-01"}, "to"),
    ("unknown_district", {"from": "2026-01-01", "to": "2026-01-31", "region": "999999"},
     "region"),
]


@pytest.mark.parametrize("name, query, field", BAD_FILTERS, ids=[n for n, _, _ in BAD_FILTERS])
def test_bad_filters_are_422_like_the_api_and_change_nothing(app, client, activity, name, query,
                                                             field):
    admin = activity["admin"]
    assert client.get(REPORT, query_string=query, headers=admin.headers).status_code == 422
    browser = sign_in(app, admin)
    before = all_table_counts(app)
    r = browser.get(PAGE, query_string=query)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="report-error"' in html and 'data-problem="validation"' in html
    assert f"<code>{field}</code>" in html
    assert 'id="report-filter"' in html and 'id="report-table"' not in html
    assert f'value="{query["from"]}"' in html  # the form keeps what was asked
    assert browser.get(CSV, query_string=query).status_code == 422
    assert all_table_counts(app) == before


@pytest.mark.parametrize("role", ["merchant", "verifier"])
def test_reports_are_for_admins_and_auditors_only(app, activity, role):
    browser = sign_in(app, activity[role])
    before = all_table_counts(app)
    for path in (PAGE, CSV):
        assert browser.get(path, query_string=last_30_days(app)).status_code == 403
    assert 'href="/console/reports"' not in browser.get("/console/").get_data(as_text=True)
    assert all_table_counts(app) == before


def test_the_menu_links_to_reports_for_auditors(app, activity):
    html = sign_in(app, activity["district_auditor"]).get("/console/").get_data(as_text=True)
    assert 'href="/console/reports"' in html


def test_masses_are_shown_in_tonnes_from_a_tonne_with_decimal(app):
    from api.console.pages.reports import report_view
    grams = {"reduction_g": Decimal("1500500.000"), "credited_g": Decimal("1000000.000"),
             "reversed_credited_g": Decimal("499.999")}
    line = {"actions": 3, "points": 1_000_000, "reversed_actions": 1, "reversed_points": 500,
            **grams}
    report = {"from": dt.date(2026, 5, 1), "to": dt.date(2026, 5, 31), "group_by": "region",
              "region": None, "timezone": "Asia/Shanghai", "totals": line,
              "items": [{"region": OWN, "region_name": "虎丘区", **line}]}
    with app.test_request_context():
        view = report_view(report)
    assert view["unit"] == "t CO₂e"
    row = view["rows"][0]
    assert (row["reduction_g"], row["credited_g"], row["reversed_credited_g"]) == (
        Decimal("1.501"), Decimal("1.000"), Decimal("0.000"))  # to the kilogram, half up
    assert all(isinstance(row[m], Decimal) for m in grams)
    assert "<title>虎丘区: 1 t CO₂e</title>" in str(view["chart"]) and row["label"] == "虎丘区" and row["code"] == OWN
