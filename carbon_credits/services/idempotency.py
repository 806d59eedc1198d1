"""Idempotency keys stored in the database, in the same transaction as the effect.

`claim` inserts the key with ON CONFLICT DO NOTHING. On PostgreSQL a concurrent duplicate
blocks on the unique index until the first transaction ends: if that committed, the duplicate
finds the stored response and replays it; if it rolled back, the duplicate goes ahead. Either
way the effect runs exactly once.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.domain.errors import Conflict
from models import IdempotencyRecord, db, utcnow

RETENTION = dt.timedelta(hours=24)


@dataclasses.dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict | list | None


def claim(*, principal: str, key: str, fingerprint: str) -> StoredResponse | None:
    """Reserve the key inside the current transaction; return the stored response to replay."""
    now = utcnow()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = db.session.execute(
        insert(IdempotencyRecord)
        .values(principal=principal, key=key, fingerprint=fingerprint, created_at=now)
        .on_conflict_do_nothing(index_elements=["principal", "key"])
        .returning(IdempotencyRecord.key)
    ).first()
    if inserted is not None:
        return None
    record = db.session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.principal == principal,
                                        IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if record.created_at < now - RETENTION:
        # An expired key is a new request: take it over.
        db.session.execute(update(IdempotencyRecord)
                           .where(IdempotencyRecord.principal == principal,
                                  IdempotencyRecord.key == key)
                           .values(fingerprint=fingerprint, created_at=now, status_code=None,
                                   response_body=None))
        return None
    if record.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request.",
                       code="idempotency_key_reused")
    if record.status_code is None:
        raise Conflict("A request with this Idempotency-Key is still in progress.",
                       code="idempotency_in_progress")
    return StoredResponse(status_code=record.status_code, body=record.response_body)


def complete(*, principal: str, key: str, status_code: int, body) -> None:
    db.session.execute(update(IdempotencyRecord)
                       .where(IdempotencyRecord.principal == principal,
                              IdempotencyRecord.key == key)
                       .values(status_code=status_code, response_body=body))


def purge_expired(*, now: dt.datetime | None = None) -> int:
    from carbon_credits.services.uow import unit_of_work
    now = now or utcnow()
    with unit_of_work():
        return db.session.execute(delete(IdempotencyRecord)
                                  .where(IdempotencyRecord.created_at < now - RETENTION)).rowcount
