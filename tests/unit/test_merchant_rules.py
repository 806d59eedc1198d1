"""Pure rules of the merchant desk (domain/merchants.py): which image URLs a reward may carry,
its category, the holder's mask, and whom a lead may manage."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.merchants import (image_url_problem, lead_may_manage, mask_holder,
                                             reward_category, reward_image_url)
from carbon_credits.domain.vocabulary import MAX_IMAGE_URL_LENGTH, REWARD_CATEGORIES

_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_HOST = st.builds(lambda labels, tld: ".".join(labels + [tld]),
                  st.lists(_LABEL, min_size=1, max_size=3), st.sampled_from(["com", "cn", "org"]))
_PATH = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./%~", max_size=80)


@given(host=_HOST, path=_PATH)
def test_a_plain_https_url_to_a_named_host_is_accepted(host, path):
    url = f"https://{host}/{path}"
    assert image_url_problem(url) is None
    assert reward_image_url(url) == url


@given(scheme=st.sampled_from(["http", "ftp", "javascript", "data", "file", "HTTPS", "https:"]),
       host=_HOST, path=_PATH)
def test_any_other_scheme_is_refused(scheme, host, path):
    assert image_url_problem(f"{scheme}://{host}/{path}") is not None


@given(user=_LABEL, password=st.one_of(st.none(), _LABEL), host=_HOST, path=_PATH)
def test_credentials_are_refused(user, password, host, path):
    credentials = user if password is None else f"{user}:{password}"
    problem = image_url_problem(f"https://{credentials}@{host}/{path}")
    assert problem == "The URL must not carry credentials."


@given(url=st.text(max_size=MAX_IMAGE_URL_LENGTH + 50))
def test_whatever_is_accepted_is_bounded_https_printable_and_without_credentials(url):
    if image_url_problem(url) is None:
        assert url.startswith("https://") and len(url) <= MAX_IMAGE_URL_LENGTH
        assert url.isascii() and not any(c.isspace() or ord(c) < 32 for c in url)
        assert "@" not in url.split("/", 3)[2]


@given(host=_HOST, extra=st.integers(min_value=1, max_value=200))
def test_too_long_is_refused(host, extra):
    url = f"https://{host}/" + "a" * MAX_IMAGE_URL_LENGTH
    assert image_url_problem(url[:MAX_IMAGE_URL_LENGTH + extra]) is not None


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.8", "[::1]", "169.254.169.254",
                                  "localhost", "printer.local", "2130706433", "0x7f.1"])
def test_private_and_local_hosts_are_refused(host):
    assert image_url_problem(f"https://{host}/a.png") == "The URL must name a public host."


def test_no_image_is_none():
    assert reward_image_url(None) is None and reward_image_url("") is None
    with pytest.raises(ValidationFailed):
        reward_image_url("http://example.com/a.png")


@given(st.text(max_size=20))
def test_only_known_categories(value):
    if value in REWARD_CATEGORIES:
        assert reward_category(value) == value
    else:
        with pytest.raises(ValidationFailed):
            reward_category(value)
    assert reward_category(None) == "other"


@given(st.one_of(st.none(), st.text(max_size=64)))
def test_the_mask_shows_at_most_one_character(name):
    masked = mask_holder(name)
    assert masked.endswith("**") and len(masked) <= 3


def _rule(**overrides):
    lead, partner = uuid.uuid4(), uuid.uuid4()
    args = {"lead_id": lead, "lead_partner_id": partner, "target_id": uuid.uuid4(),
            "target_partner_id": partner, "target_roles": {"merchant"}, "target_is_lead": False}
    args.update(overrides)
    if overrides.get("target_id") == "self":
        args["target_id"] = lead
    return lead_may_manage(**args)


@pytest.mark.parametrize("overrides, refusal", [
    ({}, None),
    ({"target_roles": {"merchant", "citizen"}}, None),
    ({"target_partner_id": uuid.uuid4()}, "not_found"),
    ({"target_partner_id": None}, "not_found"),
    ({"target_roles": {"citizen"}}, "not_found"),
    ({"target_id": "self"}, "self_management"),
    ({"target_is_lead": True}, "lead_managed_by_admin"),
    ({"target_roles": {"merchant", "admin"}}, "privileged_target"),
    ({"target_roles": {"merchant", "verifier"}}, "privileged_target"),
])
def test_whom_a_lead_may_manage(overrides, refusal):
    assert _rule(**overrides) == refusal
