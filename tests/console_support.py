"""Helpers for console tests: people of every role, signed in through the console's own form
with its CSRF token, each with their own cookie jar (a test client per person)."""
from __future__ import annotations

import html
import re

from tests.api.test_district_scoping import OWN, _grant

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/console/login") -> str:
    r = client.get(path)
    match = CSRF_META.search(r.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({r.status_code})"
    return html.unescape(match.group(1))


def sign_in(app, user, *, next_page: str | None = None):
    """A fresh browser (test client) signed in to the console as `user`."""
    browser = app.test_client()
    data = {"identifier": user.email, "password": user.password,
            "csrf_token": csrf_token(browser)}
    if next_page:
        data["next"] = next_page
    r = browser.post("/console/login", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return browser


def post(browser, path: str, data: dict | None = None, **kwargs):
    """A console form submission, with the session's CSRF token."""
    return browser.post(path, data={**(data or {}), "csrf_token": csrf_token(browser, "/console/")},
                        **kwargs)


def everyone(actors, client) -> dict:
    """One person per role, plus an admin and an auditor scoped to district OWN, keyed by a
    name: citizen, admin, auditor, merchant, verifier, district_admin, district_auditor."""
    people = actors.one_of_each_role()
    people["verifier"] = actors.user("verifier")
    second_admin = actors.user("admin")
    for role in ("admin", "auditor"):
        person = actors.user("citizen")
        _grant(client, people["admin"], second_admin, person, role, OWN)
        people[f"district_{role}"] = person
    return people
