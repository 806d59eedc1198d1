"""Charts drawn on the server as inline SVG, for the public page and the console's reports.

The Content-Security-Policy (api/pages.py) allows no inline style and no script, so a chart is
plain markup: presentation attributes for geometry and CSS classes from app.css for colour
(`series-1`..`series-6`, `axis`, `grid`, `line`). Nothing here reads a request or a database.

    bar_chart(title, labels, values, *, unit, series_class="series-1", description=None,
              label_heading="", value_heading="", table_summary="Data table",
              missing="–") -> Markup
        Horizontal bars, one per label, each with its value written at its end. A value of
        None (a figure withheld, e.g. a suppressed cell of the open data) draws no bar and
        writes `missing` instead. Bars start at zero (values below it draw none); a label too
        long for the left margin is shortened there with "…". The table's columns are headed
        `label_heading` and "`value_heading` (`unit`)".

    line_chart(title, x_labels, series, *, unit, description=None, label_heading="",
               table_summary="Data table", missing="–") -> Markup
        `series` is a list of (name, values), one value per x label; a None value leaves a
        gap in its line. Series take the classes series-1, series-2, ... in order; with more
        than one, a legend names them. The table has a row per x label (headed
        `label_heading`) and a column per series, "name (unit)".

Both return a `<figure class="chart">` holding the `<svg role="img">` (its `<title>` and
`<desc>` are its accessible name and description) and the same figures as a table inside a
`<details>`, for screen readers and for anyone who wants the numbers. Values are ints or
Decimals (never floats), shown with thousands separators and as given, so convert units
(grams to kg, ...) with Decimal before calling. Every text is escaped (markupsafe) and the
result is well-formed XML. Element ids derive from the content, so the same chart renders the
same bytes (stable ETags) — render one chart once per page.
"""
from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from markupsafe import Markup, escape

Number = int | Decimal
WIDTH = 640
BAR_HEIGHT = 24
BAR_GAP = 10
PLOT_HEIGHT = 220
MARGIN = 12
TICKS = 4
SERIES_CLASSES = 6


def bar_chart(title: str, labels: Sequence[str], values: Sequence[Number | None], *, unit: str,
              series_class: str = "series-1", description: str | None = None,
              label_heading: str = "", value_heading: str = "",
              table_summary: str = "Data table", missing: str = "–") -> Markup:
    """A horizontal bar chart with value labels, and its data as a table."""
    if len(labels) != len(values):
        raise ValueError("one value per label")
    _refuse_floats(values)
    ident = _ident("bar", title, labels, values, unit)
    label_width = min(240, max([_text_width(str(x)) for x in labels] + [40]) + 12)
    value_width = max([_text_width(_value_text(v, unit, missing)) for v in values] + [40]) + 8
    plot_left, plot_width = label_width, WIDTH - label_width - value_width
    top = MARGIN
    height = top + len(labels) * (BAR_HEIGHT + BAR_GAP) + 24
    scale = _nice_ceiling(max([v for v in values if v is not None] + [0]))
    parts = _grid_vertical(plot_left, plot_width, top, height - 24, scale)
    for index, (label, value) in enumerate(zip(labels, values)):
        y = top + index * (BAR_HEIGHT + BAR_GAP)
        middle = y + BAR_HEIGHT // 2 + 4
        parts.append(f'<text x="{plot_left - 8}" y="{middle}" text-anchor="end">'
                     f'{escape(_fit(label, label_width - 12))}</text>')
        length = max(_scaled(value or 0, scale, plot_width), Decimal(0))
        text = _value_text(value, unit, missing)
        if value is not None:
            parts.append(f'<rect class="{escape(series_class)}" x="{plot_left}" y="{y}" '
                         f'width="{length}" height="{BAR_HEIGHT}">'
                         f'<title>{escape(label)}: {escape(text)}</title></rect>')
        parts.append(f'<text x="{_num(Decimal(plot_left) + length + 6)}" y="{middle}">'
                     f'{escape(text)}</text>')
    parts.append(f'<line class="axis" x1="{plot_left}" y1="{top - 4}" x2="{plot_left}" '
                 f'y2="{height - 24}"/>')
    desc = description or _describe(labels, values, unit, missing)
    svg = _svg(ident, title, desc, height, parts)
    rows = [(label, [_cell(v, missing)]) for label, v in zip(labels, values)]
    heading = f"{value_heading} ({unit})" if value_heading else unit
    table = _table(title, label_heading, [heading], rows, table_summary)
    # Every piece of text in svg and table went through escape() above.
    return Markup(f'<figure class="chart" id="{ident}">{svg}{table}</figure>')  # nosec B704


def line_chart(title: str, x_labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[Number | None]]], *, unit: str,
               description: str | None = None, label_heading: str = "",
               table_summary: str = "Data table", missing: str = "–") -> Markup:
    """A line chart over `x_labels` (months, ...), gaps where a value is None."""
    if any(len(values) != len(x_labels) for _, values in series):
        raise ValueError("one value per x label in every series")
    for _, values in series:
        _refuse_floats(values)
    ident = _ident("line", title, x_labels, series, unit)
    found = [v for _, values in series for v in values if v is not None]
    scale = _nice_ceiling(max(found + [0]))
    plot_left = max(_text_width(_number_text(scale)) + 16, 48)
    # The latest label is centred on the right edge of the plot: leave room for its half.
    label_width = max((_text_width(label) for label in x_labels), default=0)
    plot_width = WIDTH - plot_left - max(24, label_width // 2 + 4)
    top, bottom = MARGIN + 8, MARGIN + 8 + PLOT_HEIGHT
    parts = _grid_horizontal(plot_left, plot_width, top, bottom, scale, unit)
    step = Decimal(plot_width) / max(len(x_labels) - 1, 1)
    xs = [Decimal(plot_left) + step * i for i in range(len(x_labels))]
    # Name every n-th x, n such that two named ones are a label's width and a gap apart.
    every = max(1, -(-(label_width + 12) // max(int(step), 1)))
    for i, label in enumerate(x_labels):
        if (len(x_labels) - 1 - i) % every == 0:  # counted from the end: the latest is named
            parts.append(f'<text x="{_num(xs[i])}" y="{bottom + 18}" text-anchor="middle">'
                         f'{escape(label)}</text>')
    for n, (name, values) in enumerate(series):
        css = f"series-{n % SERIES_CLASSES + 1}"
        points = [(xs[i], Decimal(bottom) - _scaled(v, scale, PLOT_HEIGHT)) if v is not None
                  else None for i, v in enumerate(values)]
        parts.append(f'<path class="{css} line" d="{_path(points)}"/>')
        for i, point in enumerate(points):
            if point is not None:
                tip = f"{name} {x_labels[i]}: {_value_text(values[i], unit, missing)}"
                parts.append(f'<circle class="{css}" cx="{_num(point[0])}" cy="{_num(point[1])}" '
                             f'r="4"><title>{escape(tip)}</title></circle>')
    desc = description or "; ".join(f"{name}: {_describe(x_labels, values, unit, missing)}"
                                     for name, values in series)
    svg = _svg(ident, title, desc, bottom + 28, parts)
    rows = [(label, [_cell(values[i], missing) for _, values in series])
            for i, label in enumerate(x_labels)]
    table = _table(title, label_heading, [f"{name} ({unit})" for name, _ in series], rows,
                   table_summary)
    legend = _legend(series)  # escaped, like every text of svg and table
    return Markup(f'<figure class="chart" id="{ident}">{svg}{legend}{table}</figure>')  # nosec B704


# --- pieces -------------------------------------------------------------------------------------

def _svg(ident: str, title: str, desc: str, height: int, parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{ident}-title {ident}-desc">'
            f'<title id="{ident}-title">{escape(title)}</title>'
            f'<desc id="{ident}-desc">{escape(desc)}</desc>{"".join(parts)}</svg>')


def _grid_vertical(left: int, width: int, top: int, bottom: int, scale: Decimal) -> list[str]:
    """Vertical grid lines and their values under the plot (bar charts)."""
    parts = []
    for i in range(TICKS + 1):
        x = _num(Decimal(left) + Decimal(width) * i / TICKS)
        parts.append(f'<line class="grid" x1="{x}" y1="{top - 4}" x2="{x}" y2="{bottom}"/>')
        parts.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">'
                     f'{escape(_number_text(_tick(scale, i)))}</text>')
    return parts


def _grid_horizontal(left: int, width: int, top: int, bottom: int, scale: Decimal,
                     unit: str) -> list[str]:
    """Horizontal grid lines with their values at the left, and the axes (line charts)."""
    parts = [f'<text x="{left}" y="{top - 8}" text-anchor="start">{escape(unit)}</text>']
    for i in range(TICKS + 1):
        y = _num(Decimal(bottom) - Decimal(bottom - top) * i / TICKS)
        parts.append(f'<line class="grid" x1="{left}" y1="{y}" x2="{left + width}" y2="{y}"/>')
        parts.append(f'<text x="{left - 6}" y="{y}" dy="4" text-anchor="end">'
                     f'{escape(_number_text(_tick(scale, i)))}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{bottom}" x2="{left + width}" '
                 f'y2="{bottom}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>')
    return parts


def _table(title: str, label_heading: str, headings: list[str], rows, summary: str) -> str:
    head = "".join(f'<th scope="col" class="num">{escape(h)}</th>' for h in headings)
    body = "".join(f'<tr><th scope="row">{escape(label)}</th>'
                   + "".join(f'<td class="num">{escape(cell)}</td>' for cell in cells) + "</tr>"
                   for label, cells in rows)
    return (f'<details class="chart-data"><summary>{escape(summary)}</summary><table>'
            f'<caption>{escape(title)}</caption><thead><tr><th scope="col">'
            f'{escape(label_heading)}</th>{head}</tr></thead><tbody>{body}</tbody></table>'
            f'</details>')


def _legend(series) -> str:
    if len(series) < 2:
        return ""
    items = "".join(f'<li><span class="swatch series-{n % SERIES_CLASSES + 1}" '
                    f'aria-hidden="true"></span>{escape(name)}</li>'
                    for n, (name, _) in enumerate(series))
    return f'<ul class="legend">{items}</ul>'


def _path(points) -> str:
    """`M x y L x y ...`, starting a new stroke after each gap (a lone point draws no line)."""
    commands, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{_num(point[0])} {_num(point[1])}")
        pen_down = True
    return " ".join(commands) or "M0 0"


# --- numbers ------------------------------------------------------------------------------------

def _refuse_floats(values) -> None:
    if any(isinstance(v, float) for v in values):
        raise TypeError("chart values are ints or Decimals, not floats")


def _nice_ceiling(value: Number) -> Decimal:
    """The smallest 1, 2, 3, 4, 5, 6 or 8 × 10^k not below `value` (1 for nothing to show):
    quarters of it are round numbers too."""
    value = Decimal(value)
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(1).scaleb(value.adjusted())
    for step in (1, 2, 3, 4, 5, 6, 8, 10):
        if value <= magnitude * step:
            return (magnitude * step).normalize()
    return magnitude * 10  # pragma: no cover - the loop ends at 10 × magnitude > value


def _tick(scale: Decimal, i: int) -> Decimal:
    return (scale * i / TICKS).normalize()


def _scaled(value: Number, scale: Decimal, length: int) -> Decimal:
    return (Decimal(value) / scale * length).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _num(value: Number) -> str:
    """A coordinate: one decimal at most, no exponent."""
    text = format(Decimal(value).quantize(Decimal("0.1"), ROUND_HALF_UP), "f")
    return text[:-2] if text.endswith(".0") else text


def _number_text(value: Number) -> str:
    if isinstance(value, Decimal):
        value = value if value != value.to_integral_value() else value.quantize(Decimal(1))
        return format(value, ",f")
    return format(value, ",")


def _value_text(value: Number | None, unit: str, missing: str) -> str:
    return missing if value is None else f"{_number_text(value)} {unit}".rstrip()


def _cell(value: Number | None, missing: str) -> str:
    return missing if value is None else _number_text(value)


def _describe(labels, values, unit: str, missing: str) -> str:
    return "; ".join(f"{label}: {_value_text(v, unit, missing)}"
                     for label, v in zip(labels, values))


def _fit(text: str, width: int) -> str:
    """`text` cut to about `width` pixels with an ellipsis (the table and tooltip have it whole)."""
    if _text_width(text) <= width:
        return text
    while text and _text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _text_width(text: str) -> int:
    """A guess at the rendered width at 12px: CJK glyphs are about twice as wide as Latin."""
    return sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)


def _ident(kind: str, *content) -> str:
    return f"chart-{kind}-" + hashlib.sha256(repr(content).encode()).hexdigest()[:10]
