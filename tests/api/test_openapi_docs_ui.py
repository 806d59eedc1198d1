"""The API document's readers work offline: Swagger UI and ReDoc and every asset they load are
served by us, from the pinned package, under a Content-Security-Policy without inline script."""
from __future__ import annotations

import re
import sys

import pytest

from tests.conftest import assert_problem

PAGES = {"/api/docs": "swagger", "/api/docs/redoc": "redoc"}
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _referenced_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href|spec-url|data-spec-url)="([^"]+)"', html)


@pytest.mark.parametrize("path", PAGES)
def test_docs_page_loads_only_our_own_assets(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert not re.search(r"(?:https?:)?//", html), "no URL to another host"
    urls = _referenced_urls(html)
    assert "/api/v1/openapi.json" in urls
    assets = [u for u in urls if u != "/api/v1/openapi.json"]
    assert assets and all(u.startswith("/api/docs/assets/") for u in assets)
    for url in assets:
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert asset.mimetype == CONTENT_TYPES[url[url.rfind("."):]], url
            assert len(asset.get_data()) > 0
    assert client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_docs_pages_allow_no_inline_script(client, path):
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", html) == [m for m in re.findall(r"<script[^>]*>", html)
                                                  if "src=" in m]
    assert "<style" not in html and " style=" not in html and " on" not in html.lower()
    policy = dict(part.strip().split(" ", 1) for part in
                  response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    if PAGES[path] == "swagger":
        assert policy["style-src"] == "'self'"


def test_swagger_ui_bundle_is_a_current_swagger_ui(client):
    with client.get("/api/docs/assets/swagger-ui-bundle.js") as bundle:
        assert "SwaggerUIBundle" in bundle.get_data(as_text=True)
    with client.get("/api/docs/assets/redoc.standalone.js") as bundle:
        assert "Redoc" in bundle.get_data(as_text=True)
    for licence in ("swagger-ui.LICENSE", "redoc.LICENSE"):
        with client.get(f"/api/docs/assets/{licence}") as response:
            assert response.mimetype == "text/plain"


@pytest.mark.parametrize("name", ["nope.js", "..%2f__init__.py", "index.html", "LICENSE"])
def test_only_listed_assets_are_served(client, name):
    assert_problem(client.get(f"/api/docs/assets/{name}"), 404)


def test_the_asset_package_is_read_not_imported(client):
    client.get("/api/docs")
    assert "drf_spectacular_sidecar" not in sys.modules
    assert "django" not in sys.modules
