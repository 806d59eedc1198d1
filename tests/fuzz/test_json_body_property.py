"""Property: whatever bytes, Unicode, nesting or numbers a client sends as a JSON body, the answer
is a 4xx problem+json (never a 500) and nothing is written: no row, no ledger entry, no Redis key.

Root causes this keeps closed (docs/reliability.md, "The hardened edge"): deeply nested JSON
(RecursionError in json.loads and in the NUL walk) and strings PostgreSQL text cannot store
(lone surrogates such as "\\ud800", NUL) reaching argon2 or the database."""
from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import all_table_counts, assert_problem, redis_key_count

pytestmark = pytest.mark.fuzz

PROPERTY = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

UNAUTHENTICATED = ("/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/auth/refresh")
# Every character a JSON string can carry, including those PostgreSQL text cannot store.
ANY_CHAR = st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr), st.just("\x00"))
UNSTORABLE = st.one_of(st.integers(0xD800, 0xDFFF).map(chr), st.just("\x00"))
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.text(ANY_CHAR, max_size=20))
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4)),
    max_leaves=12)
ODD_NUMBERS = st.one_of(
    st.sampled_from(["1e999999999", "-1e999999999", "1e-999999999", "-0", "0e0", "1E+2",
                     str(2 ** 63), str(-(2 ** 63) - 1), str(2 ** 64), str(2 ** 31),
                     "9" * 4000, "0." + "0" * 4000 + "1", "123456789.123456789123456789"]),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str))


@pytest.fixture
def world(app, actors):
    """A signed partner, a citizen and a seeded methodology: the POST surfaces under test."""
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        seed_all()
    return {"partner": actors.partner("transit_operator"), "citizen": actors.user("citizen")}


def _post(client, world, path: str, raw: bytes):
    headers = {"Content-Type": "application/json"}
    if path == "/api/v1/partner/actions":
        headers = world["partner"].signed(raw, timestamp=int(time.time()))
    elif path == "/api/v1/actions":
        headers.update(world["citizen"].headers)
    return client.post(path, data=raw, headers=headers)


SURFACES = UNAUTHENTICATED + ("/api/v1/partner/actions", "/api/v1/actions",
                              "/api/v1/methodologies/BJ-WALK/calculate")


def _assert_refused_without_effect(app, client, world, raw: bytes, before, redis_before):
    for path in SURFACES:
        response = _post(client, world, path, raw)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.get_data())
        assert_problem(response, response.status_code)
    assert all_table_counts(app) == before
    assert redis_key_count() == redis_before


def _deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"identifier":' + b"[" * depth + b"]" * depth + b',"password":"x"}'


def test_deep_nesting_is_a_400_not_a_recursion_error(app, client, world):
    before, redis_before = all_table_counts(app), redis_key_count()

    @PROPERTY
    @given(depth=st.integers(min_value=33, max_value=100_000),
           kind=st.sampled_from(["list", "dict", "inside"]))
    @example(depth=2000, kind="list")      # was 500: RecursionError in json.loads
    @example(depth=900, kind="dict")       # was 500: RecursionError in the NUL walk
    @example(depth=100_000, kind="inside")
    def check(depth, kind):
        raw = _deep(depth, kind)
        for path in SURFACES:
            response = _post(client, world, path, raw)
            body = assert_problem(response, 400, "malformed_json")
            assert "nest" in body["detail"]

    check()
    assert all_table_counts(app) == before and redis_key_count() == redis_before


def test_strings_postgres_cannot_store_are_refused(app, client, world):
    before, redis_before = all_table_counts(app), redis_key_count()

    @PROPERTY
    @given(prefix=st.text(max_size=10), bad=UNSTORABLE, suffix=st.text(max_size=10),
           where=st.sampled_from(["identifier", "password", "key", "nested"]))
    @example(prefix="a@example.test", bad="\ud800", suffix="", where="password")  # was 500 (argon2)
    @example(prefix="a", bad="\udfff", suffix="@example.test", where="identifier")  # was 500
    @example(prefix="a", bad="\x00", suffix="", where="key")
    def check(prefix, bad, suffix, where):
        text = prefix + bad + suffix
        body = {"identifier": "someone@example.test", "password": "correct horse battery"}
        if where == "key":
            body[text] = 1
        elif where == "nested":
            body["details"] = [{"note": text}]
        else:
            body[where] = text
        raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as \\udXXX
        for path in SURFACES:
            response = _post(client, world, path, raw)
            assert_problem(response, 400, "malformed_json")

    check()
    assert all_table_counts(app) == before and redis_key_count() == redis_before


def test_arbitrary_bytes_are_a_4xx_problem(app, client, world):
    before, redis_before = all_table_counts(app), redis_key_count()

    @PROPERTY
    @given(raw=st.binary(min_size=1, max_size=300))
    @example(raw=b"\xff\xfe{}")
    @example(raw=b'"\\ud800"')
    @example(raw=b"NaN")
    def check(raw):
        _assert_refused_without_effect(app, client, world, raw, before, redis_before)

    check()


def test_arbitrary_json_documents_never_fail_the_server(app, client, world):
    """Any JSON value (odd keys, unstorable strings, mixed types) at every surface: a 4xx."""
    before, redis_before = all_table_counts(app), redis_key_count()

    @PROPERTY
    @given(value=JSON_VALUE)
    def check(value):
        raw = json.dumps(value).encode()
        for path in SURFACES:
            response = _post(client, world, path, raw)
            assert response.status_code < 500, (path, response.get_data())
            if response.status_code >= 400:
                assert_problem(response, response.status_code)

    check()
    # Shapes are refused before any service runs: no account, action or ledger entry appears.
    after = all_table_counts(app)
    assert {t: after[t] for t in ("users", "actions", "ledger_transfers")} == \
        {t: before[t] for t in ("users", "actions", "ledger_transfers")}


def test_big_and_odd_numbers_never_fail_the_server(app, client, world):
    """Numbers where strings, counts or quantities are expected: a 4xx, or an answer."""

    @PROPERTY
    @given(number=ODD_NUMBERS, field=st.sampled_from(["identifier", "password", "distance_km",
                                                       "occurred_at", "external_id", "steps"]))
    @example(number="9" * 4000, field="distance_km")
    @example(number=str(2 ** 63), field="steps")
    def check(number, field):
        body = {"identifier": "x@example.test", "password": "correct horse battery",
                "action_type": "walk", "external_id": "trip-1", "external_ref": "card-1",
                "occurred_at": "2025-01-01T08:00:00+08:00", "distance_km": 1, "steps": 1000}
        # The number goes in as JSON text, digit for digit (json.dumps would round a float).
        raw = ("{" + ",".join(f"{json.dumps(k)}:{number if k == field else json.dumps(v)}"
                              for k, v in body.items()) + "}").encode()
        for path in SURFACES:
            response = _post(client, world, path, raw)
            assert response.status_code < 500, (path, response.get_data()[:300])
            if response.status_code >= 400:
                assert_problem(response, response.status_code)

    check()
