"""The public page (`/`) in a real browser (issue 19): Chinese by default, its charts drawn as
inline SVG from real credited actions, the switch to English, the serial lookup with the
keyboard only, and WCAG AA contrast computed in the browser on what it actually renders.

`assert_wcag_aa(page, where)` is used by the console journeys too."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.api.test_actions import BATCH, operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (SHANGHAI, auditor, last_month,  # noqa: F401
                                         long_claim_window, lot, metro_month, serial, verifier)
from tests.browser.support import expect, screenshot

# For every rendered element with text of its own: its colour and the background it is drawn
# on (the first opaque background-color up its ancestors, the translucent ones composited over
# it; the canvas is white), and the WCAG 2.x contrast ratio of the two. Large text (24 px, or
# 18.66 px bold) needs 3:1, other text 4.5:1. SVG text counts with its fill. Text nobody can
# see is skipped: not rendered, off screen (the skip link until focused) or clipped to 1 px
# (.visually-hidden, for screen readers).
CONTRAST_JS = r"""() => {
  const SKIP = new Set(["SCRIPT", "STYLE", "TITLE", "DESC", "OPTION", "TEMPLATE", "NOSCRIPT",
                        "HEAD", "META", "LINK"]);
  const VALUE_INPUTS = new Set(["text", "search", "email", "tel", "url", "number", "password",
                                "date", "datetime-local", ""]);
  function parse(text) {
    const m = /rgba?\(([^)]*)\)/.exec(text || "");
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  }
  function over(top, bottom) {
    const a = top.a;
    return {r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a),
            b: top.b * a + bottom.b * (1 - a), a: 1};
  }
  function luminance(c) {
    const f = v => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function ratio(x, y) {
    const a = luminance(x), b = luminance(y);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }
  function hex(c) {
    return "#" + [c.r, c.g, c.b].map(v => Math.round(v).toString(16).padStart(2, "0")).join("");
  }
  function background(element) {
    const layers = [];
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage && style.backgroundImage !== "none") {
        return {image: node.tagName.toLowerCase() + (node.id ? "#" + node.id : "")};
      }
      const c = parse(style.backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let color = {r: 255, g: 255, b: 255, a: 1};
    for (let i = layers.length - 1; i >= 0; i--) color = over(layers[i], color);
    return {color};
  }
  function opacity(element) {
    let value = 1;
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      value *= parseFloat(getComputedStyle(node).opacity || "1");
    }
    return value;
  }
  function ownText(element) {
    if (element.tagName === "INPUT") {
      return VALUE_INPUTS.has((element.getAttribute("type") || "").toLowerCase())
        ? element.value : "";
    }
    if (element.tagName === "SELECT") {
      return element.selectedOptions.length ? element.selectedOptions[0].textContent : "";
    }
    if (element.tagName === "TEXTAREA") return element.value;
    let text = "";
    for (const child of element.childNodes) if (child.nodeType === 3) text += child.nodeValue;
    return text;
  }
  function where(element) {
    let path = [];
    for (let node = element; node && node.nodeType === 1 && path.length < 4;
         node = node.parentElement) {
      let part = node.tagName.toLowerCase();
      if (node.id) { part += "#" + node.id; path.unshift(part); break; }
      if (node.classList.length) part += "." + [...node.classList].join(".");
      path.unshift(part);
    }
    return path.join(" > ");
  }
  const failures = [];
  let checked = 0;
  const pageWidth = document.documentElement.scrollWidth;
  for (const element of document.body.querySelectorAll("*")) {
    if (SKIP.has(element.tagName.toUpperCase())) continue;
    if (element.closest("svg title, svg desc")) continue;
    const text = ownText(element).replace(/\s+/g, " ").trim();
    if (!text) continue;
    if (!element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true,
                                  opacityProperty: true, visibilityProperty: true})) continue;
    const box = element.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;                        // clipped away
    if (box.right + window.scrollX <= 0 || box.bottom + window.scrollY <= 0
        || box.left + window.scrollX >= pageWidth) continue;                // off screen
    const style = getComputedStyle(element);
    const isSvg = element instanceof SVGElement;
    let fg = parse(isSvg ? style.fill : style.color);
    if (!fg) continue;  // an SVG paint server (url(...)) or none: not a colour
    const bg = background(isSvg ? element.ownerSVGElement || element : element);
    checked++;
    const size = parseFloat(style.fontSize);
    const bold = parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (size >= 18.66 && bold);
    const needed = large ? 3 : 4.5;
    if (bg.image) {
      failures.push({text: text.slice(0, 60), where: where(element),
                     problem: "text on a background image: " + bg.image});
      continue;
    }
    fg = {...fg, a: fg.a * opacity(element)};
    const shown = over(fg, bg.color);
    const value = ratio(shown, bg.color);
    if (value + 1e-9 < needed) {
      failures.push({text: text.slice(0, 60), where: where(element), color: hex(shown),
                     background: hex(bg.color), ratio: Math.round(value * 100) / 100,
                     needed, font: size + "px " + style.fontWeight});
    }
  }
  return {checked, failures};
}"""


def contrast_report(page) -> dict:
    """{"checked": how many texts, "failures": [...]} for the page as it is now."""
    return page.evaluate(CONTRAST_JS)


def assert_wcag_aa(page, where: str, *, at_least: int = 5) -> int:
    """Every visible text on the page passes WCAG AA contrast; how many were checked."""
    report = contrast_report(page)
    assert report["checked"] >= at_least, f"{where}: only {report['checked']} texts checked"
    lines = "\n".join(f"  - {f}" for f in report["failures"])
    assert not report["failures"], (f"{where} ({page.url}): {len(report['failures'])} of "
                                    f"{report['checked']} texts fail WCAG AA contrast:\n{lines}")
    return report["checked"]


# The texts of each chart (axis labels, values) as drawn: pairs that overlap, and texts cut off
# by the edge of their SVG. Only a browser knows where text ends.
CHART_TEXT_JS = r"""() => {
  const SLACK = 3;
  const problems = [];
  for (const svg of document.querySelectorAll("figure svg[role='img']")) {
    const title = svg.querySelector(":scope > title").textContent;
    const frame = svg.getBoundingClientRect();
    const boxes = [...svg.querySelectorAll("text")]
      .map(t => ({text: t.textContent, box: t.getBoundingClientRect()}))
      .filter(t => t.text.trim() && t.box.width > 0);
    for (const t of boxes) {
      // a text's box is its glyphs' advance: a pixel or two past the ink, so SLACK
      const out = Math.max(frame.left - t.box.left, t.box.right - frame.right,
                           frame.top - t.box.top, t.box.bottom - frame.bottom);
      if (out > SLACK) {
        problems.push(`${title}: "${t.text}" is cut off by the edge of the chart `
                      + `(${out.toFixed(1)} px past it)`);
      }
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].box, b = boxes[j].box;
        const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (dx > SLACK && dy > SLACK) {
          problems.push(`${title}: "${boxes[i].text}" overlaps "${boxes[j].text}" `
                        + `(by ${dx.toFixed(1)} px)`);
        }
      }
    }
  }
  return problems;
}"""


def assert_chart_texts_readable(page, where: str) -> None:
    """No text of a chart overlaps another or runs off the chart."""
    problems = page.evaluate(CHART_TEXT_JS)
    assert not problems, f"{where}: " + "\n  ".join(["chart texts unreadable:", *problems])


# --- the data: credited actions enough to publish -----------------------------------------------

@pytest.fixture
def riders(app, client, actors, seeded, operator, long_claim_window):  # noqa: F811
    """PUBLIC_MIN_CITIZENS metro riders who rode last month and this month, and as many bus
    riders this month, all credited through the operator's signed batch: every cell of the
    open data is published, so the charts have bars and a line."""
    from carbon_credits.config import get_settings
    n = get_settings().public_min_citizens
    first_of_last_month, _ = last_month()
    end = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).replace(microsecond=0)
    start = end - dt.timedelta(minutes=20)
    now_window = {"started_at": start.isoformat(), "ended_at": end.isoformat()}
    records = []
    for i in range(n):
        for kind in ("metro", "bus"):
            citizen = actors.user("citizen")
            actors.bind(citizen, operator, f"P-{kind}-{i}")
            ref = {"external_ref": f"P-{kind}-{i}"}
            if kind == "metro":
                then = dt.datetime.combine(first_of_last_month + dt.timedelta(days=i % 28),
                                           dt.time(9), SHANGHAI)
                records.append({"action_type": "transit", "mode": "metro", "distance_km": 10,
                                "started_at": then.isoformat(),
                                "ended_at": (then + dt.timedelta(minutes=20)).isoformat(),
                                "external_id": f"P-metro-{i}-then", **ref})
                records.append({"action_type": "transit", "mode": "metro", "distance_km": 8,
                                **now_window, "external_id": f"P-metro-{i}-now", **ref})
            else:
                records.append({"action_type": "transit", "mode": "bus", "boardings": 1,
                                "occurred_at": end.isoformat(), "external_id": f"P-bus-{i}",
                                **ref})
    body = json.dumps({"records": records}).encode()
    r = client.post(BATCH, data=body, headers=operator.signed(body))
    assert [x["status"] for x in r.json["results"]] == ["credited"] * len(records), r.json
    return n


@pytest.fixture
def public_data(riders, lot):  # noqa: F811
    """The riders' actions, then last month's metro lot (verified positive) to look up."""
    return {"citizens": riders, "lot": lot}


# --- the page -------------------------------------------------------------------------------

def chart_facts(page) -> list[dict]:
    """Each chart of the page: its title, role, bars (width) and line points, and its table."""
    return page.evaluate("""() => [...document.querySelectorAll("figure.chart")].map(f => {
        const svg = f.querySelector("svg");
        return {
          title: svg.querySelector(":scope > title").textContent,
          role: svg.getAttribute("role"),
          labelled: (svg.getAttribute("aria-labelledby") || "").split(" ")
                      .every(id => id && document.getElementById(id)),
          bars: [...svg.querySelectorAll("rect[class^='series']")].map(r => r.getBBox().width),
          points: svg.querySelectorAll("circle[class^='series']").length,
          lines: [...svg.querySelectorAll("path.line")].map(p => p.getAttribute("d")),
          rows: [...f.querySelectorAll("details tbody tr")].map(
              tr => [...tr.children].map(c => c.textContent.trim())),
        };
    })""")


def test_the_public_page_in_chinese_with_its_charts_then_in_english(page, public_data):
    response = page.goto("/")
    assert response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_contain_text("碳普惠")
    headings = page.locator("h2").all_inner_texts()
    for heading in ("什么是碳普惠", "减排成果", "现行方法学", "核证减排量与注销",
                    "如何验证证书序列号", "开放数据"):
        assert heading in headings, headings
    expect(page.locator("#totals .cards .card")).to_have_count(4)

    charts = chart_facts(page)
    assert len(charts) == 3, [c["title"] for c in charts]
    assert all(c["role"] == "img" and c["labelled"] for c in charts), charts
    trend, scenes, districts = charts
    assert trend["title"] == "每月减排量"
    assert len(trend["rows"]) == 12, trend["rows"]  # the last 12 scheme months
    shown = [row for row in trend["rows"] if row[1] != "不公开"]  # a withheld month: a gap
    assert trend["points"] == len(shown) >= 2, trend
    assert any(value not in ("0", "–") for _, value in shown), trend["rows"]
    assert len(trend["lines"]) == 1 and " L" in trend["lines"][0], trend["lines"]
    assert scenes["title"] == "近 12 个月各场景减排量"
    assert {row[0] for row in scenes["rows"]} >= {"地铁", "公交"}, scenes["rows"]
    assert len(scenes["bars"]) >= 2 and all(width > 0 for width in scenes["bars"]), scenes
    assert districts["bars"] and all(width > 0 for width in districts["bars"]), districts
    expect(page.locator("#lots")).to_contain_text(public_data["lot"]["serials"])
    screenshot(page, "public-page")
    assert_wcag_aa(page, "public page, zh-CN", at_least=100)
    assert_chart_texts_readable(page, "public page, zh-CN")

    page.locator("a.lang-switch").click()
    expect(page).to_have_url(re.compile(r"/\?lang=en$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Methodologies in force")).to_be_visible()
    expect(page.get_by_role("heading", name="What the scheme is")).to_be_visible()
    english = chart_facts(page)
    assert [len(c["bars"]) for c in english] == [len(c["bars"]) for c in charts]
    assert "Metro" in {row[0] for row in english[1]["rows"]}
    screenshot(page, "public-page-en")
    assert_wcag_aa(page, "public page, en", at_least=100)
    assert_chart_texts_readable(page, "public page, en")

    page.locator("a.lang-switch").click()  # and back
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def serial_box(page, label: str):
    """The serial input, found by its label (the section around it is named alike)."""
    return page.get_by_role("textbox", name=re.compile("^" + re.escape(label)))


def test_the_skip_link_and_the_serial_lookup_work_with_the_keyboard(page, public_data):
    lot = public_data["lot"]
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, box  # shown when focused
    assert_wcag_aa(page, "public page, skip link focused")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    serial_field = serial_box(page, "证书序列号")
    for _ in range(150):  # on through the page, the way a keyboard user goes
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "serial":
            break
    expect(serial_field).to_be_focused()
    page.keyboard.type(serial(lot, 1))
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/verify\?"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("status")).to_have_text(f"序列号 {serial(lot, 1)} 有效。")
    expect(page.locator(".lookup-result")).to_contain_text(lot["serials"])
    expect(serial_box(page, "证书序列号")).to_have_value(serial(lot, 1))
    assert_wcag_aa(page, "serial lookup result")
    screenshot(page, "public-serial-lookup")


@pytest.mark.allow_console_errors(r"status of 422 .*/verify\?")
def test_a_malformed_serial_is_explained_with_enough_contrast(page, page_errors):
    page.goto("/?lang=en")
    field = serial_box(page, "Certificate serial")
    field.focus()
    page.keyboard.type("not-a-serial")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("is not a serial number")
    expect(serial_box(page, "Certificate serial")).to_have_attribute("aria-invalid", "true")
    assert_wcag_aa(page, "serial lookup refused")
    assert [p.kind for p in page_errors.problems] == ["console"]  # the 422, nothing else


def test_the_contrast_check_catches_low_contrast_text(page):
    """The check itself: grey #949494 on white is 3.03:1, too little for body text and
    enough for large text; white on the brand colour passes."""
    page.goto("/?lang=en")
    page.evaluate("""() => {
        const add = (text, color, size, background) => {
            const p = document.createElement("p");
            p.textContent = text;
            p.style.color = color;          // CSSOM: allowed under the CSP
            if (size) p.style.fontSize = size;
            if (background) p.style.backgroundColor = background;
            document.querySelector("main").append(p);
        };
        add("faint small text", "#949494");
        add("faint large text", "#949494", "24px");
        add("half-transparent panel", "#1b2a22", "", "rgba(11, 110, 79, 0.5)");
    }""")
    failures = contrast_report(page)["failures"]
    assert [f["text"] for f in failures] == ["faint small text"], failures
    assert failures[0]["ratio"] == 3.03 and failures[0]["needed"] == 4.5
