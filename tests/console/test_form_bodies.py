"""Bad console form bodies get a 4xx and change nothing, whatever the bytes: not a form (415),
not UTF-8 (400), values PostgreSQL text cannot hold (422). Property-based over the body, and one
test per kind of refusal, including the NUL that used to reach the database through a reason."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import all_table_counts
from tests.console_support import csrf_token, sign_in


def _signed_in(app, actors):
    auditor = actors.user("auditor")
    browser = sign_in(app, auditor)
    return browser, csrf_token(browser, "/console/")


def test_a_nul_in_a_reason_is_422_and_reaches_no_table(app, actors):
    browser, token = _signed_in(app, actors)
    before = all_table_counts(app)
    r = browser.post("/console/adjustments/new", data={
        "csrf_token": token, "user_id": "00000000-0000-0000-0000-000000000001",
        "points": "5", "reason": "goodwill", "note": "a\x00b", "external_ref": "x-1"})
    assert r.status_code == 422 and 'data-problem="validation"' in r.get_data(as_text=True)
    assert all_table_counts(app) == before


def test_a_body_that_is_not_a_form_is_415(app, actors):
    browser, token = _signed_in(app, actors)
    before = all_table_counts(app)
    r = browser.post("/console/logout", data=b'{"csrf_token": "%s"}' % token.encode(),
                     content_type="application/json")
    assert r.status_code == 415
    assert all_table_counts(app) == before
    assert browser.get("/console/").status_code == 200  # not signed out


def test_a_form_that_is_not_utf8_is_400(app, actors):
    browser, token = _signed_in(app, actors)
    r = browser.post("/console/logout", data=b"csrf_token=" + token.encode() + b"&x=%ff%fe",
                     content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    assert browser.get("/console/").status_code == 200


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300),
       content_type=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data",
                                     "text/plain", "application/json"]))
def test_any_body_on_a_console_form_is_refused_with_a_4xx_and_changes_nothing(app, body,
                                                                            content_type):
    browser = app.test_client()
    csrf_token(browser)  # a session, as a browser that opened the sign-in page has
    before = all_table_counts(app)
    r = browser.post("/console/login", data=body, content_type=content_type)
    assert 400 <= r.status_code < 500, (r.status_code, body)
    assert all_table_counts(app) == before
