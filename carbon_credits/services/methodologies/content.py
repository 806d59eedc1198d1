"""A version's content as submitted (API body, seed file, a copied version): validated as a
whole and written onto a draft row."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

from carbon_credits.domain import methodology as domain
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import GRAMS
from models import Methodology, MethodologyVersion

CONTENT_FIELDS = ("family", "formula_text", "parameters", "applicability", "daily_cap_g",
                  "effective_from", "effective_until", "change_note")


def cap_mg(value) -> int | None:
    """A daily cap in grams (at most 3 decimals, up to 1e9) as integer milligrams."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationFailed("daily_cap_g must be a number.", errors={"daily_cap_g": ["Must be a number."]})
    cap = Decimal(value)
    if not cap.is_finite() or cap < 0 or cap > Decimal(10**9) or cap != cap.quantize(GRAMS):
        raise ValidationFailed("daily_cap_g must be between 0 and 1e9 with at most 3 decimals.",
                               errors={"daily_cap_g": ["Between 0 and 1000000000, at most 3 decimals."]})
    return int(cap * 1000)


def aware(value, field: str) -> dt.datetime | None:
    """An ISO string or datetime with an offset, as aware UTC (422 naming `field` otherwise)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationFailed(f"{field} must be a date-time with offset.",
                               errors={field: ["Must be a date-time with offset."]})
    return value.astimezone(dt.timezone.utc)


def apply_content(version: MethodologyVersion, methodology: Methodology, content: Mapping) -> None:
    """Validate the whole resulting content and write it onto `version` (a draft)."""
    family = content.get("family", version.family)
    parameters = content.get("parameters", version.parameters)
    rules = content.get("applicability", version.rules)
    definition = domain.parse_definition(family=family, parameters=_plain_parameters(parameters),
                                         rules=rules, action_type=methodology.action_type)
    start = aware(content["effective_from"], "effective_from") if "effective_from" in content \
        else version.effective_from
    end = aware(content["effective_until"], "effective_until") if "effective_until" in content \
        else version.effective_until
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("effective_until must be after effective_from.",
                               errors={"effective_until": ["Must be after effective_from."]})
    version.family = family
    version.parameters = [p.as_dict() for p in definition.parameters.values()]
    version.rules = definition.rules.as_dict()
    if "formula_text" in content or version.formula_text is None:
        version.formula_text = (content.get("formula_text") or domain.DEFAULT_FORMULAS[family]).strip()
    _apply_daily_cap(version, definition, content)
    if "change_note" in content:
        version.change_note = content["change_note"]
    version.effective_from, version.effective_until = start, end


def _apply_daily_cap(version: MethodologyVersion, definition: domain.Definition,
                     content: Mapping) -> None:
    """The author's daily cap; a per-event version's is derived from its count cap instead
    (events per day × reduction per event) and recomputed on every edit."""
    derived = domain.count_cap_mg(definition)
    if derived is None:
        if "daily_cap_g" in content:
            version.daily_cap_mg = cap_mg(content["daily_cap_g"])
        return
    sent = cap_mg(content.get("daily_cap_g"))
    if sent is not None and sent != derived:
        raise ValidationFailed(
            "daily_cap_g of a per_event version is applicability.max_events_per_day × the "
            "reduction per event; leave it out.",
            errors={"daily_cap_g": [f"Derived: {domain.GRAMS * derived} g; leave it out."]})
    version.daily_cap_mg = derived


def _plain_parameters(parameters) -> Any:
    """Parameter values may arrive as Decimal (API) or strings (stored); both parse exactly."""
    if not isinstance(parameters, list):
        return parameters
    return [dict(p) if isinstance(p, Mapping) else p for p in parameters]
