"""Business figures for monitoring (/metrics): actions by status, points by transfer kind, and
the holds still open, counted from the database.

Counting from the database (not in-process counters) keeps the figures right across gunicorn
workers, RQ workers and restarts, and counts work done by any process. They may be read on the
read replica (services/replica.py): a scrape tolerates seconds of lag.
"""
from __future__ import annotations

from sqlalchemy import func, select

from carbon_credits.domain.vocabulary import ACTION_STATUSES
from carbon_credits.services.replica import read_session
from models import Action, LedgerHold, LedgerTransfer, db

# The transfer kinds whose point totals are exported as counters.
COUNTED_TRANSFER_KINDS = ("earn", "redeem", "expire", "reversal", "donate")


def read_business_figures() -> dict:
    """Three aggregate queries in one read-only transaction, which is always ended here."""
    try:
        with read_session() as session:
            actions = dict(session.execute(select(Action.status, func.count())
                                           .group_by(Action.status)).all())
            points = dict(session.execute(
                select(LedgerTransfer.kind, func.coalesce(func.sum(LedgerTransfer.amount), 0))
                .where(LedgerTransfer.kind.in_(COUNTED_TRANSFER_KINDS))
                .group_by(LedgerTransfer.kind)).all())
            holds = session.execute(
                select(func.count(), func.coalesce(func.sum(LedgerHold.amount), 0))
                .where(LedgerHold.status == "pending")).one()
    finally:
        db.session.rollback()
    return {"actions": {s: int(actions.get(s, 0)) for s in ACTION_STATUSES},
            "points": {k: int(v) for k, v in points.items()},
            "holds_open": int(holds[0]), "holds_open_points": int(holds[1])}
