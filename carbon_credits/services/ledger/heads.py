"""Signed chain heads (docs/verification.md, section 4): after each seal that added links, the
sealer signs the new head in the same transaction. Published heads are append-only; a later
rewrite of the ledger contradicts a head somebody already holds."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from sqlalchemy import select

from carbon_credits.config import get_settings
from carbon_credits.domain import proofs
from carbon_credits.domain.errors import Conflict
from carbon_credits.services import signing
from carbon_credits.services.ledger.core import SEALS
from models import SignedChainHead, db, utcnow

MAX_PAGE = 1000


def head_payload(*, position: int, hash_: str, transfers_sealed: int, sealed_at: dt.datetime,
                 previous: SignedChainHead | None) -> dict:
    return {"type": proofs.CHAIN_HEAD_TYPE, "position": position, "hash": hash_,
            "transfers_sealed": transfers_sealed, "sealed_at": sealed_at.isoformat(),
            "previous": None if previous is None else {"position": previous.position,
                                                       "hash": previous.hash}}


def latest_head() -> SignedChainHead | None:
    return db.session.scalars(select(SignedChainHead)
                              .order_by(SignedChainHead.position.desc()).limit(1)).first()


def sign_head(*, position: int, hash_: str, transfers_sealed: int, sealed_at: dt.datetime) -> None:
    """Called by the sealer, under the chain head's lock, in the seal's transaction."""
    payload = head_payload(position=position, hash_=hash_, transfers_sealed=transfers_sealed,
                           sealed_at=sealed_at, previous=latest_head())
    document = signing.sign(payload)
    kid = signing.active_key().kid
    db.session.add(SignedChainHead(position=position, hash=hash_, transfers_sealed=transfers_sealed,
                                   sealed_at=sealed_at, kid=kid, jws=document))
    db.session.flush()


def list_heads(*, before: int | None, limit: int) -> tuple[list[SignedChainHead], int | None]:
    """Newest first; `before` is the last position of the previous page."""
    query = select(SignedChainHead).order_by(SignedChainHead.position.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(SignedChainHead.position < before)
    rows = db.session.scalars(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].position if more else None)


def heads_signed_between(start: dt.datetime, end: dt.datetime) -> list[SignedChainHead]:
    """Oldest first: what the daily open-data file of chain heads holds."""
    return db.session.scalars(select(SignedChainHead)
                              .where(SignedChainHead.sealed_at >= start, SignedChainHead.sealed_at < end)
                              .order_by(SignedChainHead.position)).all()


def check_signed_heads() -> list[str]:
    """Each signed head verifies, says what its row says, links to the head before it, and
    names the link the chain still holds at its position."""
    problems: list[str] = []
    previous = None
    rows = db.session.execute(select(SignedChainHead, SEALS.c.hash)
                              .outerjoin(SEALS, SEALS.c.position == SignedChainHead.position)
                              .order_by(SignedChainHead.position))
    for head, link in rows:
        where = f"signed chain head {head.position}"
        try:
            payload = signing.verify(head.jws)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            previous = head
            continue
        expected = head_payload(position=head.position, hash_=head.hash,
                                transfers_sealed=head.transfers_sealed, sealed_at=head.sealed_at,
                                previous=previous)
        if payload != expected:
            problems.append(f"{where}: the signed document differs from the stored head")
        if link != head.hash:
            problems.append(f"{where}: the chain's link at this position is not the signed hash")
        previous = head
    return problems


def scheme_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(get_settings().scheme_timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    return start.astimezone(dt.timezone.utc), (start + dt.timedelta(days=1)).astimezone(dt.timezone.utc)


def daily_file(day: dt.date, *, now: dt.datetime | None = None) -> bytes:
    """The open-data file of the heads signed on scheme day `day`: one JSON object per line,
    oldest first. Only for a day that is over, so the file never changes once published."""
    start, end = scheme_day_bounds(day)
    if end > (now or utcnow()):
        raise Conflict(f"Scheme day {day.isoformat()} is not over yet; its file is not final.",
                       code="day_not_over")
    lines = [json.dumps({"position": h.position, "hash": h.hash, "document": h.jws},
                        sort_keys=True, separators=(",", ":")) + "\n"
             for h in heads_signed_between(start, end)]
    return "".join(lines).encode("ascii")
