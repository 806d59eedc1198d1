"""Login identifiers: one spelling per email address and per phone number.

Emails are NFKC-normalised, stripped and case-folded (so fullwidth `ａｌｉｃｅ@…` is `alice@…`),
and refused when a part of them mixes scripts the way spoofed addresses do (UTS #39, "highly
restrictive": one script per part, or Latin with the Han/Kana, Han/Bopomofo or Han/Hangul
combinations East Asian users write), or when a part written wholly in another script is made
only of letters that look Latin (`аре` in Cyrillic imitating `ape`; local part only). Local part
and each domain label are judged on their own: `почта@example.com` is a plain Cyrillic address and allowed.

Phone numbers are parsed with `phonenumbers` (default region CN) and kept in E.164, so
`13900139000`, `+86 139 0013 9000`, `008613900139000` and fullwidth digits are one number.
"""
from __future__ import annotations

import re
import unicodedata

import phonenumbers
from confusable_homoglyphs import categories, confusables

from carbon_credits.domain.errors import ValidationFailed

DEFAULT_REGION = "CN"
MAX_EMAIL_LENGTH = 254
MAX_INPUT_LENGTH = 320

_NEUTRAL_SCRIPTS = {"COMMON", "INHERITED"}
_ALLOWED_SCRIPT_MIXES = (
    {"LATIN", "HAN", "HIRAGANA", "KATAKANA"},
    {"LATIN", "HAN", "BOPOMOFO"},
    {"LATIN", "HAN", "HANGUL"},
)
# Printable, no spaces, no quotes or brackets that need quoting in an address.
_FORBIDDEN_EMAIL_CHARS = re.compile(r"[\s\"(),:;<>\[\]\\]")


class InvalidIdentifier(ValidationFailed):
    """The text cannot be an email address or phone number we accept (422)."""

    def __init__(self, detail: str, *, field: str):
        super().__init__(detail, errors={field: [detail]})
        self.field = field


def _scripts(text: str) -> set[str]:
    return {categories.alias(ch) for ch in text} - _NEUTRAL_SCRIPTS


def _imitates(part: str, *, whole_script: bool) -> bool:
    scripts = _scripts(part)
    if len(scripts) > 1:
        return not any(scripts <= allowed for allowed in _ALLOWED_SCRIPT_MIXES)
    if whole_script and scripts and scripts != {"LATIN"}:
        letters = [ch for ch in part if categories.alias(ch) not in _NEUTRAL_SCRIPTS]
        return all(confusables.is_confusable(ch, preferred_aliases=["latin"]) for ch in letters)
    return False


def normalise_email(raw: str, *, field: str = "email") -> str:
    """NFKC, strip, case-fold; refuse malformed or script-spoofing addresses."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        raise InvalidIdentifier("Not a valid email address.", field=field)
    value = unicodedata.normalize("NFKC", raw).strip().casefold()
    if not is_email_shaped(value):
        raise InvalidIdentifier("Not a valid email address.", field=field)
    if imitates_another_address(value):
        raise InvalidIdentifier("This address mixes writing systems in a way that can imitate "
                                "another address; please type it in one script.", field=field)
    return value


def is_email_shaped(value: str) -> bool:
    """local@domain.tld of printable characters, nothing needing quotes, no empty label, at
    most MAX_EMAIL_LENGTH long (`value` already normalised)."""
    local, at, domain = value.rpartition("@")
    return not (not at or not local or not domain or "@" in local or len(value) > MAX_EMAIL_LENGTH
                or _FORBIDDEN_EMAIL_CHARS.search(value)
                or any(unicodedata.category(ch)[0] == "C" for ch in value)
                or "." not in domain or any(not label for label in domain.split(".")))


def imitates_another_address(value: str) -> bool:
    """A part of an email-shaped `value` mixes scripts as spoofs do, or its local part is made
    of look-alikes of Latin letters.

    Whole-script look-alikes are judged in the local part only: IDN registries already police
    domain labels, and real ones such as `рф` are made of Latin look-alikes."""
    local, _, domain = value.rpartition("@")
    return (_imitates(local, whole_script=True)
            or any(_imitates(label, whole_script=False) for label in domain.split(".")))


def normalise_phone(raw: str, *, field: str = "phone", region: str = DEFAULT_REGION) -> str:
    """Any spelling of a valid number -> E.164 (`+8613900139000`)."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        raise InvalidIdentifier("Not a valid phone number.", field=field)
    text = unicodedata.normalize("NFKC", raw).strip()
    if text.startswith("00"):  # international prefix as dialled from China and most of Europe
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("Not a valid phone number.", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("Not a valid phone number.", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifier_kind(raw: str) -> str:
    """'email' if the text has an @ (after NFKC, so a fullwidth ＠ counts), else 'phone'."""
    return "email" if "@" in unicodedata.normalize("NFKC", raw or "") else "phone"


def normalise_identifier(raw: str, *, field: str = "identifier") -> tuple[str, str]:
    """(kind, normalised value) for a login/verify/reset identifier."""
    kind = identifier_kind(raw)
    if kind == "email":
        return kind, normalise_email(raw, field=field)
    return kind, normalise_phone(raw, field=field)
