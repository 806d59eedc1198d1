"""Colour contrast of the pages' palette (WCAG 2.x, success criterion 1.4.3, level AA): every
text colour on the background it is used on reaches 4.5:1. Read from the `:root` custom
properties of app.css, so a palette change that breaks a pair fails here."""
from __future__ import annotations

import pathlib
import re

import pytest

CSS = pathlib.Path(__file__).resolve().parents[2] / "api" / "static" / "css" / "app.css"
AA_TEXT = 4.5

# (text, background): the pairs the stylesheet documents, then those the public page uses.
PAIRS = [
    ("ink", "paper"), ("ink-muted", "paper"), ("white", "brand"), ("white", "brand-dark"),
    ("white", "danger"), ("accent", "changed-bg"), ("ink", "panel"),
    ("ink-muted", "panel"),   # card labels
    ("brand", "paper"),       # links, the data-table toggles
    ("brand-dark", "paper"),  # links on hover
    ("brand", "panel"),       # links inside cards and notes
    ("ink", "ok-bg"),         # the serial lookup's "found"
    ("chart-1", "paper"), ("chart-2", "paper"),  # bars beside their value labels
]


def palette() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", CSS.read_text(encoding="utf-8"), flags=re.S).group(1)
    colours = dict(re.findall(r"--([a-z0-9-]+)\s*:\s*(#[0-9a-fA-F]{6})\b", root))
    return {**colours, "white": "#ffffff"}


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of an sRGB colour."""
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_formula_matches_known_ratios():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # famously just fails
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1)


@pytest.mark.parametrize("text, background", PAIRS)
def test_text_pairs_pass_wcag_aa(text, background):
    colours = palette()
    ratio = contrast(colours[text], colours[background])
    assert ratio >= AA_TEXT, f"{text} on {background}: {ratio:.2f}:1"
