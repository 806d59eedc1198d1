"""Accessibility basics on every console page a person can open without an id in the path, and
on the public page: each form control has a label (or aria-label), each button has text, each
image-like SVG has a title, and the page has one h1, a language and a skip link."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.console_support import everyone, sign_in

CONTROLS = ("input", "select", "textarea")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.controls, self.labels, self.buttons, self.svgs = [], set(), [], []
        self.h1 = 0
        self.lang = None
        self._button = None
        self._svg = None
        self.skip_link = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        elif tag in CONTROLS and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append(a)
        elif tag == "button":
            self._button = {"attrs": a, "text": ""}
        elif tag == "svg" and a.get("role") == "img":
            self._svg = {"attrs": a, "title": False}
        elif tag == "title" and self._svg is not None:
            self._svg["title"] = True
        elif tag == "h1":
            self.h1 += 1
        elif tag == "a" and "skip-link" in (a.get("class") or ""):
            self.skip_link = True

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data

    def handle_endtag(self, tag):
        if tag == "button" and self._button is not None:
            self.buttons.append(self._button)
            self._button = None
        elif tag == "svg" and self._svg is not None:
            self.svgs.append(self._svg)
            self._svg = None


def _problems(html: str) -> list[str]:
    page = _Page()
    page.feed(html)
    problems = [f"control without a label: {c}" for c in page.controls
                if c.get("id") not in page.labels and not c.get("aria-label")
                and not c.get("aria-labelledby")]
    problems += [f"button without text: {b['attrs']}" for b in page.buttons
                 if not b["text"].strip() and not b["attrs"].get("aria-label")]
    problems += [f"svg without a title: {s['attrs']}" for s in page.svgs if not s["title"]]
    if page.h1 != 1:
        problems.append(f"{page.h1} h1 elements")
    if not page.lang or not page.skip_link:
        problems.append("no lang attribute or no skip link")
    return problems


@pytest.fixture
def people(app, actors, client):
    return everyone(actors, client)


def test_every_console_page_labels_its_controls(app, people):
    checked = 0
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("console.")
             and "GET" in r.methods and not r.arguments and not r.rule.endswith(".csv")]
    for name in ("admin", "auditor", "merchant", "verifier"):
        browser = sign_in(app, people[name])
        for rule in rules:
            r = browser.get(rule.rule)
            if r.status_code != 200:
                continue
            assert not _problems(r.get_data(as_text=True)), (name, rule.rule)
            checked += 1
    assert checked >= 12
    assert not _problems(app.test_client().get("/console/login").get_data(as_text=True))


@pytest.mark.parametrize("path", ["/", "/?lang=en", "/verify?serial=nonsense"])
def test_the_public_page_labels_its_controls(client, path):
    assert not _problems(client.get(path).get_data(as_text=True))
