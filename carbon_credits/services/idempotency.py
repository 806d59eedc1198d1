"""Idempotency keys stored in the database, in the same transaction as the effect.

`claim` inserts the key with ON CONFLICT DO NOTHING. On PostgreSQL a concurrent duplicate
blocks on the unique index until the first transaction ends: if that committed, the duplicate
finds the stored response and replays it; if it rolled back, the duplicate goes ahead. Either
way the effect runs exactly once.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.domain.errors import Conflict
from carbon_credits.services.statements import Statement, defer, run_one
from models import IdempotencyRecord, db, utcnow

RETENTION = dt.timedelta(hours=24)


@dataclasses.dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict | list | None
    ref: dict | None = None  # the route rebuilds the body from it (api/idempotency.py)


_KEYS = IdempotencyRecord.__table__


def _claim_construct(insert):
    return (insert(_KEYS).values(principal=bindparam("b_principal"), key=bindparam("b_key"),
                                 fingerprint=bindparam("b_fingerprint"),
                                 created_at=bindparam("b_now"))
            .on_conflict_do_nothing(index_elements=["principal", "key"]).returning(_KEYS.c.key))


# Built once: every value-creating POST with a key runs both.
_CLAIM = Statement({"postgresql": _claim_construct(pg_insert),
                    "sqlite": _claim_construct(sqlite_insert)}, name="idempotency: claim")
_COMPLETE = Statement(update(_KEYS).where(_KEYS.c.principal == bindparam("b_principal"),
                                          _KEYS.c.key == bindparam("b_key"))
                      .values(status_code=bindparam("b_status"), response_body=bindparam("b_body"),
                              response_ref=bindparam("b_ref")),
                      name="idempotency: complete")


def claim(*, principal: str, key: str, fingerprint: str) -> StoredResponse | None:
    """Reserve the key inside the current transaction; return the stored response to replay."""
    now = utcnow()
    inserted = run_one(_CLAIM, {"b_principal": principal, "b_key": key,
                                "b_fingerprint": fingerprint, "b_now": now})
    if inserted:
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
                                   response_body=None, response_ref=None))
        return None
    if record.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request.",
                       code="idempotency_key_reused")
    if record.status_code is None:
        raise Conflict("A request with this Idempotency-Key is still in progress.",
                       code="idempotency_in_progress")
    return StoredResponse(status_code=record.status_code, body=record.response_body,
                          ref=record.response_ref)


def complete(*, principal: str, key: str, status_code: int, body, ref: dict | None = None) -> None:
    """Store the response: its body, or (`ref`) what rebuilds it. Deferred: it goes out with
    the effect's last statements and the commit."""
    defer(_COMPLETE, {"b_principal": principal, "b_key": key, "b_status": status_code,
                      "b_body": None if ref is not None else body, "b_ref": ref})


def purge_expired(*, now: dt.datetime | None = None) -> int:
    from carbon_credits.services.uow import unit_of_work
    now = now or utcnow()
    with unit_of_work():
        return db.session.execute(delete(IdempotencyRecord)
                                  .where(IdempotencyRecord.created_at < now - RETENTION)).rowcount
