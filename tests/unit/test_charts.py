"""Server-made SVG charts (api/charts.py): well-formed, accessible (role=img, title, desc, the
data as a table), styled by classes only (the CSP forbids inline style), exact numbers."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from markupsafe import Markup

from api.charts import bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup) -> ET.Element:
    assert isinstance(markup, Markup)
    return ET.fromstring(str(markup))


def rows(figure: ET.Element) -> list[list[str]]:
    return [[cell.text or "" for cell in row] for row in figure.iterfind("details/table/tbody/tr")]


def test_a_bar_chart_is_an_accessible_svg_with_its_data_as_a_table():
    figure = parsed(bar_chart("By scene", ["Metro", "Bus", "Bike"],
                              [Decimal("2910.5"), 1266, 12], unit="kg CO₂e",
                              label_heading="Scene", value_heading="Reductions"))
    assert figure.tag == "figure" and figure.get("class") == "chart"
    svg = figure.find(f"{SVG}svg")
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == "By scene"
    assert svg.find(f"{SVG}desc").text == ("Metro: 2,910.5 kg CO₂e; Bus: 1,266 kg CO₂e; "
                                           "Bike: 12 kg CO₂e")
    labelled_by = svg.get("aria-labelledby").split()
    assert labelled_by == [svg.find(f"{SVG}title").get("id"), svg.find(f"{SVG}desc").get("id")]
    bars = svg.findall(f"{SVG}rect")
    assert [b.get("class") for b in bars] == ["series-1"] * 3
    widths = [Decimal(b.get("width")) for b in bars]
    assert widths[0] > widths[1] > widths[2] > 0
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "2,910.5 kg CO₂e" in texts and "1,266 kg CO₂e" in texts
    assert figure.find("details/table/caption").text == "By scene"
    headings = [th.text for th in figure.iterfind("details/table/thead/tr/th")]
    assert headings == ["Scene", "Reductions (kg CO₂e)"]
    assert rows(figure) == [["Metro", "2,910.5"], ["Bus", "1,266"], ["Bike", "12"]]


def test_a_withheld_value_draws_no_bar_and_says_so():
    figure = parsed(bar_chart("By district", ["Gusu", "Wuzhong"], [Decimal("4.5"), None],
                              unit="kg", missing="withheld", series_class="series-2"))
    svg = figure.find(f"{SVG}svg")
    assert len(svg.findall(f"{SVG}rect")) == 1
    assert svg.find(f"{SVG}rect").get("class") == "series-2"
    assert "withheld" in [t.text for t in svg.iter(f"{SVG}text")]
    assert rows(figure) == [["Gusu", "4.5"], ["Wuzhong", "withheld"]]


def test_every_text_is_escaped():
    hostile = '<script>alert("x")</script> & co'
    markup = bar_chart(hostile, [hostile], [1], unit="<b>kg</b>")
    assert "<script>" not in markup and "<b>" not in markup
    figure = parsed(markup)
    assert figure.find(f"{SVG}svg/{SVG}title").text == hostile
    assert rows(figure) == [[hostile, "1"]]


def test_no_inline_style_anywhere():
    markups = [bar_chart("a", ["x"], [1], unit="g"),
               line_chart("b", ["1", "2"], [("s", [1, 2]), ("t", [2, None])], unit="g")]
    for markup in markups:
        assert "style" not in markup
        for element in parsed(markup).iter():
            assert not any(name.startswith("on") for name in element.attrib)


def test_a_line_chart_breaks_its_line_at_a_gap_and_names_its_series():
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    figure = parsed(line_chart("Per month", months,
                               [("Reductions", [Decimal("1.5"), None, 3, 4]),
                                ("Target", [2, 2, 2, 2])], unit="kg", label_heading="Month",
                               missing="withheld"))
    svg = figure.find(f"{SVG}svg")
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == "Per month"
    first, second = svg.findall(f"{SVG}path")
    assert first.get("class") == "series-1 line" and second.get("class") == "series-2 line"
    assert first.get("d").count("M") == 2 and second.get("d").count("M") == 1
    assert len(svg.findall(f"{SVG}circle")) == 7  # a marker per published value
    legend = [li.findtext("span") or "".join(li.itertext()) for li in figure.iterfind("ul/li")]
    assert legend == ["Reductions", "Target"]
    headings = [th.text or "" for th in figure.iterfind("details/table/thead/tr/th")]
    assert headings == ["Month", "Reductions (kg)", "Target (kg)"]
    assert rows(figure)[1] == ["2026-02", "withheld", "2"]


def test_a_single_series_has_no_legend_and_nothing_to_show_still_draws():
    figure = parsed(line_chart("Empty", ["2026-01", "2026-02"], [("x", [None, None])], unit="t"))
    assert figure.find("ul") is None
    assert figure.find(f"{SVG}svg/{SVG}path") is not None


def test_the_same_chart_renders_the_same_bytes_and_ids_differ_between_charts():
    a = bar_chart("a", ["x"], [1], unit="g")
    assert a == bar_chart("a", ["x"], [1], unit="g")
    assert parsed(a).get("id") != parsed(bar_chart("b", ["x"], [1], unit="g")).get("id")


def test_the_scale_is_a_round_number_above_the_largest_value():
    svg = parsed(bar_chart("a", ["x"], [970], unit="g")).find(f"{SVG}svg")
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
    assert ticks == ["0", "250", "500", "750", "1,000"]


def test_floats_and_mismatched_lengths_are_refused():
    with pytest.raises(TypeError):
        bar_chart("a", ["x"], [1.5], unit="g")
    with pytest.raises(TypeError):
        line_chart("a", ["x"], [("s", [0.1])], unit="g")
    with pytest.raises(ValueError):
        bar_chart("a", ["x", "y"], [1], unit="g")
    with pytest.raises(ValueError):
        line_chart("a", ["x", "y"], [("s", [1])], unit="g")


def test_a_long_label_is_shortened_in_the_drawing_but_whole_in_the_table():
    label = "Huqiu District (with Suzhou New District, 苏州高新区) and a great deal more"
    figure = parsed(bar_chart("a", [label], [1], unit="g"))
    drawn = [t.text for t in figure.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert drawn[0].endswith("…") and label.startswith(drawn[0][:-1])
    assert rows(figure) == [[label, "1"]]
