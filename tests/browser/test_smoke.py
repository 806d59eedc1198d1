"""The browser-test machinery itself: Chromium loads the public page from the live server under
its Content-Security-Policy without a single console error, and what a page must not do (a CSP
violation, an uncaught exception, a missing asset) is caught."""
from __future__ import annotations

import pytest
from tests.browser.support import expect, screenshot


def test_the_public_page_loads_without_a_console_error(page):
    response = page.goto("/")

    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("碳普惠")
    # The stylesheet and the scripts came from /static under the CSP (a refused or missing one
    # would be a console error, and fail this test after it).
    assert page.evaluate("typeof window.htmx") == "object"
    assert screenshot(page, "public-page-smoke").stat().st_size > 0


def test_a_csp_violation_is_caught(page, page_errors):
    page.goto("/")
    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("""() => {
            const s = document.createElement("script");
            s.textContent = "window.injected = true";
            document.body.append(s);
        }""")

    assert page.evaluate("window.injected") is None  # the CSP refused it
    assert [p.kind for p in page_errors.problems] == ["console"]
    assert "Content Security Policy" in page_errors.problems[0].text
    with pytest.raises(pytest.fail.Exception, match="Content Security Policy"):
        page_errors.check()
    page_errors.clear()  # seen; this test must pass


def test_an_uncaught_exception_is_caught(page, page_errors):
    page.goto("/")
    with page.expect_event("pageerror"):
        page.evaluate("() => { setTimeout(() => { throw new Error('boom'); }, 0); }")

    assert [str(p) for p in page_errors.problems] == ["pageerror: Error: boom"]
    with pytest.raises(pytest.fail.Exception, match="boom"):
        page_errors.check()
    page_errors.clear()


@pytest.mark.allow_console_errors(r"/static/no-such-asset\.png")
def test_a_missing_asset_is_caught_and_can_be_allowed(page, page_errors):
    page.goto("/")
    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("""() => {
            const img = new Image();
            img.src = "/static/no-such-asset.png";
            document.body.append(img);
        }""")

    assert len(page_errors.problems) == 1 and "404" in page_errors.problems[0].text
    assert page_errors.unexpected() == []  # allowed by the marker: the test passes


def test_the_live_server_serves_the_tests_database(page, actors):
    citizen = actors.user("citizen")

    response = page.request.get("/api/v1/me", headers=citizen.headers)

    assert response.status == 200, response.text()
    assert response.json()["email"] == citizen.email
