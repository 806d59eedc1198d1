"""Every console route, walked with every role: a page opens for exactly the people who may
call the API operation it mirrors, and a refused request (403, or the sign-in page for nobody)
changes nothing. Routes added later are walked too: the list comes from the app's URL map."""
from __future__ import annotations

import uuid

import pytest
from werkzeug.routing import Rule

from api.auth import authorize
from api.console.access import rule_of
from carbon_credits.domain.errors import PermissionDenied
from tests.conftest import all_table_counts
from tests.console_support import csrf_token, everyone, sign_in

# The only console endpoints anyone may reach without a session.
OPEN_ENDPOINTS = {"console.sign_in", "console.sign_out"}
PLACEHOLDERS = {"UUIDConverter": lambda: str(uuid.uuid4()),
                "BoundedIntegerConverter": lambda: "1", "IntegerConverter": lambda: "1"}


def _console_rules(app) -> list[Rule]:
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint.startswith("console.")),
                  key=lambda r: (r.rule, sorted(r.methods)))


def _url(rule: Rule) -> str:
    values = {name: PLACEHOLDERS.get(type(rule._converters[name]).__name__, lambda: "X")()
              for name in rule.arguments}
    return rule.build(values)[1]


def _allowed(app, endpoint: str, user) -> bool:
    with app.test_request_context():
        try:
            for roles, district_scoped in rule_of(endpoint).requirements():
                authorize(user, roles, district_scoped)
        except PermissionDenied:
            return False
    return True


def test_every_console_route_declares_what_it_mirrors(app):
    undeclared = [r.endpoint for r in _console_rules(app)
                  if r.endpoint not in OPEN_ENDPOINTS and rule_of_app(app, r.endpoint) is None]
    assert not undeclared, f"console routes without @console_page: {undeclared}"


def rule_of_app(app, endpoint):
    with app.test_request_context():
        return rule_of(endpoint)


def _as_authenticated(app, person):
    from carbon_credits.services import auth
    with app.app_context():
        return auth.authenticate_access_token(person.access)[0]


@pytest.fixture
def people(app, actors, client):
    return everyone(actors, client)


def test_every_route_with_every_wrong_role_is_refused_and_changes_nothing(app, people):
    browsers = {name: sign_in(app, person) for name, person in people.items()
                if name != "citizen"}
    users = {name: _as_authenticated(app, person) for name, person in people.items()}
    walked = refused = 0
    for rule in _console_rules(app):
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        url = _url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for name, browser in browsers.items():
                if _allowed(app, rule.endpoint, users[name]):
                    continue
                before = all_table_counts(app)
                data = {"csrf_token": csrf_token(browser, "/console/")} if method != "GET" else None
                r = browser.open(url, method=method, data=data)
                assert r.status_code == 403, (name, method, url, r.status_code)
                assert all_table_counts(app) == before, (name, method, url)
                refused += 1
            walked += 1
    assert walked >= 10 and refused >= walked


def test_nobody_signed_in_is_sent_to_sign_in_and_nothing_changes(app):
    anonymous = app.test_client()
    token = csrf_token(anonymous)
    for rule in _console_rules(app):
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        url = _url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            before = all_table_counts(app)
            r = anonymous.open(url, method=method,
                               data={"csrf_token": token} if method != "GET" else None)
            assert r.status_code == 302, (method, url, r.status_code)
            assert r.headers["Location"].startswith("/console/login"), (method, url)
            assert all_table_counts(app) == before
    fragment = anonymous.get("/console/", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/console/login")


def test_a_citizen_cannot_even_sign_in(app, people):
    browser = app.test_client()
    r = browser.post("/console/login", data={
        "identifier": people["citizen"].email, "password": people["citizen"].password,
        "csrf_token": csrf_token(browser)})
    assert r.status_code == 403 and "citizens use the app" in r.get_data(as_text=True)


def test_docs_console_lists_every_console_route(app):
    import pathlib
    docs = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "console.md").read_text()
    missing = [r.rule for r in _console_rules(app) if f"`{r.rule}`" not in docs]
    assert not missing, f"docs/console.md does not list {missing}"
