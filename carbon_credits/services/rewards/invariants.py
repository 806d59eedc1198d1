"""The rewards' invariants, run by `ledger verify` and after every test: claim counters match
live redemptions, and every redemption's ledger hold agrees with its status."""
from __future__ import annotations

from sqlalchemy import func, select

from carbon_credits.domain import vouchers
from models import LedgerHold, Redemption, RewardClaim, db


def check_rewards() -> list[str]:
    """Claim counters match live redemptions; every redemption's hold agrees with its status."""
    problems = []
    live = dict(((r, u), n) for r, u, n in db.session.execute(
        select(Redemption.reward_id, Redemption.user_id, func.count())
        .where(Redemption.status.in_(("reserved", "redeemed")))
        .group_by(Redemption.reward_id, Redemption.user_id)).all())
    for reward_id, user_id, count in db.session.execute(
            select(RewardClaim.reward_id, RewardClaim.user_id, RewardClaim.live)).all():
        if live.pop((reward_id, user_id), 0) != count:
            problems.append(f"reward {reward_id}: claim counter of user {user_id} is {count}, "
                            f"live redemptions differ")
    for (reward_id, user_id), count in live.items():
        problems.append(f"reward {reward_id}: {count} live redemptions of user {user_id} "
                        f"without a claim counter")
    for rid, status, points, hold_status, hold_amount in db.session.execute(
            select(Redemption.id, Redemption.status, Redemption.points, LedgerHold.status,
                   LedgerHold.amount).join(LedgerHold, LedgerHold.id == Redemption.hold_id)):
        if not vouchers.hold_agrees(status=status, points=points, hold_status=hold_status,
                                    hold_amount=hold_amount):
            problems.append(f"redemption {rid} ({status}, {points} points): hold is "
                            f"{hold_status} for {hold_amount}")
    return problems
