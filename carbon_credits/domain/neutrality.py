"""Pure rules of carbon-neutral events (docs/events.md): what a valid event record is, and when
the serials retired against it make it neutral. Integers only: the footprint in grams, the
retirements in milligrams, compared as milligrams."""
from __future__ import annotations

import dataclasses
import datetime as dt

from carbon_credits.domain.vocabulary import EVENT_KINDS, MAX_EVENT_FOOTPRINT_G, MG_PER_G

MAX_EVENT_DAYS = 366  # an exhibition may run for months; a longer "event" is an organisation


@dataclasses.dataclass(frozen=True)
class Neutrality:
    """An event's footprint against what was retired for it."""

    footprint_mg: int
    retired_mg: int

    @property
    def shortfall_mg(self) -> int:
        return max(self.footprint_mg - self.retired_mg, 0)

    @property
    def neutral(self) -> bool:
        """Only when the retirements cover the whole footprint."""
        return self.retired_mg >= self.footprint_mg


def neutrality(*, footprint_g: int, retired_mg: int) -> Neutrality:
    if isinstance(footprint_g, bool) or not isinstance(footprint_g, int) or footprint_g < 1:
        raise ValueError("an event's footprint is a positive whole number of grams")
    if isinstance(retired_mg, bool) or not isinstance(retired_mg, int) or retired_mg < 0:
        raise ValueError("retired milligrams are a whole number, not negative")
    return Neutrality(footprint_mg=footprint_g * MG_PER_G, retired_mg=retired_mg)


def event_errors(*, kind: str, starts_on: dt.date, ends_on: dt.date,
                 footprint_g: int) -> dict[str, list[str]]:
    """Why an event record is not valid (empty if it is): a known kind, dates running forwards
    over at most MAX_EVENT_DAYS, a footprint of 1 g to MAX_EVENT_FOOTPRINT_G."""
    errors: dict[str, list[str]] = {}
    if kind not in EVENT_KINDS:
        errors["kind"] = [f"One of {', '.join(EVENT_KINDS)}."]
    if ends_on < starts_on:
        errors["ends_on"] = ["Must not be before starts_on."]
    elif (ends_on - starts_on).days + 1 > MAX_EVENT_DAYS:
        errors["ends_on"] = [f"An event lasts at most {MAX_EVENT_DAYS} days."]
    if isinstance(footprint_g, bool) or not isinstance(footprint_g, int) \
            or not 1 <= footprint_g <= MAX_EVENT_FOOTPRINT_G:
        errors["footprint_g"] = [f"Whole grams CO2e, 1 to {MAX_EVENT_FOOTPRINT_G}."]
    return errors
