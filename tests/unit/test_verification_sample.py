"""The verification sample (domain/verification.py, docs/certificates.md section 7): drawn from a
seed by HMAC-SHA256, so anyone holding the statement and the lot's action ids draws it again."""
from __future__ import annotations

import hashlib
import hmac
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_credits.domain.verification import (draw_sample, sample_score, unlocks_moves,
                                                verification_status)

# The worked example of docs/certificates.md, section 7.
EXAMPLE_SEED = "suzhou-2026-lot-7"
EXAMPLE_IDS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 11)]


def test_the_documented_worked_example():
    assert sample_score(EXAMPLE_SEED, EXAMPLE_IDS[4]) == \
        "1e89db531bab827ac7f3e9c76e99bdb3698888585d14042062dbf35fca514de5"
    assert draw_sample(EXAMPLE_SEED, EXAMPLE_IDS, 3) == [
        "00000000-0000-0000-0000-000000000005",
        "00000000-0000-0000-0000-000000000008",
        "00000000-0000-0000-0000-000000000006",
    ]


def test_the_score_is_plain_hmac_sha256_of_the_canonical_id():
    action_id = uuid.UUID("6f1c9a52-0d3e-4b7a-9c11-2f5e8d7a4b30")
    expected = hmac.new(b"any-seed", str(action_id).encode(), hashlib.sha256).hexdigest()
    assert sample_score("any-seed", action_id) == expected
    assert sample_score("any-seed", str(action_id).upper()) == expected
    assert sample_score("any-seed", action_id.hex) == expected


def test_same_seed_same_sample_whatever_the_order_of_the_ids():
    rng = random.Random(7)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(200)]
    shuffled = random.Random(1).sample(ids, len(ids))
    assert draw_sample("seed-A", ids, 20) == draw_sample("seed-A", shuffled, 20)
    assert draw_sample("seed-A", ids, 20) == draw_sample("seed-A", ids + ids[:5], 20)
    assert draw_sample("seed-A", ids, 20) != draw_sample("seed-B", ids, 20)


@settings(max_examples=50, deadline=None)
@given(ids=st.sets(st.uuids(), min_size=1, max_size=60), seed=st.from_regex(r"[!-~]{1,20}", fullmatch=True),
       data=st.data())
def test_a_sample_is_the_lowest_scores_and_a_smaller_one_is_its_prefix(ids, seed, data):
    size = data.draw(st.integers(min_value=1, max_value=len(ids)))
    sample = draw_sample(seed, ids, size)
    by_score = sorted((sample_score(seed, i), str(i)) for i in ids)
    assert sample == [i for _, i in by_score[:size]]
    assert len(set(sample)) == size
    assert draw_sample(seed, ids, max(1, size - 1)) == sample[:max(1, size - 1)]


@pytest.mark.parametrize("seed, size", [("", 1), ("two words", 1), ("苏州", 1), ("s" * 129, 1),
                                        ("ok", 0), ("ok", 11), ("ok", -1)])
def test_bad_seeds_and_sizes_are_refused(seed, size):
    with pytest.raises(ValueError):
        draw_sample(seed, EXAMPLE_IDS, size)


def test_a_non_uuid_is_refused():
    with pytest.raises(ValueError):
        draw_sample("ok", ["not-an-id"], 1)


@pytest.mark.parametrize("opinion, status, unlocked", [
    (None, "unverified", False), ("positive", "positive", True),
    ("qualified", "qualified", False), ("negative", "negative", False)])
def test_only_a_positive_latest_opinion_unlocks_a_lot(opinion, status, unlocked):
    assert verification_status(opinion) == status
    assert unlocks_moves(opinion) is unlocked


def test_an_unknown_opinion_is_refused():
    with pytest.raises(ValueError):
        verification_status("fine")
