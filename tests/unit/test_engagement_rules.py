"""Engagement rules (carbon_credits/domain/engagement.py): campaign definitions, streaks,
progress, levels, badges and claim refusals. Pure: no database."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain import engagement as rules
from carbon_credits.domain.errors import ValidationFailed

TODAY = dt.date(2026, 12, 6)
RULE = rules.CampaignRule(kind="count", target=3, starts_on=dt.date(2026, 12, 1),
                          ends_on=dt.date(2026, 12, 31), bonus_points=10, per_citizen_cap=25,
                          budget_points=1000, action_type="transit", mode="metro")
days = st.lists(st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2027, 12, 31)),
                max_size=60)


def test_a_complete_definition_is_accepted():
    rules.check_campaign(RULE, today=TODAY)
    rules.check_campaign(dataclasses.replace(RULE, kind="check_in_streak", action_type=None,
                                             mode=None), today=TODAY)
    rules.check_campaign(dataclasses.replace(RULE, kind="streak", action_type=None, mode=None),
                         today=TODAY)


@pytest.mark.parametrize("change", [
    {"kind": "lottery"}, {"target": 0}, {"target": rules.MAX_TARGET + 1}, {"target": 2.5},
    {"target": True}, {"bonus_points": 0}, {"bonus_points": rules.MAX_BONUS_POINTS + 1},
    {"per_citizen_cap": 9}, {"budget_points": 9}, {"budget_points": "1000"},
    {"ends_on": dt.date(2026, 11, 30)}, {"starts_on": dt.date(2025, 1, 1)},
    {"starts_on": dt.date(2026, 11, 1), "ends_on": dt.date(2026, 12, 5)},
    {"action_type": "teleport"}, {"mode": "rocket"}, {"action_type": "waste_sorting"},
    {"action_type": None}, {"kind": "check_in_streak"}])
def test_a_bad_definition_is_refused(change):
    with pytest.raises(ValidationFailed):
        rules.check_campaign(dataclasses.replace(RULE, **change), today=TODAY)


def test_streaks_count_consecutive_days_once_each():
    d = dt.date(2026, 12, 1)
    run = [d, d + dt.timedelta(1), d + dt.timedelta(1), d + dt.timedelta(2), d + dt.timedelta(5)]
    assert rules.longest_streak(run) == 3
    assert rules.longest_streak([]) == 0
    assert rules.current_streak(run, today=d + dt.timedelta(5)) == 1
    assert rules.current_streak(run, today=d + dt.timedelta(3)) == 3  # alive until day's end
    assert rules.current_streak(run, today=d + dt.timedelta(4)) == 0


@given(days)
def test_a_streak_never_exceeds_the_distinct_days(sample):
    assert 0 <= rules.longest_streak(sample) <= len(set(sample))
    assert rules.current_streak(sample, today=TODAY) <= rules.longest_streak(sample)


@given(days, days)
def test_progress_is_monotone_in_added_actions(sample, more):
    for kind in rules.CAMPAIGN_KINDS:
        rule = dataclasses.replace(RULE, kind=kind)
        before = rules.campaign_progress(rule, action_days=sample, check_in_days=sample)
        after = rules.campaign_progress(rule, action_days=sample + more,
                                        check_in_days=sample + more)
        assert after.progress >= before.progress
        assert after.completions >= before.completions
        assert after.earned_points >= before.earned_points


@given(days)
def test_a_claim_never_pays_past_the_cap(sample):
    progress = rules.campaign_progress(RULE, action_days=sample)
    assert progress.earned_points <= RULE.per_citizen_cap
    assert progress.earned_points == min(progress.completions * RULE.bonus_points,
                                         RULE.per_citizen_cap)
    assert progress.completions == progress.progress // RULE.target


def test_only_days_inside_the_window_count():
    outside = [dt.date(2026, 11, 30), dt.date(2027, 1, 1)]
    inside = [dt.date(2026, 12, 2)] * 3
    assert rules.campaign_progress(RULE, action_days=outside + inside).progress == 3


def test_levels_rise_with_lifetime_grams():
    assert rules.level_for(0) == {"level": 1, "name": "seedling", "next_level_at_mg": 1_000_000}
    assert rules.level_for(1_000_000)["level"] == 2
    assert rules.level_for(10**12) == {"level": 5, "name": "forest", "next_level_at_mg": None}


def test_badges_follow_the_facts():
    facts = rules.AchievementFacts(credited_actions=1, lifetime_mg=1_000_000, metro_trips=10,
                                   longest_action_streak=6, longest_check_in_streak=7)
    earned = {b["code"] for b in rules.badges(facts) if b["earned"]}
    assert earned == {"first_action", "saved_1kg", "metro_10", "check_in_7"}


@pytest.mark.parametrize("kwargs, code", [
    ({"status": "closed"}, "campaign_closed"),
    ({"already_claimed": True}, "bonus_already_claimed"),
    ({"completions": 0}, "campaign_not_completed"),
    ({"spent": 995}, "campaign_budget_exhausted"),
    ({}, None)])
def test_claim_refusals(kwargs, code):
    args = {"status": "open", "completions": 1, "already_claimed": False, "spent": 0,
            "budget": 1000, "amount": 10, **kwargs}
    refusal = rules.claim_refusal(**args)
    assert (refusal[0] if refusal else None) == code


# --- bonus reversals and the monthly cap ------------------------------------------------------

@given(st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=12),
       st.integers(min_value=0, max_value=40))
def test_reversals_never_take_back_more_than_was_paid_nor_less_than_is_unearned(removed, n):
    """Actions behind a count campaign are reversed one batch at a time: whatever the order, the
    bonus taken back in total is exactly what was paid beyond what the rest still earns."""
    rule = dataclasses.replace(RULE, target=1)
    day = dt.date(2026, 12, 2)
    paid = rules.campaign_progress(rule, action_days=[day] * n).earned_points
    settled = 0
    left = n
    for k in removed:
        left = max(0, left - k)
        earned_now = rules.campaign_progress(rule, action_days=[day] * left).earned_points
        due = rules.bonus_due_back(paid=paid, earned_now=earned_now, settled=settled)
        assert due >= 0
        settled += due
        assert settled == paid - min(paid, earned_now)
    assert 0 <= settled <= paid


@pytest.mark.parametrize("earned, paid_this_month, cap, payable", [
    (50, 0, 10_000, 50), (50, 9_980, 10_000, 20), (50, 10_000, 10_000, 0),
    (50, 12_000, 10_000, 0), (50, 0, 0, 0)])
def test_the_monthly_cap_pays_what_fits(earned, paid_this_month, cap, payable):
    assert rules.payable_bonus(earned, paid_this_month=paid_this_month, monthly_cap=cap) == payable


def test_the_monthly_cap_setting_is_a_whole_number_of_points():
    from carbon_credits.config import ConfigError, load_settings
    good = {"SECRET_KEY": "k" * 40}
    assert load_settings(good).bonus_monthly_cap_points == 10_000
    assert load_settings({**good, "BONUS_MONTHLY_CAP_POINTS": "0"}).bonus_monthly_cap_points == 0
    for bad in ("-1", "1.5", "lots", "1000000001"):
        with pytest.raises(ConfigError, match="BONUS_MONTHLY_CAP_POINTS"):
            load_settings({**good, "BONUS_MONTHLY_CAP_POINTS": bad})
