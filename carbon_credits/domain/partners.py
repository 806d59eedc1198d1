"""Pure rules for partners: what each may report (scopes), card references, consent texts, and
the form of a signed request (headers, timestamp window, HMAC).

A scope is an action type and, for transit, the modes it covers, for everyday, the scenes it
covers (`None`: every mode or scene). Scopes are handled as a set of (action_type, mode-or-None)
pairs, a scene being the mode of an everyday scope: `{("transit", "metro"), ("ev_charging",
None), ("everyday", "own_bag")}`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from typing import Iterable

from carbon_credits.domain.errors import AuthenticationFailed, ValidationFailed
# Partners whose records can be credited (DATA_PARTNER_KINDS); merchants and enterprise buyers
# report nothing.
from carbon_credits.domain.vocabulary import ACTION_TYPES, DATA_PARTNER_KINDS, SCOPE_MODES

# What the API calls the modes of each divided action type's scope.
MODES_KEY = {"transit": "modes", "everyday": "scenes", "household_energy": "utilities"}

DEFAULT_SCOPES: dict[str, list[dict]] = {
    "transit_operator": [{"action_type": "transit"}],
    "charging_operator": [{"action_type": "ev_charging"}],
    "recycling_operator": [{"action_type": "waste_sorting"}],
    "merchant_pos": [{"action_type": "everyday"}],
    "utility": [{"action_type": "household_energy"}],
    "merchant": [],
    "enterprise_buyer": [],
}

# The version of the binding notice (purpose, data, retention, withdrawal) shown in the app.
BINDING_NOTICE_VERSION = "2026-12-01"
MIGRATED_NOTICE_VERSION = "migrated"

# What a binding lets the operator send, per partner kind (PIPL art. 14, 17: informed consent).
BINDING_PURPOSES = {
    "transit_operator": (
        "Credit the carbon reduction of your public-transport trips: the operator sends the "
        "scheme each trip made with this card or account (start and end time, mode, distance or "
        "boardings), used only to quantify and credit points."),
    "charging_operator": (
        "Credit the carbon reduction of your electric-vehicle charging: the operator sends the "
        "scheme each charging session of this account (start and end time, energy, station), "
        "used only to quantify and credit points."),
    "recycling_operator": (
        "Credit the carbon reduction of your sorted waste: the operator sends the scheme each "
        "drop-off made with this card (category, weight, station, time), used only to quantify "
        "and credit points."),
    "merchant_pos": (
        "Credit the carbon reduction of everyday low-carbon choices: the shop or platform sends "
        "the scheme each qualifying purchase or order made with this account (scene, number of "
        "events, shop, time), used only to quantify and credit points."),
    "utility": (
        "Credit your household's energy and water saving: the utility sends the scheme this "
        "account's monthly meter readings (period, consumption, whether estimated), including up "
        "to 24 earlier months for the baseline, used only to quantify the saving and credit the "
        "household's members."),
}

CONFIRMATION_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1
CONFIRMATION_CODE_LENGTH = 8
CONFIRMATION_CODE_TTL = dt.timedelta(minutes=15)
MAX_FAILED_CONFIRMATIONS = 5

# Dashes NFKC leaves as they are (hyphen, figure dash, en and em dash, horizontal bar, minus,
# hyphen bullet); format characters (soft hyphen, zero-width spaces) are dropped as well.
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043")


def _normalise_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch for ch in text if not ch.isspace() and ch not in _DASHES
                   and unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", text)


def normalise_external_ref(external_ref: str) -> str:
    """One spelling per card: NFKC, case-folded, whitespace and dashes removed.

    "6230 1234", "６２３０－１２３４" and "6230-1234" are the same card. Applied until stable,
    because removing a separator can bring a combining mark next to a letter it then composes
    with, and case-folding can produce a string NFKC changes again."""
    text = external_ref
    for _ in range(8):
        again = _normalise_once(text)
        if again == text:
            break
        text = again
    return text


def legacy_normalise_external_ref(external_ref: str) -> str:
    """The spelling bindings made before migration 0009 were hashed with."""
    return "".join(external_ref.split()).upper()


def normalise_confirmation_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if not ch.isspace() and ch not in _DASHES)


def scope_pairs(scopes: list[dict]) -> set[tuple[str, str | None]]:
    pairs: set[tuple[str, str | None]] = set()
    for scope in scopes:
        modes = scope.get(MODES_KEY.get(scope["action_type"], "modes"))
        if modes is None:
            pairs.add((scope["action_type"], None))
        else:
            pairs.update((scope["action_type"], m) for m in modes)
    return pairs


def scopes_from_pairs(pairs) -> list[dict]:
    """Pairs back to the API shape, in a stable order (action types as in ACTION_TYPES)."""
    by_type: dict[str, list[str] | None] = {}
    for action_type, mode in pairs:
        if mode is None:
            by_type[action_type] = None
        elif by_type.get(action_type, []) is not None:
            by_type.setdefault(action_type, []).append(mode)
    scopes = []
    for action_type in sorted(by_type, key=ACTION_TYPES.index):
        modes = by_type[action_type]
        scope = {"action_type": action_type}
        if modes is not None:
            scope[MODES_KEY[action_type]] = sorted(modes, key=SCOPE_MODES[action_type].index)
        scopes.append(scope)
    return scopes


def validate_scopes(*, kind: str, scopes: list[dict]) -> set[tuple[str, str | None]]:
    """Check scopes set on a partner of `kind`; return them as pairs. Raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    if scopes and kind not in DATA_PARTNER_KINDS:
        raise ValidationFailed(f"A {kind} reports no actions and can have no scopes.",
                               code="partner_kind_has_no_scopes",
                               errors={"scopes": [f"Must be empty for a {kind}."]})
    seen: set[str] = set()
    for i, scope in enumerate(scopes):
        action_type = scope.get("action_type")
        if action_type not in ACTION_TYPES:
            errors[f"scopes.{i}.action_type"] = [f"Must be one of {', '.join(ACTION_TYPES)}."]
            continue
        if action_type in seen:
            errors[f"scopes.{i}.action_type"] = [f"{action_type} is listed twice."]
        seen.add(action_type)
        for key in MODES_KEY.values():
            problem = _modes_problem(action_type, key, scope.get(key))
            if problem:
                errors[f"scopes.{i}.{key}"] = [problem]
    if errors:
        raise ValidationFailed("The scopes are not valid.", errors=errors)
    return scope_pairs(scopes)


def _modes_problem(action_type: str, key: str, modes: list | None) -> str | None:
    """What is wrong with a scope's `modes`, `scenes` or `utilities` list, if anything."""
    if modes is None:
        return None
    if MODES_KEY.get(action_type) != key:
        owner = next(t for t, k in MODES_KEY.items() if k == key)
        return f"{key.capitalize()} are for {owner} only."
    if not modes:
        return f"Leave {key} out for every one; an empty list is not allowed."
    allowed = SCOPE_MODES[action_type]
    if len(set(modes)) != len(modes) or set(modes) - set(allowed):
        return f"Distinct values of {', '.join(allowed)}."
    return None


def in_scope(pairs, action_type: str, mode: str | None) -> bool:
    return (action_type, None) in pairs or (mode is not None and (action_type, mode) in pairs)


def binding_covers(*, covers_from: dt.datetime | None, ended_at: dt.datetime | None,
                   instant: dt.datetime) -> bool:
    """A binding covers actions whose instant lies in [covers_from, ended_at)."""
    return (covers_from is None or covers_from <= instant) and (ended_at is None or instant < ended_at)



def covers_from_after(earlier: Iterable[tuple[dt.datetime | None, dt.datetime | None]]
                      ) -> dt.datetime | None:
    """Where a newly confirmed binding of a card starts covering, given the card's other
    bindings as (granted_at, ended_at): the latest end of one that was granted (a changeover),
    or None (from the beginning) when none was granted and ended."""
    ends = [ended_at for granted_at, ended_at in earlier if granted_at is not None and ended_at]
    return max(ends) if ends else None

# --- signed requests (docs/partners.md) -------------------------------------------------------

SIGNATURE_RE = re.compile(r"^sha256=([0-9a-f]{64})$")
MAX_TIMESTAMP_DIGITS = 12
# Compared against when the key is unknown, so that an unknown key costs one HMAC as well.
UNKNOWN_KEY_SECRET = "unknown-key-still-costs-one-hmac"  # nosec B105: never a real secret


def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The signature a partner sends: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_signature_headers(*, key_id: str | None, timestamp: str | None,
                            signature: str | None) -> str:
    """The three headers are present and well formed, checked in this order; returns the
    signature's hex digest. Raises AuthenticationFailed with the reason code."""
    if not key_id or not timestamp or not signature:
        raise AuthenticationFailed("X-Partner-Key, X-Timestamp and X-Signature are required.",
                                   code="signature_missing")
    # isdigit() alone accepts "²"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise AuthenticationFailed("X-Timestamp must be unix seconds.", code="signature_bad_timestamp")
    match = SIGNATURE_RE.match(signature)
    if not match:
        raise AuthenticationFailed("X-Signature must be sha256=<64 hex digits>.",
                                   code="signature_malformed")
    return match.group(1)


def check_signature_window(*, timestamp: str, now: dt.datetime, tolerance_seconds: int) -> None:
    """The request's unix-seconds timestamp lies within `tolerance_seconds` of `now`, either
    way. Raises AuthenticationFailed `signature_stale`."""
    if abs(now.timestamp() - int(timestamp)) > tolerance_seconds:
        raise AuthenticationFailed("The request timestamp is outside the 5-minute window.",
                                   code="signature_stale")


def secret_in_force(expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    """A partner secret signs requests until it expires (a rotated one: after the grace)."""
    return expires_at is None or expires_at > now


def signature_matches_any(candidate_secrets: list[str], *, timestamp: str, raw_body: bytes,
                          signature: str) -> bool:
    """Whether one of the secrets made `signature`. Every secret is compared in constant time,
    and none (an unknown key) costs one comparison too: the timing tells nothing."""
    ok = False
    for secret in candidate_secrets or [UNKNOWN_KEY_SECRET]:
        ok |= hmac.compare_digest(sign(secret, timestamp, raw_body), signature)
    return ok
