"""`verify_ledger`: recompute the books from the transfers and compare with every stored
figure. Each invariant is one small checker; the rules themselves are pure
(carbon_credits/domain/ledger.py), this module only reads the rows they need. Read-only."""
from __future__ import annotations

import collections
import dataclasses

from sqlalchemy import exists, func, select

from carbon_credits.domain import ledger as rules
from carbon_credits.domain.donations import project_problems
from carbon_credits.domain.ledger import SEALED_FIELDS
from carbon_credits.services.ledger.chain import canonical
from carbon_credits.services.ledger.core import (ACCOUNTS, HEAD, HOLD_LOTS, HOLDS, LOTS, REVERSALS,
                                                 SEALS, TRANSFERS)
from models import Donation, PublicProject, db


@dataclasses.dataclass
class VerifyReport:
    ok: bool
    entries_checked: int
    chain_head: str
    sealed: int
    pending_seal: int
    problems: list[str]


def verify_ledger() -> VerifyReport:
    """Recompute everything from the transfers: double entry, every stored balance, the
    balance-after walk, holds, lots, reversals and the hash chain. Read-only.

    Unsealed transfers are not a problem (the sealer runs off the hot path); they are counted in
    `pending_seal` and still checked against balances. One below the sealer's watermark is."""
    accounts = {row.id: row for row in db.session.execute(select(ACCOUNTS)).all()}
    walk = _walk_transfers(accounts)
    problems = walk.problems + walk.double_entry_problems()
    problems += _verify_accounts(accounts, walk)
    problems += _verify_holds() + _verify_reversals() + _verify_projects(walk)
    from carbon_credits.services.ledger.bonuses import bonus_problems
    problems += bonus_problems()  # every bonus is a campaign claim's (docs/engagement.md)
    sealed, head_hash, chain_problems = _verify_chain()
    problems += chain_problems
    return VerifyReport(ok=not problems, entries_checked=walk.count, chain_head=head_hash,
                        sealed=sealed, pending_seal=walk.count - sealed, problems=problems)


def _walk_transfers(accounts: dict) -> rules.TransferWalk:
    """Every transfer in `seq` order: shapes, amounts and each citizen's balance_after."""
    walk = rules.TransferWalk(account_kinds={i: row.kind for i, row in accounts.items()})
    for t in db.session.execute(select(TRANSFERS).order_by(TRANSFERS.c.seq)
                                .execution_options(yield_per=2000)):
        walk.add(t)
    return walk


def _verify_accounts(accounts: dict, walk: rules.TransferWalk) -> list[str]:
    """Each account's stored balance and reserve against its transfers, holds and lots."""
    pending_holds = dict(db.session.execute(
        select(HOLDS.c.account_id, func.sum(HOLDS.c.amount))
        .where(HOLDS.c.status == "pending").group_by(HOLDS.c.account_id)).all())
    lot_sums = dict(db.session.execute(
        select(LOTS.c.account_id, func.sum(LOTS.c.remaining)).group_by(LOTS.c.account_id)).all())
    all_pending = sum(int(v) for v in pending_holds.values())
    problems: list[str] = []
    for account in accounts.values():
        problems += rules.account_problems(rules.AccountFigures(
            id=account.id, kind=account.kind, balance=account.balance, reserved=account.reserved,
            derived=walk.derived.get(account.id, 0),
            pending_holds=int(pending_holds.get(account.id, 0)),
            live_lots=int(lot_sums.get(account.id, 0)),
            last_after=walk.last_after.get(account.id, 0), all_pending_holds=all_pending))
    return problems


def _verify_holds() -> list[str]:
    """Each hold carries its reserve (and settlement) transfers and its lot allocations."""
    legs = collections.defaultdict(list)
    for hold_id, kind, amount in db.session.execute(
            select(TRANSFERS.c.hold_id, TRANSFERS.c.kind, TRANSFERS.c.amount)
            .where(TRANSFERS.c.hold_id.is_not(None))):
        legs[hold_id].append((kind, amount))
    allocated = dict(db.session.execute(select(HOLD_LOTS.c.hold_id, func.sum(HOLD_LOTS.c.amount))
                                        .group_by(HOLD_LOTS.c.hold_id)).all())
    problems: list[str] = []
    for hold in db.session.execute(select(HOLDS)):
        problems += rules.hold_problems(hold_id=hold.id, status=hold.status, amount=hold.amount,
                                        legs=legs.get(hold.id, []),
                                        allocated=allocated.get(hold.id, 0))
    return problems


def _verify_reversals() -> list[str]:
    """Each reversal's clawback and shortfall add up to the earn, the clawback to its transfer."""
    rows = db.session.execute(
        select(REVERSALS, TRANSFERS.c.amount.label("clawed_amount"))
        .outerjoin(TRANSFERS, TRANSFERS.c.id == REVERSALS.c.transfer_id)).all()
    problems = (rules.reversal_problem(reversal_id=row.id, earned=row.earned,
                                       clawed_back=row.clawed_back, shortfall=row.shortfall,
                                       clawed_amount=row.clawed_amount) for row in rows)
    return [problem for problem in problems if problem is not None]


def _verify_projects(walk: rules.TransferWalk) -> list[str]:
    """Each project's running total is what its account received and what its donations hold."""
    given = {row.project_id: row for row in db.session.execute(
        select(Donation.project_id, func.sum(Donation.points).label("points"),
               func.count().label("count")).group_by(Donation.project_id))}
    problems: list[str] = []
    for project in db.session.execute(select(PublicProject.id, PublicProject.account_id,
                                             PublicProject.donated_points,
                                             PublicProject.donations)):
        row = given.get(project.id)
        problems += project_problems(
            name=f"project {project.id}", donated_points=project.donated_points,
            donations=project.donations, transferred=walk.derived.get(project.account_id, 0),
            donated_total=int(row.points) if row else 0, donation_count=row.count if row else 0)
    return problems


def _verify_chain() -> tuple[int, str, list[str]]:
    """The seals link from genesis, each still matching its transfer; the head agrees."""
    position, prev, problems = _walk_seals()
    total_seals = db.session.execute(select(func.count()).select_from(SEALS)).scalar_one()
    if total_seals != position:
        problems.append(f"hash chain: {total_seals - position} seals point at missing transfers")
    problems += _verify_chain_head(position, prev)
    return position, prev, problems


def _walk_seals() -> tuple[int, str, list[str]]:
    problems: list[str] = []
    prev, position = rules.GENESIS_HASH, 0
    for row in db.session.execute(
            select(SEALS.c.position, SEALS.c.prev_hash, SEALS.c.hash.label("seal_hash"),
                   *[TRANSFERS.c[name] for name in SEALED_FIELDS])
            .join(TRANSFERS, TRANSFERS.c.seq == SEALS.c.transfer_seq)
            .order_by(SEALS.c.position).execution_options(yield_per=2000)):
        position += 1
        if row.position != position:
            problems.append(f"hash chain: position {row.position} where {position} was expected")
        if row.prev_hash != prev:
            problems.append(f"hash chain: seal {row.position} does not link to the one before")
        if rules.chain_hash(row.prev_hash, canonical(row)) != row.seal_hash:
            problems.append(f"hash chain: transfer {row.id} (seq {row.seq}) no longer matches "
                            f"seal {row.position}")
        prev = row.seal_hash
    return position, prev, problems


def _verify_chain_head(position: int, prev: str) -> list[str]:
    """The head names the chain's last link; nothing below its watermark is left unsealed."""
    head = db.session.execute(select(HEAD).where(HEAD.c.id == 1)).first()
    if head is None:
        return ["hash chain: seals exist but the chain head is missing"] if position else []
    problems = []
    if (head.position, head.hash) != (position, prev):
        problems.append(f"hash chain: head says position {head.position} {head.hash[:12]}, "
                        f"the chain ends at {position} {prev[:12]}")
    behind = db.session.execute(
        select(func.count()).select_from(TRANSFERS)
        .where(TRANSFERS.c.seq <= head.watermark_seq,
               ~exists().where(SEALS.c.transfer_seq == TRANSFERS.c.seq))).scalar_one()
    if behind:
        problems.append(f"hash chain: {behind} transfers below the watermark are unsealed "
                        f"(run `flask ledger seal --rescan`)")
    return problems
