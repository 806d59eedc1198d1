"""The public page at `/` (issue 19, item 2): no login, Chinese by default and English on
request, the open data's figures with their suppression intact, the methodologies in force,
the certified lots and retirements, a serial lookup that changes nothing, and the page's
accessibility and security basics."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (LOTS, auditor, long_claim_window, lot,  # noqa: F401
                                         metro_month, serial, verifier)
from tests.api.test_public_totals import city, threshold  # noqa: F401
from tests.conftest import all_table_counts

SVG = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """The parts of an HTML page these tests look at."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.label_for: dict[str, str] = {}
        self.texts: list[str] = []
        self._label: str | None = None
        self._headings: list[list[str]] = []
        self.headings: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag == "label":
            self._label = attrs.get("for", "")
            self.label_for[self._label] = ""
        if tag in ("h1", "h2", "h3"):
            self._headings.append([])

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None
        if tag in ("h1", "h2", "h3") and self._headings:
            self.headings.append("".join(self._headings.pop()).strip())

    def handle_data(self, data):
        self.texts.append(data)
        if self._label is not None:
            self.label_for[self._label] += data
        for heading in self._headings:
            heading.append(data)

    @property
    def html_lang(self) -> str:
        return next(attrs["lang"] for tag, attrs in self.elements if tag == "html")


def charts(html: str) -> dict[str, ET.Element]:
    """Every chart figure on the page, parsed as XML, by its title."""
    found = {}
    for chunk in re.findall(r'<figure class="chart".*?</figure>', html, flags=re.S):
        figure = ET.fromstring(chunk)
        found[figure.find(f"{SVG}svg/{SVG}title").text] = figure
    return found


def table_of(figure: ET.Element) -> dict[str, list[str]]:
    return {row.find("th").text: [td.text for td in row.findall("td")]
            for row in figure.iterfind(".//tbody/tr")}


# --- languages -----------------------------------------------------------------------------

def test_the_page_is_public_and_chinese_by_default(client):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = Page(r.get_data(as_text=True))
    assert page.html_lang == "zh-CN"
    assert {"什么是碳普惠", "减排成果", "现行方法学", "核证减排量与注销", "如何验证证书序列号",
            "开放数据"} <= set(page.headings)
    switch = [a for tag, a in page.elements if tag == "a" and "lang-switch" in a.get("class", "")]
    assert switch and switch[0]["href"] == "/?lang=en" and switch[0]["lang"] == "en"


def test_english_on_request(client):
    page = Page(client.get("/?lang=en").get_data(as_text=True))
    assert page.html_lang == "en"
    assert {"What the scheme is", "Methodologies in force", "Open data"} <= set(page.headings)
    assert "现行方法学" not in page.headings


def test_the_browsers_language_is_followed_and_lang_wins(client):
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert Page(english.get_data(as_text=True)).html_lang == "en"
    assert "Accept-Language" in english.headers["Vary"]
    chinese = client.get("/?lang=zh", headers={"Accept-Language": "en"})
    assert Page(chinese.get_data(as_text=True)).html_lang == "zh-CN"


def test_other_query_parameters_are_ignored(client):
    r = client.get("/?lang=en&utm_source=poster&lang2=x")
    assert r.status_code == 200 and Page(r.get_data(as_text=True)).html_lang == "en"


# --- security headers and markup -------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/?lang=en", "/verify", "/verify?serial=nonsense"])
def test_no_inline_script_or_style_and_a_strict_csp(client, seeded, path):  # noqa: F811
    r = client.get(path)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    page = Page(r.get_data(as_text=True))
    for tag, attrs in page.elements:
        assert "style" not in attrs, (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert tag != "style"
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs


def test_the_page_is_cached_briefly_and_sets_no_cookie(client):
    r = client.get("/")
    assert r.headers["Cache-Control"] == "public, max-age=60" and "Set-Cookie" not in r.headers
    again = client.get("/", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    english = client.get("/?lang=en", headers={"If-None-Match": r.headers["ETag"]})
    assert english.status_code == 200


@pytest.mark.parametrize("path", ["/", "/?lang=en", "/verify?serial=CC-X-2026-000000001"])
def test_every_form_control_has_a_label(client, path):
    html = client.get(path).get_data(as_text=True)
    page = Page(html)
    controls = [(tag, a) for tag, a in page.elements if tag in ("input", "select", "textarea")
                and a.get("type") not in ("hidden", "submit")]
    assert controls, "the serial lookup is on the page"
    for tag, attrs in controls:
        label = page.label_for.get(attrs.get("id", ""), "")
        assert attrs.get("aria-label") or label.strip(), attrs
    buttons = re.findall(r"<button[^>]*>(.*?)</button>", html, flags=re.S)
    assert buttons and all(text.strip() for text in buttons)


# --- content ----------------------------------------------------------------------------------

def test_the_methodologies_in_force_are_listed_with_their_factors(client, seeded):  # noqa: F811
    api = client.get("/api/v1/methodologies?limit=200").json["items"]
    html = client.get("/").get_data(as_text=True)
    assert api
    for methodology in api:
        assert f'id="m-{methodology["code"]}"' in html
        for parameter in methodology["version_in_force"]["parameters"]:
            assert f'<td class="num">{parameter["value"]}</td>' in html
    assert "gCO2/km" in html and "sthj.sh.gov.cn" in html
    assert "地铁" in html and "二手资料" in html  # scene and source status in Chinese
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Metro" in english and "secondary source" in english


def test_totals_are_shown_and_a_suppressed_scene_stays_hidden(client, city,  # noqa: F811
                                                              threshold):  # noqa: F811
    threshold(3)
    api = client.get(f"/api/v1/public/totals?group_by=scene&from={city['month']}"
                     f"&to={city['month']}").json
    suppressed = {i["group"] for i in api["items"] if i["suppressed"]}
    assert suppressed == {"transit:bike", "transit:bus"}
    html = client.get("/").get_data(as_text=True)
    scenes = table_of(charts(html)["近 12 个月各场景减排量"])
    assert scenes == {"地铁": ["2.9"], "公交": ["不公开"], "骑行": ["不公开"]}
    # the bus riders' 1266 g and the cyclist's 294 g appear nowhere, in any form
    for hidden in ("1.3 kg", "1,266", "1266", "0.3 kg", "294"):
        assert hidden not in html
    assert "4.5 kg CO₂e" in html  # the month's published total: 2910 + 1266 + 294 g
    trend = table_of(charts(html)["每月减排量"])
    assert trend[city["month"]] == ["4.5"]
    assert "参与市民（" + city["month"] + "）" in html


def test_a_month_below_the_threshold_publishes_nothing(client, city, threshold):  # noqa: F811
    threshold(8)
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "Nothing can be published for this period yet." in html
    assert "4.5 kg" not in html and "2.9" not in html
    assert "no figure comes from fewer than 8 citizens" in html


def test_districts_are_named(client, city, threshold):  # noqa: F811
    threshold(2)
    html = client.get("/?lang=en").get_data(as_text=True)
    districts = table_of(charts(html)["Reductions by district, last 12 months"])
    assert districts == {"No district recorded": ["4.5"]}


def test_lots_and_retirements_are_listed(client, auditor, lot):  # noqa: F811
    r = client.post(f"{LOTS}/{lot['id']}/retirements",
                    json={"quantity": 2, "beneficiary": "Suzhou marathon 2026",
                          "purpose": "Event neutrality"}, headers=auditor.headers)
    assert r.status_code == 201, r.json
    html = client.get("/?lang=en").get_data(as_text=True)
    assert lot["serials"] in html and "positive" in html
    assert "Suzhou marathon 2026" in html and "Event neutrality" in html
    assert serial(lot, 1) + "-" + f"{2:09d}" in html  # the retired run of serials
    assert "the scheme&#39;s issuance account" in html


# --- serial lookup ----------------------------------------------------------------------------

def test_a_valid_serial_is_shown_and_nothing_changes(client, app, auditor, lot):  # noqa: F811
    client.post(f"{LOTS}/{lot['id']}/retirements",
                json={"quantity": 2, "beneficiary": "City Zoo", "purpose": "Open day"},
                headers=auditor.headers)
    before = all_table_counts(app)
    r = client.get(f"/verify?serial={serial(lot, 1)}&lang=en")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "public, max-age=60"
    html = r.get_data(as_text=True)
    assert f"Serial {serial(lot, 1)} is genuine." in html
    assert "retired" in html and "City Zoo" in html and "SH-METRO v1" in html
    chinese = client.get(f"/verify?serial={serial(lot, 5)}").get_data(as_text=True)
    assert "有效" in chinese and 'lang="zh-CN"' in chinese
    assert all_table_counts(app) == before


def test_an_unknown_serial_is_404_and_a_malformed_one_422(client, app, lot):  # noqa: F811
    before = all_table_counts(app)
    unknown = client.get(f"/verify?serial={serial(lot, 999)}&lang=en")
    assert unknown.status_code == 404 and "was not found" in unknown.get_data(as_text=True)
    assert "Cache-Control" not in unknown.headers
    for text in ("nonsense", "CC-SH-METRO-2026-5", "CC-SH-METRO-2026-000000009-000000001",
                 "<script>alert(1)</script>", "C" * 500):
        r = client.get("/verify", query_string={"serial": text, "lang": "en"})
        assert r.status_code == 422, text
        html = r.get_data(as_text=True)
        assert "is not a serial number" in html and "<script>alert" not in html
        assert 'aria-invalid="true"' in html
    assert all_table_counts(app) == before


def test_the_lookup_form_alone_is_200(client):
    r = client.get("/verify?lang=en")
    assert r.status_code == 200 and 'for="serial"' in r.get_data(as_text=True)


def test_the_page_charts_are_well_formed_svg(client, city, threshold):  # noqa: F811
    threshold(2)
    found = charts(client.get("/").get_data(as_text=True))
    assert len(found) == 3
    for title, figure in found.items():
        svg = figure.find(f"{SVG}svg")
        assert svg.get("role") == "img" and svg.find(f"{SVG}desc").text
        assert figure.find("details/table/caption").text == title
