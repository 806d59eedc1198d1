"""Card references: one card, one spelling (property tests), and the pure scope rules."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbon_credits.domain import partners as rules
from carbon_credits.domain.errors import ValidationFailed

SEPARATORS = [" ", "\t", "\u00a0", "\u3000", "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014",
              "\u2015", "\u2212", "\uff0d", "\u00ad", "\u200b"]
card_chars = st.sampled_from("0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz")


def full_width(ch: str) -> str:
    return chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch


@st.composite
def spellings(draw):
    """A card number and another way a person or an operator might write it."""
    card = draw(st.text(card_chars, min_size=1, max_size=20))
    spelled = []
    for ch in card:
        if draw(st.booleans()):
            ch = ch.swapcase()
        if draw(st.booleans()):
            ch = full_width(ch)
        spelled.append(ch)
        spelled.extend(draw(st.lists(st.sampled_from(SEPARATORS), max_size=2)))
    prefix = draw(st.lists(st.sampled_from(SEPARATORS), max_size=2))
    return card, "".join(prefix) + "".join(spelled)


@given(spellings())
def test_every_spelling_of_a_card_normalises_to_one_value(pair):
    card, spelled = pair
    assert rules.normalise_external_ref(spelled) == rules.normalise_external_ref(card)


@given(st.text(max_size=40))
def test_normalisation_is_idempotent(text):
    once = rules.normalise_external_ref(text)
    assert rules.normalise_external_ref(once) == once


@given(spellings())
def test_every_spelling_of_a_card_has_one_keyed_hash(pair):
    import uuid

    from carbon_credits.services import bindings, keys
    keys.configure("unit-test-secret-0123456789abcdef0123456789")
    partner_id = uuid.UUID(int=7)
    card, spelled = pair
    assert bindings.hash_external_ref(partner_id, spelled) == bindings.hash_external_ref(partner_id, card)


def test_examples():
    assert rules.normalise_external_ref("6230 1234-5678\u20139012") == "6230123456789012"
    assert rules.normalise_external_ref("ＣＡＲＤ－０００１") == "card0001"
    assert rules.normalise_external_ref(" \u200b ") == ""


def test_scopes_round_trip_and_validation():
    pairs = rules.validate_scopes(kind="transit_operator", scopes=[
        {"action_type": "transit", "modes": ["bus", "metro"]}, {"action_type": "ev_charging"}])
    assert pairs == {("transit", "bus"), ("transit", "metro"), ("ev_charging", None)}
    assert rules.scopes_from_pairs(pairs) == [{"action_type": "transit", "modes": ["metro", "bus"]},
                                              {"action_type": "ev_charging"}]
    assert rules.in_scope(pairs, "transit", "metro") and not rules.in_scope(pairs, "transit", "walk")
    assert rules.in_scope({("transit", None)}, "transit", "walk")
    with pytest.raises(ValidationFailed) as refused:
        rules.validate_scopes(kind="merchant", scopes=[{"action_type": "transit"}])
    assert refused.value.code == "partner_kind_has_no_scopes"
    assert rules.validate_scopes(kind="merchant", scopes=[]) == set()
