"""The service's signing key raced on real PostgreSQL: workers signing their first document at
once on a new deployment end up with one key; sealers racing publish one head per new link set;
rotations racing never leave two keys active."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from carbon_credits.services import ledger, signing
from models import SignedChainHead, SigningKey, db
from tests.concurrency.test_ledger_races import earn, make_user, race, setup

pytestmark = pytest.mark.postgres


def test_workers_signing_at_once_create_exactly_one_first_key(app):
    results = race(app, 8, lambda i: signing.sign({"type": "t", "i": i}).split(".")[0])
    assert [r for r in results if r[0] != "ok"] == []
    assert len({header for _, header in results}) == 1  # one kid in every header

    def keys():
        return db.session.scalar(select(func.count()).select_from(SigningKey))

    assert setup(app, keys) == 1


def test_rotations_at_once_leave_one_active_key_and_every_key_published(app):
    setup(app, signing.active_key)
    results = race(app, 4, lambda i: signing.rotate_key(reason=f"race {i}").kid)
    assert [r for r in results if r[0] == "crashed"] == []
    assert {r[1] for r in results if r[0] == "refused"} <= {"key_rotation_conflict"}

    def statuses():
        return list(db.session.scalars(select(SigningKey.status)))

    found = setup(app, statuses)
    assert found.count("active") == 1
    assert len(found) == 1 + sum(1 for r in results if r[0] == "ok")


def test_sealers_racing_sign_each_head_once(app):
    user = setup(app, make_user)
    for _ in range(5):
        setup(app, lambda: earn(user, 10, ref=uuid.uuid4().hex))
    results = race(app, 4, lambda i: ledger.seal_pending(settle_seconds=0))
    assert [r for r in results if r[0] != "ok"] == []
    assert sum(r[1] for r in results) == 5

    def heads():
        return [(h.position, h.transfers_sealed) for h in
                db.session.scalars(select(SignedChainHead).order_by(SignedChainHead.position))]

    assert setup(app, heads) == [(5, 5)]
