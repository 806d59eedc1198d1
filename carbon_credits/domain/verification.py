"""Pure rules of a third-party verification statement on a certified lot: the reproducible
sample of the lot's contributing actions, and which opinion lets the lot's serials move.
See docs/certificates.md, section 7.

The sample, method `hmac-sha256-v1`, so that anyone can draw it again from the statement:

1. write each contributing action id as its canonical UUID text (lower case, with hyphens,
   e.g. `00000000-0000-0000-0000-000000000001`) and drop repeats;
2. score each id with HMAC-SHA256, the key the seed's ASCII bytes, the message the id's ASCII
   bytes;
3. order the ids by score (the 32 digest bytes compared as unsigned bytes, i.e. as lower-case
   hex strings), ties (never seen in practice) by the id's text;
4. the sample is the first `sample_size` ids of that order, kept in that order.

The order is the same whatever order the ids are listed in, and a smaller sample of the same
seed is a prefix of a larger one.
"""
from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import uuid
from collections.abc import Iterable

from carbon_credits.domain.vocabulary import VERIFICATION_OPINIONS

SAMPLE_METHOD = "hmac-sha256-v1"
SAMPLE_METHODS = (SAMPLE_METHOD,)
MAX_SAMPLE_SIZE = 10_000
SEED_MAX_LENGTH = 128
# Printable ASCII without spaces: the same bytes whoever types the seed again.
SEED_RE = re.compile(r"^[\x21-\x7e]{1,%d}$" % SEED_MAX_LENGTH)
UNLOCKING_OPINION = "positive"
UNVERIFIED = "unverified"


def canonical_action_id(action_id: str | uuid.UUID) -> str:
    """The id as sampled: canonical UUID text. ValueError if it is not a UUID."""
    return str(action_id if isinstance(action_id, uuid.UUID) else uuid.UUID(str(action_id)))


def _seed_key(seed: str) -> bytes:
    if not isinstance(seed, str) or not SEED_RE.match(seed):
        raise ValueError("the seed must be 1-128 printable ASCII characters without spaces")
    return seed.encode("ascii")


def sample_score(seed: str, action_id: str | uuid.UUID) -> str:
    """HMAC-SHA256(key = seed, message = canonical action id), as lower-case hex."""
    return hmac.new(_seed_key(seed), canonical_action_id(action_id).encode("ascii"),
                    hashlib.sha256).hexdigest()


def draw_sample(seed: str, action_ids: Iterable[str | uuid.UUID], sample_size: int) -> list[str]:
    """The `sample_size` ids with the lowest scores under `seed`, lowest first (method
    `hmac-sha256-v1`, module docstring). ValueError for a bad seed or a size outside 1..the
    number of ids."""
    key = _seed_key(seed)
    ids = sorted({canonical_action_id(a) for a in action_ids})
    if not 1 <= sample_size <= len(ids):
        raise ValueError(f"the sample size must be between 1 and {len(ids)}")
    return heapq.nsmallest(sample_size, ids, key=lambda a: (
        hmac.new(key, a.encode("ascii"), hashlib.sha256).hexdigest(), a))


def verification_status(latest_opinion: str | None) -> str:
    """A lot's status: the opinion of its latest statement, or `unverified` without one."""
    if latest_opinion is not None and latest_opinion not in VERIFICATION_OPINIONS:
        raise ValueError(f"unknown opinion {latest_opinion!r}")
    return latest_opinion or UNVERIFIED


def unlocks_moves(latest_opinion: str | None) -> bool:
    """Whether a lot whose latest statement has this opinion (None: no statement) may have its
    serials transferred or retired: only after a positive opinion. A later qualified or
    negative statement locks the lot again."""
    return latest_opinion == UNLOCKING_OPINION
