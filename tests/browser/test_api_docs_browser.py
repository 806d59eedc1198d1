"""The API document's readers render in Chromium under their Content-Security-Policy, from our
own assets only: no console error (a refused script or style would be one), no failed request,
and nothing fetched from another host."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.support import expect


def _hosts_asked(page, path: str) -> set[str]:
    """Every host the page asked for (blob: and data: URLs have none)."""
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    response = page.goto(path)
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return hosts


def test_swagger_ui_renders_the_document_offline(page, live_server):
    hosts = _hosts_asked(page, "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("carbon_credits")
    expect(page.locator('.opblock-summary-path[data-path="/api/v1/auth/register"]')).to_be_visible()
    # Swagger UI renders only what is in view; the whole live document is loaded.
    assert page.evaluate("window.ui.specSelectors.specJson().get('paths').size") > 100
    assert page.evaluate("window.ui.specSelectors.specJson().getIn(['components', 'schemas', "
                         "'ActionClaim', 'discriminator', 'propertyName'])") == "action_type"
    page.wait_for_load_state("networkidle")
    assert hosts - {""} == {urlsplit(live_server.url).netloc}


# ReDoc 2 always draws its vendor's logo from its CDN in the menu's footer: the page's CSP
# refuses it before any request leaves the browser, and the image hides itself on error.
@pytest.mark.allow_console_errors(r"https://cdn\.redoc\.ly/redoc/logo-mini\.svg")
def test_redoc_renders_the_document_offline(page, live_server, page_errors):
    hosts = _hosts_asked(page, "/api/docs/redoc")
    # ReDoc lays out all of a 160-operation document before it shows any: slow on a small,
    # busy machine.
    expect(page.get_by_role("menuitem", name="actions", exact=True)).to_be_visible(timeout=90_000)
    expect(page.locator("h1").first).to_contain_text("carbon_credits", timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert hosts - {""} <= {urlsplit(live_server.url).netloc, "cdn.redoc.ly"}
    refused = [p for p in page_errors.problems if "cdn.redoc.ly" in str(p)]
    assert all("Content Security Policy" in str(p) or str(p).endswith(": csp") for p in refused)
