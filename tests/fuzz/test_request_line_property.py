"""Property: whatever the path and query string carry (percent-encoded NUL, invalid UTF-8, raw
bytes over a real socket, integers past any column), the answer is a 4xx problem, never a 500.

Root causes this keeps closed (docs/reliability.md, "The hardened edge"): a NUL in a path
segment (`GET /api/v1/methodologies/%00`) reached a PostgreSQL query (500), and `<int:...>`
path segments were unbounded (`.../versions/99999999999999999999/submit` overflowed INTEGER)."""
from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_problem

pytestmark = pytest.mark.fuzz

PROPERTY = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
TEMPLATES = ("/api/v1/methodologies/{}", "/api/v1/certificates/serials/{}",
             "/api/v1/methodologies/{}/calculate", "/api/v1/admin/methodologies/{}",
             "/api/v1/admin/methodologies/BJ-WALK/versions/{}/submit",
             "/api/v1/admin/methodologies/BJ-WALK/versions/1/diff/{}")
SEGMENT = st.one_of(
    st.binary(min_size=1, max_size=12).map(lambda b: "".join(f"%{x:02x}" for x in b)),
    st.sampled_from(["%00", "a%00b", "%ed%a0%80", "%ff", "%c0%80", "%0a", str(2 ** 31),
                     "9" * 30, "-1"]),
    st.integers(min_value=0, max_value=10 ** 30).map(str))


@pytest.fixture
def admin(app, actors):
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        seed_all()
    return actors.user("admin")


@PROPERTY
@given(template=st.sampled_from(TEMPLATES), segment=SEGMENT, method=st.sampled_from(["GET", "POST"]),
       authenticated=st.booleans())
@example(template=TEMPLATES[0], segment="%00", method="GET", authenticated=False)  # was 500 on PG
@example(template=TEMPLATES[4], segment="9" * 23, method="POST", authenticated=True)  # was 500
def test_any_path_segment_is_a_4xx(client, admin, template, segment, method, authenticated):
    headers = dict(admin.headers) if authenticated else {}
    response = client.open(template.format(segment), method=method, headers=headers,
                           json={} if method == "POST" else None)
    assert response.status_code < 500, (template, segment, response.get_data()[:300])
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


@PROPERTY
@given(query=st.binary(max_size=30).map(lambda b: "".join(f"%{x:02x}" for x in b)))
@example(query="%ff")
@example(query="%ed%a0%80")
def test_a_query_string_that_is_not_utf8_is_a_400(client, query):
    response = client.get(f"/api/v1/rewards?cursor={query}")
    try:
        bytes.fromhex(query.replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        assert_problem(response, 400, "malformed_query")
    else:
        assert response.status_code in (200, 400, 422)


def test_path_nul_and_bad_utf8_are_refused(client):
    assert_problem(client.get("/api/v1/methodologies/%00"), 400, "malformed_path")
    assert_problem(client.get("/api/v1/methodologies/%ff"), 400, "malformed_path")
    assert_problem(client.get("/api/v1/rewards?q=%ff"), 400, "malformed_query")


@pytest.fixture
def live_server(app):
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("target, header", [
    (b"/api/v1/methodologies/%00", b""),
    (b"/api/v1/methodologies/\xff\xfe", b""),
    (b"/api/v1/rewards?cursor=\xff", b""),
    (b"/api/v1/rewards?\xed\xa0\x80=1", b""),
    (b"/api/v1/rewards", b"Authorization: Bearer \xff\xfe\r\n"),
    (b"/api/v1/partner/actions", b"X-Partner-Key: k\r\nX-Timestamp: \xb2\r\nX-Signature: x\r\n"),
    (b"/api/v1/rewards", b"Idempotency-Key: \xe9\r\nX-Request-ID: \xff\r\n"),
])
def test_raw_bytes_over_a_real_socket_are_a_4xx(live_server, target, header):
    """Bytes the test client cannot send: straight onto the socket of a real server."""
    reply = _raw(live_server, b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n"
                 b"Connection: close\r\n" + header + b"\r\n")
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500, reply[:300]
    # Either the app answered with a problem, or the HTTP server refused the request line
    # itself (http.server splits on U+00A0, so "\xed\xa0\x80" breaks the line apart).
    assert b"application/problem+json" in reply or b"Bad request syntax" in reply, reply[:300]
