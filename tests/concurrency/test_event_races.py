"""Retirements against a carbon-neutral event racing on real PostgreSQL: the same serials
retired on two connections at once are retired, and counted for an event, exactly once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import CarbonEventRetirement, CertificateBlock, db
from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (admin, auditor, buyer, long_claim_window, lot,  # noqa: F401
                                         metro_month, verifier)
from tests.concurrency.support import race
from tests.events_support import PUBLIC_EVENTS, create_event, give_to_buyer, retire_for_event

pytestmark = pytest.mark.postgres


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        found = (db.session.scalar(select(func.count()).select_from(CarbonEventRetirement)),
                 db.session.scalar(select(func.count()).select_from(CertificateBlock)
                                   .where(CertificateBlock.status == "retired")))
        db.session.remove()
    return found


@pytest.mark.parametrize("same_event", [True, False], ids=["same event", "two events"])
def test_the_same_serials_retired_at_once_on_two_connections_count_once(
        app, client, admin, auditor, buyer, lot, same_event):
    events = [create_event(client, admin, buyer.id, name=f"Expo day {i}", kind="exhibition")
              for i in range(1 if same_event else 2)]
    give_to_buyer(client, admin, lot, buyer.id, 5)

    def retire(i):
        r = retire_for_event(app.test_client(), auditor, lot, event_id=events[i % len(events)]["id"],
                             holder_id=buyer.id, first=2, last=4)
        return r.status_code, r.get_json().get("type")

    results = race(2, retire)
    assert sorted(results) == [(201, None), (409, "/problems/already_retired")], results
    assert _counts(app) == (1, 1)
    retired = [client.get(f"{PUBLIC_EVENTS}/{e['id']}").json["retired_quantity"] for e in events]
    assert sorted(retired) == sorted([3] + [0] * (len(events) - 1))
