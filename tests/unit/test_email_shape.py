"""The two steps of normalise_email: the shape of an address, then script spoofing (pure)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain.identifiers import (MAX_EMAIL_LENGTH, imitates_another_address,
                                               is_email_shaped)


@pytest.mark.parametrize("value", ["alice@example.com", "john.doe+tag@mail.example.cn",
                                   "张伟@例子.中国", "a@b.c"])
def test_plain_addresses_have_the_shape(value):
    assert is_email_shaped(value)


@pytest.mark.parametrize("value", [
    "", "alice", "alice@", "@example.com", "alice@example", "alice@@example.com",
    "alice@example..com", "alice@.example.com", "alice@example.com.", "a b@example.com",
    'a"b@example.com', "a(b)@example.com", "a,b@example.com", "a:b@example.com",
    "a;b@example.com", "<a>@example.com", "[a]@example.com", "a\\b@example.com",
    "a\x00@example.com", "a\u200b@example.com", "a\u202e@example.com",
])
def test_malformed_addresses_do_not_have_the_shape(value):
    assert not is_email_shaped(value)


def test_the_length_limit_counts_the_whole_address():
    domain = "@example.com"
    assert is_email_shaped("a" * (MAX_EMAIL_LENGTH - len(domain)) + domain)
    assert not is_email_shaped("a" * (MAX_EMAIL_LENGTH - len(domain) + 1) + domain)


@given(st.text(min_size=1), st.sampled_from(" \t\n\r\x0b\x0c"), st.text())
def test_no_address_with_whitespace_has_the_shape(before, space, after):
    assert not is_email_shaped(before + space + after)


@pytest.mark.parametrize("value", ["аlice@example.com",    # Cyrillic а among Latin letters
                                   "alice@exаmple.com",    # ... in a domain label
                                   "аре@example.com",      # wholly Cyrillic Latin look-alikes
                                   "αlice@example.com"])
def test_spoofing_addresses_imitate_another(value):
    assert imitates_another_address(value)


@pytest.mark.parametrize("value", ["alice@example.com", "почта@example.com", "почта@пример.рф",
                                   "zhang伟@example.cn", "山田たろう@example.jp", "김민준@example.kr",
                                   "user@рф.example"])  # a look-alike domain label is allowed
def test_single_script_and_east_asian_mixes_imitate_nothing(value):
    assert not imitates_another_address(value)
