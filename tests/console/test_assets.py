"""The pages' assets: everything is served by the application (no CDN), the vendored libraries
are the recorded bytes, and no template carries inline script or style the CSP would block."""
from __future__ import annotations

import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "api" / "templates"
STATIC = ROOT / "api" / "static"
VENDOR = STATIC / "vendor"


def _templates():
    return sorted(TEMPLATES.rglob("*.html"))


def test_vendored_libraries_are_the_recorded_bytes():
    recorded = re.findall(r"^\| (\S+\.js) \|.*\| ([0-9a-f]{64}) \|$",
                          (VENDOR / "VENDORED.md").read_text(), re.M)
    assert {name for name, _ in recorded} == {p.name for p in VENDOR.glob("*.js")}
    for name, digest in recorded:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_no_template_or_asset_loads_anything_from_another_origin():
    offenders = []
    for path in [*_templates(), *STATIC.rglob("*.css"), *(STATIC / "js").rglob("*.js")]:
        for match in re.finditer(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""",
                                 path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert not offenders


def test_no_template_has_inline_script_style_or_handlers():
    offenders = []
    for path in _templates():
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\sstyle\s*=", r"<style\b",
                        r"\son[a-z]+\s*=", r"javascript:", r"\bhx-on", r"""["']js:"""):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}"
                          for m in re.finditer(pattern, text, re.I)]
    assert not offenders
