"""Property: at every list endpoint that takes `cursor`, any cursor (arbitrary text, or crafted
base64 JSON carrying NUL, lone surrogates, naive or out-of-range datetimes, huge integers) is
answered 200 or 422 problem+json (400 for a raw NUL in the query string), never 500.

Root cause this keeps closed (docs/reliability.md, "The hardened edge"): decode_cursor checked
only that the cursor was base64 JSON of strings; the converted values went to the database
unchecked (a naive datetime failed the UTCDateTime bind, an offset near year 1 or 9999 overflowed
in astimezone, NUL and surrogates failed on PostgreSQL)."""
from __future__ import annotations

import base64
import json
import re
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_problem

pytestmark = pytest.mark.fuzz

PROPERTY = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def crafted(values) -> str:
    raw = json.dumps(values).encode()  # ensure_ascii: lone surrogates travel as \\udXXX
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


PART = st.one_of(
    st.text(max_size=12),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.just("\x00"),
    st.datetimes().map(lambda d: d.isoformat()),                       # naive
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-01-01"]),
    st.integers(min_value=-(2 ** 80), max_value=2 ** 80).map(str),
    st.uuids().map(str),
)
CURSOR = st.one_of(
    st.text(max_size=80),
    st.lists(PART, min_size=0, max_size=3).map(crafted),
    st.recursive(st.integers() | st.text(max_size=5), lambda i: st.lists(i, max_size=3), max_leaves=6).map(crafted),
    st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
)


def _some_value(schema: dict) -> str:
    """A well-formed value for a required query parameter (e.g. a merchant's id)."""
    return {"uuid": str(uuid.uuid4()), "date": "2026-01-01"}.get(schema.get("format"), "x")


@pytest.fixture
def paged(app, actors):
    """Every GET operation documenting a `cursor` parameter, with a token for a role it allows."""
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        seed_all()
    users = actors.one_of_each_role()
    # The merchant is their merchant's lead, so the staff list (lead only) is paged too.
    made_lead = app.test_client().post(f"/api/v1/admin/users/{users['merchant'].id}/merchant-lead",
                                       json={"lead": True}, headers=users["admin"].headers)
    assert made_lead.status_code == 200, made_lead.get_data()
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    code = app.test_client().get("/api/v1/methodologies").get_json()["items"][0]["code"]
    endpoints = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if not get or not any(p["name"] == "cursor" for p in get.get("parameters", [])):
            continue
        roles = get.get("x-roles", ["public"])
        role = next((r for r in ("admin", "auditor", "citizen", "merchant") if r in roles), None)
        url = "/api" + path if not path.startswith("/api") else path
        url = re.sub(r"\{code\}", code, url)
        url = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), url)
        required = {p["name"]: _some_value(p.get("schema", {})) for p in get.get("parameters", [])
                    if p.get("required") and p["in"] == "query"}
        endpoints.append((url, users[role].headers if role else {}, required))
    assert len(endpoints) >= 12, endpoints
    return endpoints


@PROPERTY
@given(cursor=CURSOR)
@example(cursor=crafted(["2024-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]))  # naive
@example(cursor=crafted(["0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000"]))
@example(cursor=crafted(["\ud800"]))            # was 500: surrogate reached the database
@example(cursor=crafted(["\x00"]))              # was 500 on PostgreSQL
@example(cursor=crafted([str(2 ** 64)]))
@example(cursor=base64.urlsafe_b64encode(b"[" * 300).decode())
def test_any_cursor_is_a_page_or_a_422(client, paged, cursor):
    for url, headers, required in paged:
        response = client.get(url, query_string={**required, "cursor": cursor}, headers=headers)
        assert response.status_code in (200, 400, 404, 422), (url, cursor, response.get_data()[:300])
        if response.status_code == 400:  # a raw NUL in the query string, refused at the edge
            assert_problem(response, 400, "malformed_query")
        elif response.status_code != 200:
            assert_problem(response, response.status_code)


def test_a_cursor_the_service_made_still_works(client, paged):
    """The checks refuse only tampered cursors: a real next_cursor pages on."""
    from api.pagination import decode_cursor, encode_cursor
    import datetime as dt
    moment = dt.datetime(2025, 1, 1, 8, tzinfo=dt.timezone.utc)
    ident = uuid.uuid4()
    assert decode_cursor(encode_cursor([moment, ident]),
                         converters=(dt.datetime.fromisoformat, uuid.UUID)) == (moment, ident)
    assert decode_cursor(encode_cursor([42]), converters=(int,)) == (42,)
    for url, headers, required in paged:
        assert client.get(url, query_string={**required, "limit": 1},
                          headers=headers).status_code in (200, 404)
