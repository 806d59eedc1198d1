"""The hash chain: `seal_pending` appends unsealed transfers, each link a hash over the one
before and the transfer's sealed fields, and signs the new head (heads.py). Postings never
touch the chain; only the sealer locks its head, later and off the hot path."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, func, insert, select, update

from carbon_credits.domain import ledger as rules
from carbon_credits.domain.ledger import SEALED_FIELDS
from carbon_credits.services.ledger.core import HEAD, SEALS, TRANSFERS, dialect_insert
from carbon_credits.services.ledger.heads import sign_head
from carbon_credits.services.uow import unit_of_work
from models import db, utcnow


def canonical(row) -> str:
    """The sealed fields of a row carrying a transfer's columns, as the seal covers them."""
    mapping = row._mapping
    return rules.canonical_transfer({name: mapping[name] for name in SEALED_FIELDS})


def seal_pending(*, batch: int = 1000, settle_seconds: int = 300,
                 rescan: bool = False) -> int:
    """Append unsealed transfers to the hash chain; returns how many were sealed.

    Only the sealer locks the chain head, so postings never wait for it. Chain order is seal
    order: a transfer whose transaction commits late is sealed by a later run. The watermark
    (every seq at or below it is sealed) only passes transfers older than `settle_seconds`,
    so no transaction still open can hold a lower seq; `rescan` ignores it."""
    now = utcnow()
    with unit_of_work():
        db.session.execute(dialect_insert()(HEAD)
                           .values(id=1, position=0, hash=rules.GENESIS_HASH, watermark_seq=0,
                                   updated_at=now)
                           .on_conflict_do_nothing(index_elements=["id"]))
        head = db.session.execute(select(HEAD).where(HEAD.c.id == 1).with_for_update()).one()
        floor = 0 if rescan else head.watermark_seq
        unsealed = db.session.execute(
            select(TRANSFERS).where(TRANSFERS.c.seq > floor,
                                    ~exists().where(SEALS.c.transfer_seq == TRANSFERS.c.seq))
            .order_by(TRANSFERS.c.seq).limit(batch)).all()
        prev, position, seals = head.hash, head.position, []
        for row in unsealed:
            position += 1
            link = rules.chain_hash(prev, canonical(row))
            seals.append({"position": position, "transfer_seq": row.seq, "prev_hash": prev,
                          "hash": link, "sealed_at": now})
            prev = link
        if seals:
            db.session.execute(insert(SEALS), seals)
            sign_head(position=position, hash_=prev, transfers_sealed=len(seals), sealed_at=now)
        ceiling = unsealed[-1].seq if len(unsealed) == batch else None
        mark = select(func.max(TRANSFERS.c.seq)).where(
            TRANSFERS.c.seq > head.watermark_seq,
            TRANSFERS.c.recorded_at < now - dt.timedelta(seconds=settle_seconds))
        if ceiling is not None:
            mark = mark.where(TRANSFERS.c.seq <= ceiling)
        watermark = db.session.execute(mark).scalar() or head.watermark_seq
        db.session.execute(update(HEAD).where(HEAD.c.id == 1)
                           .values(position=position, hash=prev, watermark_seq=watermark,
                                   updated_at=now))
    return len(seals)


def seal_all(*, batch: int = 1000, settle_seconds: int = 300, rescan: bool = False) -> int:
    """Seal until nothing is left (CLI, jobs)."""
    total = 0
    while True:
        sealed = seal_pending(batch=batch, settle_seconds=settle_seconds, rescan=rescan)
        total += sealed
        if sealed < batch:
            return total
