"""The pure webhook rules (carbon_credits/domain/webhooks.py): subscription URLs and events,
the backoff schedule, the disable rule, public addresses and the exact body."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain import urls
from carbon_credits.domain import webhooks as rules
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.partners import sign

HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True)
PATHS = st.from_regex(r"(/[A-Za-z0-9._~-]{0,12}){0,4}", fullmatch=True)


@given(HOSTS, PATHS, st.one_of(st.none(), st.integers(1, 65535)))
def test_an_https_url_with_a_host_is_accepted_everywhere(host, path, port):
    url = f"https://{host}{'' if port is None else f':{port}'}{path}"
    assert rules.check_url(url, production=True) == url
    assert rules.check_url(url.replace("https://", "http://"), production=False)


@given(HOSTS, PATHS)
def test_plain_http_is_refused_in_production(host, path):
    with pytest.raises(ValidationFailed) as refused:
        rules.check_url(f"http://{host}{path}", production=True)
    assert refused.value.errors == {"url": ["The URL must start with https://."]}


@given(HOSTS, st.text(min_size=1, max_size=8, alphabet="abc:"))
def test_credentials_in_the_url_are_always_refused(host, userinfo):
    with pytest.raises(ValidationFailed):
        rules.check_url(f"https://{userinfo}@{host}/", production=False)


@given(st.text(max_size=60))
def test_any_text_is_either_a_valid_url_or_a_422_never_a_crash(text):
    try:
        rules.check_url(text, production=False)
    except ValidationFailed as refused:
        assert list(refused.errors) == ["url"]


@pytest.mark.parametrize("url", ["", "ftp://x.test/", "javascript:alert(1)", "https://", "https:///p",
                                 "https://x.test:0/", "https://x.test:70000/", "https://x.test/#a",
                                 "https://x.test/a b", "https://例子.测试/", "https://x.test/\x00",
                                 "https://" + "a" * 2000 + ".test/", None, 42])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValidationFailed):
        rules.check_url(url, production=False)


@given(st.lists(st.sampled_from(rules.EVENT_TYPES), min_size=1, max_size=30))
def test_known_events_are_kept_sorted_without_repeats(events):
    assert rules.check_events(events) == sorted(set(events))


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_unknown_event_names_are_refused(events):
    if set(events) <= set(rules.SUBSCRIPTION_EVENT_NAMES):
        return
    with pytest.raises(ValidationFailed) as refused:
        rules.check_events(events)
    assert list(refused.value.errors) == ["events"]


@pytest.mark.parametrize("events", [[], "*", ["*", "lot.issued"], [None], [["lot.issued"]], None])
def test_bad_event_lists_are_refused(events):
    with pytest.raises(ValidationFailed):
        rules.check_events(events)


def test_the_star_alone_means_everything():
    assert rules.check_events(["*", "*"]) == ["*"]
    for event_type in rules.EVENT_TYPES:
        assert rules.subscription_takes(subscribed=["*"], subscription_partner_id=None,
                                        event_type=event_type, event_partner_id=None)


def test_a_partner_subscription_takes_only_its_partner_events():
    takes = rules.subscription_takes
    assert takes(subscribed=["lot.issued"], subscription_partner_id="p", event_type="lot.issued",
                 event_partner_id="p")
    assert not takes(subscribed=["lot.issued"], subscription_partner_id="p",
                     event_type="lot.issued", event_partner_id="q")
    assert not takes(subscribed=["lot.issued"], subscription_partner_id="p",
                     event_type="lot.issued", event_partner_id=None)
    assert not takes(subscribed=["lot.issued"], subscription_partner_id=None,
                     event_type="lot.retired", event_partner_id=None)


def test_the_backoff_doubles_from_thirty_seconds_up_to_six_hours():
    waits = [rules.backoff(n).total_seconds() for n in range(1, 12)]
    assert waits[:5] == [30, 60, 120, 240, 480]
    assert waits[-1] == 6 * 3600 and waits == sorted(waits)
    assert rules.backoff(10_000) == rules.BACKOFF_CAP


@given(st.integers(1, 60), st.integers(1, 50))
def test_a_delivery_gives_up_exactly_at_the_maximum(attempts, maximum):
    now = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)
    status, next_at = rules.after_failure(attempts, max_attempts=maximum, now=now)
    assert (status == "failed") == (attempts >= maximum)
    assert (next_at is None) == (status == "failed")
    if next_at is not None:
        assert next_at == now + rules.backoff(attempts)


def test_a_subscription_is_disabled_at_the_limit():
    assert not rules.should_disable(19, disable_after=20)
    assert rules.should_disable(20, disable_after=20)


@pytest.mark.parametrize("address, public", [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("255.255.255.255", False), ("::1", False), ("fe80::1%eth0", False), ("fd00::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False), ("2002:7f00:1::", False),
    ("not an address", False),
])
def test_only_public_unicast_addresses_may_be_called(address, public):
    assert urls.is_public_address(address) is public


def test_the_body_is_canonical_json_and_signed_like_partner_requests():
    created = dt.datetime(2026, 12, 6, 4, 50, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    body = rules.event_body(event_id="e1", event_type="lot.issued", created_at=created,
                            data={"z": 1, "a": "碳"})
    assert body == ('{"created_at":"2026-12-05T20:50:00Z","data":{"a":"碳","z":1},"id":"e1",'
                    '"type":"lot.issued"}').encode()
    assert json.loads(body)["data"]["a"] == "碳"
    assert sign("whsec_x", "1765000000", body).startswith("sha256=")


def test_a_partner_never_receives_the_citizen_id():
    data = {"action_id": "a", "user_id": "u"}
    assert rules.withheld_for(data, partner_scoped=True) == {"action_id": "a"}
    assert rules.withheld_for(data, partner_scoped=False) == data
