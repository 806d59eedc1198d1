"""English and Simplified Chinese (docs/localisation.md): which one a request gets, and the
translation of the human-readable text the API sends.

One negotiation for the whole service: the JSON API reads `Accept-Language` only (default
English); the HTML pages (api/pages.py) let `?lang=` win and default to Chinese. Only text
meant for people is translated (problem titles and details, field messages, methodology
titles, notification messages); codes, enums, ids, amounts and stored English titles never
change with the language.
"""
from __future__ import annotations

import re

from flask import Flask, g, has_request_context, request
from flask_babel import Babel, get_translations

ENGLISH = "en"
CHINESE = "zh-CN"
# The Babel locale of each Content-Language we answer in; Babel resolves zh_CN to zh_Hans_CN,
# whose catalog lives in api/translations/zh_Hans_CN/LC_MESSAGES/messages.po.
BABEL_LOCALES = {ENGLISH: "en", CHINESE: "zh_Hans_CN"}
# Simplified Chinese as browsers and apps name it; zh-TW, zh-HK and zh-Hant are Traditional,
# which we do not write, so they fall through to the client's next preference.
_SIMPLIFIED_CHINESE = {("zh",), ("zh", "cn"), ("zh", "hans"), ("zh", "hans", "cn")}
MAX_HEADER_ENTRIES = 50  # a longer header is cut here: nobody prefers 50 languages
JSON_TYPES = ("application/json", "application/problem+json")


def N_(message: str) -> str:
    """Marks an English message for the catalog (`make i18n-extract`); translated when sent."""
    return message


def _language_of(tag: str) -> str | None:
    parts = tuple(tag.strip().lower().replace("_", "-").split("-"))
    if parts in _SIMPLIFIED_CHINESE:
        return CHINESE
    if parts[0] == "en":
        return ENGLISH
    return None


def _quality(params: list[str]) -> float | None:
    """The `q` of one entry (1 when absent); None when it is not a valid qvalue."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if 0 <= q <= 1 else None
    return 1.0


def negotiate_language(header: str | None) -> str | None:
    """The language of ours the client prefers most, by `q` (ties: the order written), from
    an Accept-Language value: "en", "zh-CN", or None when it names neither (or only `*`).
    Malformed entries are skipped, never an error."""
    ranked = []
    for position, entry in enumerate((header or "").split(",")[:MAX_HEADER_ENTRIES]):
        tag, *params = entry.split(";")
        quality = _quality(params)
        if tag.strip() and quality:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        language = _language_of(tag)
        if language:
            return language
    return None


def request_language() -> str:
    """The language of this API request's text: Accept-Language, else English."""
    if not has_request_context():
        return ENGLISH
    if "content_language" not in g:
        g.content_language = negotiate_language(request.headers.get("Accept-Language")) or ENGLISH
    return g.content_language


def _babel_locale() -> str:
    return BABEL_LOCALES[request_language()]


def in_chinese() -> bool:
    return request_language() == CHINESE


def localised(english: str | None, chinese: str | None) -> str | None:
    """The Chinese text when the client asked for Chinese and there is one, else the English."""
    return chinese if chinese and in_chinese() else english


# --- translating messages ---------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# id(translations) -> (translations, templates): the object is kept so its id is never reused.
_template_cache: dict[int, tuple[object, list[tuple[re.Pattern, str]]]] = {}


def _pattern(msgid: str) -> re.Pattern | None:
    """The regular expression an English message made from `msgid` matches (a placeholder
    named twice must match the same text twice); None if the msgid cannot make one."""
    pieces, last, named = [], 0, set()
    for match in _PLACEHOLDER.finditer(msgid):
        name = match.group(1)
        pieces.append(re.escape(msgid[last:match.start()].replace("%%", "%")))
        pieces.append(f"(?P={name})" if name in named else f"(?P<{name}>.+?)")
        named.add(name)
        last = match.end()
    pieces.append(re.escape(msgid[last:].replace("%%", "%")))
    try:
        return re.compile("".join(pieces), re.DOTALL)
    except re.error:
        return None


def _templates(translations) -> list[tuple[re.Pattern, str]]:
    """The catalog's translated templates, the most literal text first (most specific)."""
    key = id(translations)
    if key not in _template_cache:
        catalog = getattr(translations, "_catalog", {})
        templates = [(msgid, text) for msgid, text in catalog.items()
                     if isinstance(msgid, str) and _PLACEHOLDER.search(msgid) and text]
        templates.sort(key=lambda t: -len(_PLACEHOLDER.sub("", t[0])))
        patterns = [(_pattern(msgid), text) for msgid, text in templates]
        _template_cache[key] = (translations, [(p, text) for p, text in patterns if p])
    return _template_cache[key][1]


def translate(message: str | None) -> str | None:
    """An English message in the request's language: by the catalog's entry for it, else by
    the template it was made from (an f-string at the raise site); untranslated it stays
    English."""
    if not message or not in_chinese():
        return message
    translations = get_translations()
    catalog = getattr(translations, "_catalog", {})
    if message in catalog:
        return catalog[message]
    for pattern, text in _templates(translations):
        match = pattern.fullmatch(message)
        if match:
            # A part that is itself a whole message ("field: <message>") is translated too.
            parts = {name: catalog.get(value, value) for name, value in match.groupdict().items()}
            try:
                return text % parts
            except (KeyError, ValueError, TypeError):
                return message
    return message


def translate_field_messages(errors: dict | None) -> dict | None:
    """{"field": ["message", ...]} with each message translated; the field names are data."""
    if not errors or not in_chinese():
        return errors
    return {field: [translate(m) if isinstance(m, str) else m for m in messages]
            for field, messages in errors.items()}


# --- wiring -------------------------------------------------------------------------------------

def mark_language(response):
    """after_request: a JSON or problem answer says its language and that it depends on
    Accept-Language (so caches, and the ETag that hashes the body, key on it)."""
    if response.mimetype in JSON_TYPES and has_request_context():
        response.headers["Content-Language"] = request_language()
        response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_babel_locale, configure_jinja=False,
          default_translation_directories="translations")
    app.after_request(mark_language)
