"""Donations: points leave a citizen for a public-good project's account (`donate`), oldest
lots first, and never move again. The project's account, like the system accounts, keeps no
running balance and is never locked: its total lives on the project row (services/donations.py),
moved by the caller in the same unit of work.

Lock order: the citizen's account; the caller's project update comes after."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert, select

from carbon_credits.domain import ledger as rules
from carbon_credits.domain.errors import Conflict
from carbon_credits.services.ledger.core import (ACCOUNTS, expire_lots_locked,
                                                 insert_transfers, lock_citizen_accounts, move,
                                                 posted_with_refs, ref_conflict, take_from_lots)
from carbon_credits.services.uow import unit_of_work
from models import LedgerTransfer, db, utcnow


def open_project_account() -> int:
    """A new, empty ledger account for a project (kind `project`, no running balance)."""
    return db.session.execute(insert(ACCOUNTS).values(kind="project", balance=0, reserved=0,
                                                      created_at=utcnow())
                              .returning(ACCOUNTS.c.id)).scalar_one()


def post_donation(*, user_id: uuid.UUID, project_account_id: int, amount: int,
                  external_ref: str, now: dt.datetime | None = None) -> LedgerTransfer:
    """Move `amount` available points from the citizen to a project's account, oldest lots
    first (points past their expiry are swept first: they are not the citizen's to give).

    409 `insufficient_balance` when the available balance cannot cover it; the same
    `external_ref` again returns the first transfer (other details: 409 `ledger_ref_conflict`)."""
    rules.check_points(amount)
    rules.check_ref(external_ref)
    now = now or utcnow()
    with unit_of_work():
        account_of, _ = lock_citizen_accounts({user_id})
        account_id = account_of[user_id]
        prior = db.session.scalars(select(LedgerTransfer)
                                   .where(posted_with_refs(external_ref))).first()
        if prior is not None:
            if (prior.kind, prior.debit_account_id, prior.credit_account_id, prior.amount) != \
                    ("donate", account_id, project_account_id, amount):
                raise ref_conflict(external_ref)
            return prior
        posting_id = uuid.uuid4()
        expire_lots_locked(account_id, now, posting_id)
        moved = move(account_id, balance=-amount, require_balance=amount)
        if moved is None:
            raise Conflict("Not enough available points.", code="insufficient_balance")
        take_from_lots(account_id, amount)
        (transfer,) = insert_transfers([{
            "posting_id": posting_id, "kind": "donate", "reason": "points_donated",
            "debit_account_id": account_id, "credit_account_id": project_account_id,
            "amount": amount, "citizen_account_id": account_id, "balance_after": moved[0],
            "external_ref": external_ref, "event_time": now}])
    return transfer
