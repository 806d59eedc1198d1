"""Engagement rules (docs/engagement.md): campaign definitions, progress, streaks, levels and
badges. Pure: the services pass in the facts (a citizen's credited actions by scheme day, their
check-in days, lifetime credited milligrams); nothing here touches a database.

Nothing here ever produces grams: bonus points are rewards for taking part, never reductions.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Iterable

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import (ACTION_TYPES, MAX_BALANCE_POINTS, MAX_POINTS,
                                            MG_PER_G, SCOPE_MODES)

# count: N credited actions matching {action_type, mode} in the window.
# streak: credited actions on N consecutive scheme days in the window.
# check_in_streak: check-ins on N consecutive scheme days in the window.
CAMPAIGN_KINDS = ("count", "streak", "check_in_streak")
CAMPAIGN_STATUSES = ("open", "closed")
MAX_TARGET = 1000
MAX_TITLE_LENGTH = 200
MAX_CAMPAIGN_DAYS = 366
MAX_BONUS_POINTS = 1_000_000  # one completion's bonus

# Levels by lifetime credited reduction: (threshold in mg, name). Level n is LEVELS[n - 1].
LEVELS = ((0, "seedling"), (1_000 * MG_PER_G, "sprout"), (10_000 * MG_PER_G, "sapling"),
          (100_000 * MG_PER_G, "tree"), (1_000_000 * MG_PER_G, "forest"))


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors={field: [message]})


def _whole(value, field: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(field, f"Must be a whole number from {low} to {high}.")


@dataclasses.dataclass(frozen=True)
class CampaignRule:
    """What a campaign asks and what it pays (all integers; dates are scheme days)."""
    kind: str
    target: int
    starts_on: dt.date
    ends_on: dt.date
    bonus_points: int
    per_citizen_cap: int
    budget_points: int
    action_type: str | None = None
    mode: str | None = None


def check_campaign(rule: CampaignRule, *, today: dt.date) -> None:
    """Refuse a definition that is incomplete, unbounded or already over (422)."""
    if rule.kind not in CAMPAIGN_KINDS:
        raise _invalid("kind", f"Must be one of: {', '.join(CAMPAIGN_KINDS)}.")
    _whole(rule.target, "target", 1, MAX_TARGET)
    _whole(rule.bonus_points, "bonus_points", 1, MAX_BONUS_POINTS)
    _whole(rule.per_citizen_cap, "per_citizen_cap", rule.bonus_points, MAX_POINTS)
    _whole(rule.budget_points, "budget_points", rule.bonus_points, MAX_BALANCE_POINTS)
    if rule.ends_on < rule.starts_on:
        raise _invalid("ends_on", "Must not be before starts_on.")
    if (rule.ends_on - rule.starts_on).days >= MAX_CAMPAIGN_DAYS:
        raise _invalid("ends_on", f"A campaign lasts at most {MAX_CAMPAIGN_DAYS} days.")
    if rule.ends_on < today:
        raise _invalid("ends_on", "The campaign would be over already.")
    _check_scope(rule)


def _check_scope(rule: CampaignRule) -> None:
    if rule.kind == "check_in_streak":
        if rule.action_type is not None or rule.mode is not None:
            raise _invalid("action_type", "A check-in campaign counts no actions.")
        return
    if rule.action_type is not None and rule.action_type not in ACTION_TYPES:
        raise _invalid("action_type", f"Must be one of: {', '.join(ACTION_TYPES)}.")
    if rule.mode is not None:
        modes = SCOPE_MODES.get(rule.action_type or "", ())
        if rule.mode not in modes:
            raise _invalid("mode", "Not a mode of the action type."
                           if modes else "The action type has no modes.")


# ---------------------------------------------------------------------------------------------
# Streaks and progress


def longest_streak(days: Iterable[dt.date]) -> int:
    """The longest run of consecutive days among `days` (repeats count once)."""
    best = run = 0
    previous = None
    for day in sorted(set(days)):
        run = run + 1 if previous is not None and (day - previous).days == 1 else 1
        best = max(best, run)
        previous = day
    return best


def current_streak(days: Iterable[dt.date], *, today: dt.date) -> int:
    """Consecutive days ending today, or yesterday when today has none yet (the streak is
    still alive until the day is over)."""
    present = {d for d in days if d <= today}
    day = today if today in present else today - dt.timedelta(days=1)
    run = 0
    while day in present:
        run += 1
        day -= dt.timedelta(days=1)
    return run


def in_window(days: Iterable[dt.date], rule: CampaignRule) -> list[dt.date]:
    return [d for d in days if rule.starts_on <= d <= rule.ends_on]


@dataclasses.dataclass(frozen=True)
class Progress:
    progress: int      # matching actions, or the longest streak in the window (days)
    target: int
    completions: int   # how many times the target is met (progress // target)
    earned_points: int  # what a claim would pay now: completions x bonus, within the cap


def campaign_progress(rule: CampaignRule, *, action_days: Iterable[dt.date] = (),
                      check_in_days: Iterable[dt.date] = ()) -> Progress:
    """Progress from facts: for `count`, one scheme day per matching credited action (repeats
    count); for `streak`, the days with a credited action; for `check_in_streak`, check-ins."""
    if rule.kind == "count":
        progress = len(in_window(action_days, rule))
    elif rule.kind == "streak":
        progress = longest_streak(in_window(action_days, rule))
    else:
        progress = longest_streak(in_window(check_in_days, rule))
    completions = progress // rule.target
    return Progress(progress=progress, target=rule.target, completions=completions,
                    earned_points=min(completions * rule.bonus_points, rule.per_citizen_cap))


def claim_refusal(*, status: str, completions: int, already_claimed: bool,
                  spent: int, budget: int, amount: int) -> tuple[str, str] | None:
    """Why a citizen's claim is refused, as (code, message); None when it may be paid."""
    if status != "open":
        return "campaign_closed", "The campaign is closed."
    if already_claimed:
        return "bonus_already_claimed", "This campaign's bonus was already claimed."
    if completions < 1:
        return "campaign_not_completed", "The challenge is not completed yet."
    if spent + amount > budget:
        return "campaign_budget_exhausted", "The campaign's budget is spent."
    return None


def payable_bonus(earned: int, *, paid_this_month: int, monthly_cap: int) -> int:
    """What a claim pays: what the challenge earned, within what is left of the citizen's
    scheme-wide monthly bonus cap (across every campaign); 0 when the cap is reached."""
    return max(0, min(earned, monthly_cap - paid_this_month))


def bonus_due_back(*, paid: int, earned_now: int, settled: int) -> int:
    """How much of a paid bonus a reversal takes back: what was paid beyond what the
    citizen's credited actions still earn, less what earlier reversals already settled
    (clawed back or recorded as shortfall). Never negative: a bonus is never topped up."""
    return max(0, paid - earned_now - settled)


# ---------------------------------------------------------------------------------------------
# Levels and badges


def level_for(lifetime_mg: int) -> dict:
    """The level a lifetime credited reduction reaches, and how far the next one is."""
    number = max(i for i, (threshold, _) in enumerate(LEVELS, start=1) if lifetime_mg >= threshold)
    following = LEVELS[number] if number < len(LEVELS) else None
    return {"level": number, "name": LEVELS[number - 1][1],
            "next_level_at_mg": following[0] if following else None}


@dataclasses.dataclass(frozen=True)
class AchievementFacts:
    credited_actions: int
    lifetime_mg: int
    metro_trips: int
    longest_action_streak: int
    longest_check_in_streak: int


BADGES = (
    ("first_action", "First green action", lambda f: f.credited_actions >= 1),
    ("saved_1kg", "1 kg CO2e saved", lambda f: f.lifetime_mg >= 1_000 * MG_PER_G),
    ("saved_10kg", "10 kg CO2e saved", lambda f: f.lifetime_mg >= 10_000 * MG_PER_G),
    ("saved_100kg", "100 kg CO2e saved", lambda f: f.lifetime_mg >= 100_000 * MG_PER_G),
    ("metro_10", "10 metro trips", lambda f: f.metro_trips >= 10),
    ("streak_7", "Green actions 7 days in a row", lambda f: f.longest_action_streak >= 7),
    ("check_in_7", "Checked in 7 days in a row", lambda f: f.longest_check_in_streak >= 7),
)


def badges(facts: AchievementFacts) -> list[dict]:
    """Every badge with whether the facts earn it, in a fixed order."""
    return [{"code": code, "title": title, "earned": bool(test(facts))}
            for code, title, test in BADGES]
