"""Reads: a citizen's balance (the account row plus live lots, never the transfer history)
and statement, and a transfer as the statement shows it.

The balance is read on the primary, always: a citizen who has just earned or spent must see it
(read-your-writes), and spending decisions are taken on it. The statement may come from the
read replica (services/replica.py): it tolerates seconds of lag."""
from __future__ import annotations

import datetime as dt
import operator
import uuid

from sqlalchemy import func, select

from carbon_credits.services.ledger.bonuses import campaign_of_ref
from carbon_credits.services.ledger.core import ACCOUNTS, LOTS, Balance, StatementEntry
from carbon_credits.services.pagination import descending_key_page, where_given
from carbon_credits.services.replica import read_session
from models import LedgerTransfer, db, utcnow


def get_balance(*, user_id: uuid.UUID, now: dt.datetime | None = None,
                expiring_limit: int = 50) -> Balance:
    """Available (posted minus open holds, minus points already past expiry), reserved, and
    what expires when: the account row plus the live lots, never the transfer history."""
    now = now or utcnow()
    account = db.session.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.balance, ACCOUNTS.c.reserved)
                                 .where(ACCOUNTS.c.user_id == user_id)).first()
    if account is None:
        return Balance(available=0, reserved=0, expiring=[])
    live = (LOTS.c.account_id == account.id, LOTS.c.remaining > 0)
    overdue = db.session.execute(select(func.coalesce(func.sum(LOTS.c.remaining), 0))
                                 .where(*live, LOTS.c.expires_at <= now)).scalar_one()
    expiring = db.session.execute(
        select(func.sum(LOTS.c.remaining), LOTS.c.expires_at).where(*live, LOTS.c.expires_at > now)
        .group_by(LOTS.c.expires_at).order_by(LOTS.c.expires_at).limit(expiring_limit)).all()
    return Balance(available=account.balance - int(overdue), reserved=account.reserved,
                   expiring=[(int(points), expires_at) for points, expires_at in expiring])


def get_available_balance(*, user_id: uuid.UUID) -> int:
    return get_balance(user_id=user_id, expiring_limit=0).available


def list_statement(*, user_id: uuid.UUID, kind: str | None = None,
                   action_id: uuid.UUID | None = None, redemption_id: uuid.UUID | None = None,
                   since: dt.datetime | None = None, until: dt.datetime | None = None,
                   after: tuple | None = None, limit: int = 50):
    """The citizen's entries newest first, keyset-paginated on `seq`: `(entries, next_key)`."""
    with read_session() as session:
        account_id = session.execute(select(ACCOUNTS.c.id)
                                     .where(ACCOUNTS.c.user_id == user_id)).scalar()
        if account_id is None:
            return [], None
        query = where_given(select(LedgerTransfer)
                            .where(LedgerTransfer.citizen_account_id == account_id),
                            (LedgerTransfer.kind, operator.eq, kind),
                            (LedgerTransfer.action_id, operator.eq, action_id),
                            (LedgerTransfer.redemption_id, operator.eq, redemption_id),
                            (LedgerTransfer.recorded_at, operator.ge, since),
                            (LedgerTransfer.recorded_at, operator.lt, until))
        page, last = descending_key_page(query, LedgerTransfer.seq, after=after, limit=limit,
                                         session=session)
        return [statement_entry(t, account_id) for t in page], last


def statement_entry(t: LedgerTransfer, account_id: int | None = None) -> StatementEntry:
    """A transfer as the citizen's statement shows it (default: its citizen's side)."""
    account_id = t.citizen_account_id if account_id is None else account_id
    return StatementEntry(id=t.id, seq=t.seq, kind=t.kind, reason=t.reason,
                          amount=t.signed_amount(account_id), points=t.amount,
                          balance_after=t.balance_after, action_id=t.action_id,
                          redemption_id=t.redemption_id, hold_id=t.hold_id,
                          event_time=t.event_time, created_at=t.recorded_at,
                          donation_id=_donation_of(t),
                          campaign_id=campaign_of_ref(t.external_ref))


def _donation_of(t: LedgerTransfer) -> uuid.UUID | None:
    """A `donate` transfer's donation (its ref is `donation:<id>`, minted with the donation)."""
    if t.kind != "donate":
        return None
    return uuid.UUID(t.external_ref.removeprefix("donation:"))
