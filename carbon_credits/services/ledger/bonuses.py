"""Campaign bonuses (docs/engagement.md): points from the `incentive` account to a citizen, with
a lot of their own so they expire like any other points. A bonus has no grams behind it: it is
a `bonus` transfer, never an `earn`, so no reduction figure (reports, public totals, lots,
leaderboards: all read credited actions) and no `earn` total ever counts it.

Lock order: the citizen's account (the caller may have locked it already in this unit of work).
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, insert, select

from carbon_credits.config import get_settings
from carbon_credits.domain import ledger as rules
from carbon_credits.services.ledger.core import (ACCOUNTS, LOTS, expire_lots_locked,
                                                 insert_transfers, lock_citizen_accounts, move,
                                                 posted_with_refs, ref_conflict,
                                                 system_account_id, take_from_lots)
from carbon_credits.services.uow import unit_of_work
from models import Campaign, CampaignClaim, LedgerTransfer, db, utcnow

BONUS_REASON = "campaign_bonus"
BONUS_REVERSAL_REASON = "campaign_bonus_reversed"


def bonus_ref(campaign_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """One ref per citizen per campaign: the ledger's own unique index refuses a second bonus."""
    return f"bonus:{campaign_id}:{user_id}"


def bonus_reversal_ref(campaign_id: uuid.UUID, action_id: uuid.UUID) -> str:
    """One ref per campaign per reversed action: an action is reversed once, so its effect on
    a bonus is taken back once."""
    return f"bonus_reversal:{campaign_id}:{action_id}"


def campaign_of_ref(external_ref: str | None) -> uuid.UUID | None:
    """The campaign a `bonus` or `bonus_reversal` transfer's ref names (the statement's label)."""
    if not external_ref or not external_ref.startswith(("bonus:", "bonus_reversal:")):
        return None
    return uuid.UUID(external_ref.split(":")[1])


def post_bonus(*, user_id: uuid.UUID, campaign_id: uuid.UUID, amount: int,
               now: dt.datetime | None = None) -> LedgerTransfer:
    """Credit a citizen `amount` bonus points from the incentive account and open a lot that
    expires like an earn's. The same campaign again returns the first transfer (other details:
    409 `ledger_ref_conflict`)."""
    rules.check_points(amount)
    now = now or utcnow()
    ref = bonus_ref(campaign_id, user_id)
    with unit_of_work():
        account_of, _ = lock_citizen_accounts({user_id})
        account_id = account_of[user_id]
        prior = db.session.scalars(select(LedgerTransfer).where(posted_with_refs(ref))).first()
        if prior is not None:
            if (prior.kind, prior.credit_account_id, prior.amount) != ("bonus", account_id, amount):
                raise ref_conflict(ref)
            return prior
        balance_after, _ = move(account_id, balance=amount)
        (transfer,) = insert_transfers([{
            "posting_id": uuid.uuid4(), "kind": "bonus", "reason": BONUS_REASON,
            "debit_account_id": system_account_id("incentive"), "credit_account_id": account_id,
            "amount": amount, "citizen_account_id": account_id, "balance_after": balance_after,
            "external_ref": ref, "event_time": now}])
        db.session.execute(insert(LOTS).values(
            account_id=account_id, earn_transfer_id=transfer.id, amount=amount, remaining=amount,
            expired_amount=0, created_at=utcnow(),
            expires_at=rules.add_months(now, get_settings().points_expiry_months)))
    return transfer


def reverse_bonus(*, bonus: LedgerTransfer, amount: int, campaign_id: uuid.UUID,
                  action_id: uuid.UUID, now: dt.datetime | None = None) -> tuple[int, int]:
    """Take `amount` of a paid bonus back to the incentive account, capped at the citizen's
    available balance (from the bonus's own lot first): `(clawed_back, shortfall)`, as an
    earn's reversal does. The caller holds the citizen's account lock."""
    rules.check_points(amount)
    now = now or utcnow()
    account_id = bonus.credit_account_id
    posting_id = uuid.uuid4()
    expire_lots_locked(account_id, now, posting_id)
    available = db.session.execute(select(ACCOUNTS.c.balance)
                                   .where(ACCOUNTS.c.id == account_id)).scalar_one()
    clawed, shortfall = rules.clawback(earned=amount, available=available)
    if clawed:
        balance_after, _ = move(account_id, balance=-clawed, require_balance=clawed)
        take_from_lots(account_id, clawed, prefer_earn=bonus.id)
        insert_transfers([{
            "posting_id": posting_id, "kind": "bonus_reversal", "reason": BONUS_REVERSAL_REASON,
            "debit_account_id": account_id, "credit_account_id": system_account_id("incentive"),
            "amount": clawed, "citizen_account_id": account_id, "balance_after": balance_after,
            "action_id": action_id, "reversal_of": bonus.id,
            "external_ref": bonus_reversal_ref(campaign_id, action_id), "event_time": now}])
    return clawed, shortfall


def bonus_problems() -> list[str]:
    """For `verify`: every bonus transfer is one claim's (same citizen, same points), every
    claim has its transfer, each claim's `bonus_reversal` transfers take back from its bonus
    exactly its `clawed_back_points`, and each campaign's spend is its claims' total, within
    budget."""
    claims = {row.transfer_id: row for row in db.session.execute(
        select(CampaignClaim.transfer_id, CampaignClaim.campaign_id, CampaignClaim.user_id,
               CampaignClaim.points, CampaignClaim.clawed_back_points))}
    problems = _claim_transfer_problems(dict(claims))
    taken_back = dict(db.session.execute(
        select(LedgerTransfer.reversal_of, func.sum(LedgerTransfer.amount))
        .where(LedgerTransfer.kind == "bonus_reversal")
        .group_by(LedgerTransfer.reversal_of)).all())
    for transfer_id, claim in claims.items():
        if int(taken_back.pop(transfer_id, 0)) != claim.clawed_back_points:
            problems.append(f"campaign claim of transfer {transfer_id}: clawed back "
                            f"{claim.clawed_back_points}, its bonus_reversal transfers differ")
    problems += [f"bonus_reversal of {tid}: not a campaign bonus" for tid in taken_back]
    spent = dict(db.session.execute(select(CampaignClaim.campaign_id,
                                           func.sum(CampaignClaim.points))
                                    .group_by(CampaignClaim.campaign_id)).all())
    for c in db.session.execute(select(Campaign.id, Campaign.spent_points, Campaign.budget_points)):
        if c.spent_points != int(spent.get(c.id, 0)) or c.spent_points > c.budget_points:
            problems.append(f"campaign {c.id}: spent {c.spent_points} of {c.budget_points}, "
                            f"its claims total {int(spent.get(c.id, 0))}")
    return problems


def _claim_transfer_problems(claims: dict) -> list[str]:
    """Each `bonus` transfer against the claim that paid it (`claims`: transfer id -> claim;
    consumed)."""
    problems = []
    for t in db.session.execute(select(LedgerTransfer.id, LedgerTransfer.amount,
                                       LedgerTransfer.external_ref)
                                .where(LedgerTransfer.kind == "bonus")):
        claim = claims.pop(t.id, None)
        if claim is None or claim.points != t.amount \
                or t.external_ref != bonus_ref(claim.campaign_id, claim.user_id):
            problems.append(f"bonus transfer {t.id}: no campaign claim of {t.amount} points")
    return problems + [f"campaign claim of transfer {tid}: no bonus transfer" for tid in claims]
