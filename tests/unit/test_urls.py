"""The shared URL rules (carbon_credits/domain/urls.py) behind webhook targets and reward images."""
from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain.urls import is_public_host, url_problem

HTTPS = ("https",)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=50), st.integers(), st.none()))
def test_any_value_gets_an_answer_never_an_exception(value):
    problem = url_problem(value, schemes=("https", "http"), max_length=200)
    assert problem is None or problem.startswith("The URL")


@given(st.text(max_size=300))
def test_what_is_accepted_is_absolute_with_a_host_and_nothing_hidden(text):
    if url_problem(text, schemes=HTTPS, max_length=500, public_host=True) is None:
        parts = urllib.parse.urlsplit(text)
        assert parts.scheme == "https" and parts.hostname and parts.username is None
        assert not parts.fragment and text.isascii() and not any(c.isspace() for c in text)
        assert is_public_host(parts.hostname)


@pytest.mark.parametrize("url,problem", [
    ("https://example.org/a.png", None),
    ("HTTPS://example.org/", "The URL must start with https://."),
    ("https://user:pw@example.org/", "The URL must not carry credentials."),
    ("https://example.org/#top", "The URL must not have a fragment."),
    ("https://example.org:0/", "The URL must name a host (and a port from 1 to 65535)."),
    ("https://example.org:70000/", "The URL is not valid."),
    ("https://exa mple.org/", "The URL must be printable ASCII without spaces or backslashes "
                              "(punycode and percent-encoding for the rest)."),
    ("https://10.1.2.3/", "The URL must name a public host."),
    ("https://[::ffff:127.0.0.1]/", "The URL must name a public host."),
    ("https://0x7f.1/", "The URL must name a public host."),
    ("https://" + "a" * 500 + ".org/", "The URL must be 1 to 500 characters."),
])
def test_each_kind_of_refusal_says_why(url, problem):
    assert url_problem(url, schemes=HTTPS, max_length=500, public_host=True) == problem
