"""The public page at `/`: what the scheme is and what it achieved, for anyone, no login
(docs/public-page.md). Rendered on the server from the same services as the open-data API
(api/site/content.py), in Chinese unless English is asked for (`?lang=en` or the browser's
Accept-Language). Query parameters other than `lang` (and `serial` on /verify) are ignored:
this is a page, not the JSON API that refuses them."""
from __future__ import annotations

import hashlib

from flask import Blueprint, make_response, render_template, request

from api.pages import chosen_language, harden_page
from api.site import content
from api.site.texts import texts
from carbon_credits.config import get_settings

blueprint = Blueprint("site", __name__)
blueprint.after_request(harden_page)

CACHE_SECONDS = 60


@blueprint.get("/")
def home():
    """The public page: the scheme, its figures, methodologies, lots and serial lookup."""
    lang = chosen_language()
    page = render_template(
        "site/home.html", **_common(lang, {}), totals=content.totals_section(lang),
        methodologies=content.methodologies_section(lang), registry=content.lots_section(lang),
        points_per_gram=get_settings().points_per_gram)
    return _cacheable(page, 200)


@blueprint.get("/verify")
def verify():
    """Look up a certificate serial: 200 found, 404 never issued, 422 not a serial."""
    lang = chosen_language()
    serial = request.args.get("serial", "").strip()
    status, result = content.serial_lookup(serial, lang) if serial else (200, None)
    keep = {"serial": serial} if serial else {}
    page = render_template("site/verify.html", **_common(lang, keep), serial=serial,
                           result=result, status=status)
    return _cacheable(page, status)


def _common(lang: str, switch_args: dict) -> dict:
    """What the frame needs; `switch_args`: the query kept when switching language."""
    return {"lang": lang, "t": texts(lang), "page_lang": texts(lang)["html_lang"],
            "switch_args": switch_args}


def _cacheable(page: str, status: int):
    """A found page is public for a minute, with an ETag (304 when unchanged); an error page
    is answered afresh. The language follows Accept-Language, so caches key on it."""
    response = make_response(page, status)
    response.vary.add("Accept-Language")
    if status != 200:
        return response
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)
