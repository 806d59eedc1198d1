"""The API document's two readers, Swagger UI (`/api/docs`) and ReDoc (`/api/docs/redoc`), served
with their assets from a pinned Python package, so they work offline and behind the city's
network (no CDN).

The assets come from `drf-spectacular-sidecar` (Swagger UI 5 and ReDoc 2, re-published monthly
from npm with their licences). It is read as a directory of files and never imported, so the
Django it declares is never loaded. The pages carry no inline script: Swagger UI is started by
our own `swagger-init.js`, which reads the document's address from a data attribute; ReDoc reads
its `spec-url` attribute itself. Their Content-Security-Policy allows scripts from us only.
"""
from __future__ import annotations

import importlib.util
import pathlib

from flask import Blueprint, abort, send_from_directory, url_for
from markupsafe import escape

ASSET_PACKAGE = "drf_spectacular_sidecar"
HERE = pathlib.Path(__file__).resolve().parent
# Served name -> (directory, file): the only files this blueprint serves.
_SIDECAR = ("static", "drf_spectacular_sidecar")
ASSETS = {
    "swagger-ui.css": (*_SIDECAR, "swagger-ui-dist", "swagger-ui.css"),
    "swagger-ui-bundle.js": (*_SIDECAR, "swagger-ui-dist", "swagger-ui-bundle.js"),
    "swagger-ui.LICENSE": (*_SIDECAR, "swagger-ui-dist", "LICENSE"),
    "favicon-32x32.png": (*_SIDECAR, "swagger-ui-dist", "favicon-32x32.png"),
    "redoc.standalone.js": (*_SIDECAR, "redoc", "bundles", "redoc.standalone.js"),
    "redoc.LICENSE": (*_SIDECAR, "redoc", "LICENSE"),
}
OWN_ASSETS = {"swagger-init.js": HERE / "static" / "docs" / "swagger-init.js"}

_COMMON_POLICY = ("default-src 'none'", "script-src 'self'", "img-src 'self' data:",
                  "connect-src 'self'", "font-src 'self' data:", "form-action 'none'",
                  "frame-ancestors 'none'", "base-uri 'none'")
# ReDoc styles itself with <style> elements it writes at run time (styled-components) and
# searches in a worker it starts from a blob: URL; Swagger UI needs neither.
CONTENT_SECURITY_POLICY = {
    "swagger": "; ".join((*_COMMON_POLICY, "style-src 'self'")),
    "redoc": "; ".join((*_COMMON_POLICY, "style-src 'self' 'unsafe-inline'",
                        "worker-src blob:")),
}

blueprint = Blueprint("api_docs_ui", __name__, url_prefix="/api/docs")


def package_root() -> pathlib.Path:
    """Where the asset package is installed (found without importing it)."""
    spec = importlib.util.find_spec(ASSET_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{ASSET_PACKAGE} is not installed (requirements.txt)")
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def asset_path(name: str) -> pathlib.Path:
    if name in OWN_ASSETS:
        return OWN_ASSETS[name]
    return package_root().joinpath(*ASSETS[name])


_SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" href="{favicon}">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec_url}"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""

_REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="{favicon}">
</head>
<body>
<redoc spec-url="{spec_url}"></redoc>
<script src="{bundle}"></script>
</body>
</html>
"""


def _page(template: str, policy: str, **urls):
    asset = {key: escape(url_for("api_docs_ui.asset", name=name)) for key, name in urls.items()}
    html = template.format(title="carbon_credits API", spec_url=escape(_spec_url()),
                           favicon=escape(url_for("api_docs_ui.asset", name="favicon-32x32.png")),
                           **asset)
    return html, 200, {"Content-Type": "text/html; charset=utf-8",
                       "Content-Security-Policy": CONTENT_SECURITY_POLICY[policy],
                       "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
                       "Cache-Control": "no-cache"}


def _spec_url() -> str:
    return url_for("api-docs.openapi_json")


@blueprint.get("")
def swagger_ui():
    """Swagger UI over the live OpenAPI document."""
    return _page(_SWAGGER_PAGE, "swagger", css="swagger-ui.css", bundle="swagger-ui-bundle.js",
                 init="swagger-init.js")


@blueprint.get("/redoc")
def redoc():
    """ReDoc over the live OpenAPI document."""
    return _page(_REDOC_PAGE, "redoc", bundle="redoc.standalone.js")


@blueprint.get("/assets/<name>")
def asset(name: str):
    """One of the listed asset files; anything else is 404."""
    if name not in ASSETS and name not in OWN_ASSETS:
        abort(404)
    path = asset_path(name)
    mimetype = "text/plain" if name.endswith(".LICENSE") else None
    # Versioned with the pinned package: a day's caching, revalidated after.
    return send_from_directory(path.parent, path.name, mimetype=mimetype, max_age=86400)
