"""A role change planned without the database (carbon_credits/domain/roles.py)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.roles import plan_role_change, requested_roles
from carbon_credits.domain.vocabulary import PRIVILEGED_ROLES, ROLES

role_sets = st.sets(st.sampled_from(ROLES))


def test_known_roles_are_taken_as_a_set():
    assert requested_roles(["citizen", "merchant", "citizen"]) == {"citizen", "merchant"}


@pytest.mark.parametrize("roles", [[], ["superuser"], ["citizen", "root"], ["Admin"]])
def test_an_empty_or_unknown_role_list_is_refused(roles):
    with pytest.raises(ValidationFailed) as refused:
        requested_roles(roles)
    assert refused.value.errors == {"roles": ["Unknown or empty role list."]}
    assert refused.value.detail == "roles must be a non-empty subset of " + ", ".join(ROLES)


def test_citizen_and_merchant_apply_at_once():
    plan = plan_role_change(wanted={"citizen", "merchant"}, current={"citizen"})
    assert plan.now == {"citizen", "merchant"} and plan.to_grant == set()


def test_admin_or_auditor_not_yet_held_waits_for_a_grant():
    plan = plan_role_change(wanted={"citizen", "admin"}, current={"citizen"})
    assert plan.now == {"citizen"} and plan.to_grant == {"admin"}


def test_a_privileged_role_already_held_is_kept_without_a_grant():
    plan = plan_role_change(wanted={"auditor"}, current={"auditor", "citizen"})
    assert plan.now == {"auditor"} and plan.to_grant == set()


def test_removals_apply_at_once():
    plan = plan_role_change(wanted={"citizen"}, current={"citizen", "admin", "merchant"})
    assert plan.now == {"citizen"} and plan.to_grant == set()


@given(role_sets.filter(bool), role_sets)
def test_every_wanted_role_is_either_held_now_or_granted_later(wanted, current):
    plan = plan_role_change(wanted=wanted, current=current)
    assert plan.now | plan.to_grant == wanted and not plan.now & plan.to_grant
    assert plan.to_grant <= set(PRIVILEGED_ROLES) and not plan.to_grant & current
