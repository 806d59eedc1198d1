"""The pgbench renderer of `make bench` (b), without a database:

    .venv/bin/pytest -q -p no:randomly bench/test_pgbench_script.py
"""
from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
from psycopg.types.json import Json

from pgbench_script import (Credit, Minted, RenderError, build_script, check_variables, find_minted,
                            render_statement, render_value)

UTC = dt.timezone.utc
NONE = Minted()


def value(v, *, json_cast=False, cast_follows=True, minted=NONE) -> str:
    return render_value(v, json_cast=json_cast, cast_follows=cast_follows, minted=minted)


def test_literals_keep_psycopgs_types_and_never_hold_a_colon():
    assert value(None) == "NULL"
    assert value(True) == "true"
    assert value(-3) == "(-3)" and value(42) == "42"
    assert value(decimal.Decimal("1.50")) == "'1.50'::numeric"
    assert value(1.5) == "'1.5'::float8"
    some = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert value(some) == "'12345678-1234-5678-1234-567812345678'::uuid"
    assert value("it's a\\b: c\n") == "E'it\\'s a\\\\b\\x3a c\\x0a'"
    assert value(Json({"a": "18:32"})) == "E'{\"a\"\\x3a \"18\\x3a32\"}'"
    assert value({"k": 1}) == "E'{\"k\"\\x3a 1}'"
    assert value(["x"], json_cast=True) == "E'[\"x\"]'"
    assert value([1, 2], cast_follows=True) == "ARRAY[1, 2]"
    assert value([], cast_follows=True) == "'{}'"
    assert value(b"\x01\xff") == "E'\\\\x01ff'::bytea"


def test_times_move_back_by_the_per_transaction_shift():
    at = dt.datetime(2026, 12, 4, 18, 32, 8, tzinfo=UTC)
    assert value(at) == ("(E'2026-12-04T18\\x3a32\\x3a08+00\\x3a00'::timestamptz"
                         " - make_interval(days => (:cc_shift)::int))")
    assert value(dt.date(2026, 12, 5)) == "(E'2026-12-05'::date - (:cc_shift)::int)"


def test_what_cannot_be_rendered_fails_loudly():
    with pytest.raises(RenderError):
        value(object())
    with pytest.raises(RenderError):
        value([], cast_follows=False)
    with pytest.raises(RenderError, match="no value"):
        render_statement("SELECT %(missing)s", {}, NONE)
    with pytest.raises(RenderError, match="variable"):
        check_variables("SELECT x FROM t WHERE a = :oops")


def test_string_constants_in_the_sql_lose_their_colons_and_percent_is_unescaped():
    [sql] = render_statement("SELECT 'a:b', x::int, y %% 2 FROM t WHERE k = %(k)s", {"k": 7}, NONE)
    assert sql == "SELECT E'a\\x3ab', x::int, y % 2 FROM t WHERE k = 7;"


def test_executemany_sends_one_command_per_row():
    commands = render_statement("INSERT INTO t (a) VALUES (%(a)s)", [{"a": 1}, {"a": 2}], NONE)
    assert commands == ["INSERT INTO t (a) VALUES (1);", "INSERT INTO t (a) VALUES (2);"]


def _credit(action: uuid.UUID, key: str, user: uuid.UUID, day: dt.date) -> Credit:
    return Credit(groups=[
        [("SELECT * FROM users WHERE id = %(u)s::UUID", {"u": user})],
        [("INSERT INTO keys (k) VALUES (%(k)s)", {"k": key}),
         ("INSERT INTO actions (id, user_id, day) VALUES (%(id)s::UUID, %(u)s::UUID, %(d)s)",
          {"id": action, "u": user, "d": day}),
         ("INSERT INTO transfers (ref) VALUES (%(ref)s)", [{"ref": f"action:{action}"}])],
    ], commits_before_group=[2])


def test_minted_values_are_found_by_comparing_two_credits_and_replaced_consistently():
    user, day = uuid.uuid4(), dt.date(2026, 12, 5)
    first = _credit(uuid.uuid4(), "key-one", user, day)
    minted = find_minted(first, _credit(uuid.uuid4(), "key-two", user, day))
    assert len(minted.uuids) == 1 and list(minted.strings) == ["key-one"]
    script = build_script(first, minted, shift_days=28, title="t")
    action = "md5((:cc_txn)::text || '-u0')::uuid"
    assert script.count(action) == 2  # the action row and the transfer's reference to it
    assert f"(E'action\\x3a' || ({action})::text)" in script
    assert "(left(md5((:cc_txn)::text || '-s0'), 7))" in script
    assert f"'{user}'::uuid" in script  # the citizen stays as recorded
    assert "\\set cc_shift random(0, 27)" in script
    body = script.split("\n")[4:]
    assert body[0] == "BEGIN;" and body[2] == "\\startpipeline" and body[-3:] == [
        "\\endpipeline", "COMMIT;", ""]


def test_credits_that_sent_different_sql_are_refused():
    user, day = uuid.uuid4(), dt.date(2026, 12, 5)
    first = _credit(uuid.uuid4(), "a", user, day)
    other = _credit(uuid.uuid4(), "b", user, day)
    other.groups[1].pop()
    with pytest.raises(RenderError, match="different SQL"):
        find_minted(first, other)
