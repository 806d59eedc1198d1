"""The console at /console/: server-rendered pages for the people who run the scheme (admins,
auditors, verifiers) and for merchants' staff (docs/console.md).

Each page calls the same services as the JSON API, under the same access rule as the API
operation it mirrors (api/console/access.py). Sign-in uses the same accounts, throttles and
session table as the API (api/console/session.py). Pages are Jinja2 templates; htmx (vendored in
/static) swaps parts of a page; no front-end build step, nothing from a CDN.
"""
from __future__ import annotations

from api.console.blueprint import blueprint
from api.console.pages import desk, home, methodologies, oversight, reports, reviews

# Importing the page modules adds their routes to the blueprint.
PAGES = (desk, home, methodologies, oversight, reports, reviews)
__all__ = ["blueprint", "PAGES"]
