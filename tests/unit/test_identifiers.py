"""Identifiers: one spelling per email address and per phone number (pure, no database)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.identifiers import (InvalidIdentifier, identifier_kind, normalise_email,
                                               normalise_identifier, normalise_phone)


@pytest.mark.parametrize("raw", ["alice@example.com", "Alice@Example.COM", " alice@example.com ",
                                 "ａｌｉｃｅ@example.com", "ＡＬＩＣＥ＠ＥＸＡＭＰＬＥ．ＣＯＭ"])
def test_spellings_of_one_email_are_one_address(raw):
    assert normalise_email(raw) == "alice@example.com"


@pytest.mark.parametrize("raw", ["аlice@example.com",      # Cyrillic а in a Latin name
                                 "alice@exаmple.com",      # ... in the domain
                                 "аре@example.com",        # all Cyrillic, all Latin look-alikes
                                 "αlice@example.com"])     # Greek alpha
def test_addresses_imitating_another_are_refused(raw):
    with pytest.raises(InvalidIdentifier) as refused:
        normalise_email(raw)
    assert "email" in refused.value.errors


@pytest.mark.parametrize("raw", ["张伟@example.cn", "用户@例子.中国", "почта@пример.рф",
                                 "почта@example.com", "山田たろう@example.jp", "zhang伟@example.cn",
                                 "김민준@example.kr", "john.doe+tag@example.com"])
def test_plain_single_script_and_east_asian_addresses_stay_allowed(raw):
    assert normalise_email(raw) == raw.casefold()


@pytest.mark.parametrize("raw", ["", "alice", "alice@", "@example.com", "a b@example.com",
                                 "alice@example", "alice@@example.com", "alice@example..com",
                                 "a\x00@example.com", "a" * 250 + "@example.com"])
def test_malformed_emails_are_refused(raw):
    with pytest.raises(InvalidIdentifier):
        normalise_email(raw)


@pytest.mark.parametrize("raw", ["13900139000", "+8613900139000", "008613900139000",
                                 "139 0013 9000", "+86 139-0013-9000", "１３９００１３９０００",
                                 "＋８６１３９００１３９０００", "(+86) 139 0013 9000"])
def test_spellings_of_one_phone_number_are_one_e164(raw):
    assert normalise_phone(raw) == "+8613900139000"


@pytest.mark.parametrize("raw", ["12345", "abc", "+86", "139001390001234", "+999 1234 5678", ""])
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(InvalidIdentifier) as refused:
        normalise_phone(raw)
    assert "phone" in refused.value.errors


def test_foreign_numbers_keep_their_country():
    assert normalise_phone("+1 415 555 2671") == "+14155552671"


def test_identifier_kind_and_normalise_identifier():
    assert identifier_kind("ana＠example.org") == "email"
    assert identifier_kind("13800138000") == "phone"
    assert normalise_identifier("13800138000") == ("phone", "+8613800138000")
    assert normalise_identifier("Ana@Example.org") == ("email", "ana@example.org")


_SEPARATORS = st.sampled_from(["", " ", "-", "\u3000", "\u00a0"])


@st.composite
def spellings_of_a_mobile_number(draw):
    subscriber = draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    prefix = draw(st.sampled_from(["", "+86", "0086", "+86 ", "(+86)", "＋８６"]))
    digits = list(subscriber)
    if draw(st.booleans()):  # fullwidth digits
        digits = [chr(ord("０") + int(d)) for d in digits]
    sep = draw(_SEPARATORS)
    text = "".join(digits[:3]) + sep + "".join(digits[3:7]) + sep + "".join(digits[7:])
    return subscriber, prefix + text


@given(spellings_of_a_mobile_number())
@settings(max_examples=200, deadline=None)
def test_every_spelling_of_a_number_normalises_to_one_value(case):
    subscriber, spelling = case
    try:
        expected = normalise_phone(subscriber)
    except InvalidIdentifier:
        return  # a block of numbers not (yet) assigned: refused whichever way it is spelled
    assert normalise_phone(spelling) == expected == "+86" + subscriber


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_normalisation_is_idempotent_and_arbitrary_text_raises_only_validation(text):
    for normalise in (normalise_email, normalise_phone):
        try:
            once = normalise(text)
        except ValidationFailed as error:
            assert isinstance(error, InvalidIdentifier)
            continue
        assert normalise(once) == once


@given(st.emails())
@settings(max_examples=200, deadline=None)
def test_generated_emails_normalise_idempotently(email):
    try:
        once = normalise_email(email)
    except InvalidIdentifier:
        return
    assert normalise_email(once) == once
    assert normalise_email(once.upper()) == once
