"""The statement layer of the hot paths: built once, sent together, errors as SQLAlchemy's."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from carbon_credits.services.statements import Statement, recording, run_one, run_together
from carbon_credits.services.uow import unit_of_work
from models import IdempotencyRecord, db

KEYS = IdempotencyRecord.__table__
INSERT_KEY = Statement(insert(KEYS).values(principal=bindparam("p"), key=bindparam("k"),
                                           fingerprint=bindparam("f"), created_at=bindparam("t"),
                                           response_body=bindparam("body"))
                       .returning(KEYS.c.key), name="test insert key")
SELECT_KEYS = Statement(select(KEYS.c.key, KEYS.c.response_body)
                        .where(KEYS.c.principal == bindparam("p")).order_by(KEYS.c.key),
                        name="test select keys")
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def _row(key: str, body=None) -> dict:
    return {"p": "user:x", "k": key, "f": "f" * 64, "t": NOW, "body": body}


def test_statements_run_in_order_in_one_round_trip_and_return_rows(app_ctx):
    with recording() as seen:
        with unit_of_work():
            inserted, many, found = run_together(
                (INSERT_KEY, _row("a", {"ref": [1, "x"]})),
                (INSERT_KEY, [_row("b"), _row("c")]),
                (SELECT_KEYS, {"p": "user:x"}))
    assert [r.key for r in inserted] == ["a"] and [r.key for r in many] == ["b", "c"]
    assert [(r.key, r.response_body) for r in found] == [("a", {"ref": [1, "x"]}), ("b", None),
                                                         ("c", None)]
    assert len(seen.statements) == 3  # a list of parameter sets is one statement
    if db.engine.dialect.name == "postgresql":
        assert seen.round_trips == 2  # the pipelined group and the commit
    assert db.session.scalar(select(KEYS.c.key).where(KEYS.c.key == "c")) == "c"


def test_a_constraint_violation_is_sqlalchemys_integrity_error_and_rolls_back(app_ctx):
    with pytest.raises(IntegrityError):
        with unit_of_work():
            run_together((INSERT_KEY, _row("same")), (INSERT_KEY, _row("same")))
    assert run_one(SELECT_KEYS, {"p": "user:x"}) == []
    db.session.rollback()
    with unit_of_work():  # the session is usable again
        assert [r.key for r in run_one(INSERT_KEY, _row(str(uuid.uuid4())))]
