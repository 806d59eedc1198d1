"""API conventions: problem+json everywhere, body guards, request ids, health endpoints."""
from __future__ import annotations

import pytest

from tests.conftest import all_table_counts, assert_problem

REGISTER = "/api/v1/auth/register"


def test_unknown_route_is_problem_404(client):
    r = client.get("/api/v1/nothing-here")
    assert_problem(r, 404, "not_found")


def test_wrong_method_is_problem_405(client):
    r = client.delete("/api/v1/auth/login")
    assert_problem(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_body_over_one_mebibyte_is_413(client, app):
    before = all_table_counts(app)
    r = client.post(REGISTER, data=b'{"a": "' + b"x" * (1024 * 1024) + b'"}',
                    content_type="application/json")
    assert_problem(r, 413, "payload_too_large")
    assert all_table_counts(app) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_non_json_body_is_415(client, app, content_type):
    before = all_table_counts(app)
    r = client.post(REGISTER, data=b"email=a@b.c", content_type=content_type)
    assert_problem(r, 415, "unsupported_media_type")
    assert all_table_counts(app) == before


@pytest.mark.parametrize("raw", [b"{not json", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
                                 b'\xff\xfe', b'{"email": "a\\u0000b"}'])
def test_malformed_or_non_finite_json_is_400(client, app, raw):
    before = all_table_counts(app)
    r = client.post(REGISTER, data=raw, content_type="application/json")
    assert_problem(r, 400, "malformed_json")
    assert all_table_counts(app) == before


def test_huge_exponent_is_not_infinity_but_a_validation_error(client):
    # 1e400 would become float('inf'); parsed as Decimal it is a finite number a schema refuses.
    r = client.post(REGISTER, data=b'{"email": 1e400, "password": "long enough pw", "display_name": "A"}',
                    content_type="application/json")
    assert_problem(r, 422, "validation")


def test_validation_errors_name_the_field(client):
    r = client.post(REGISTER, json={"email": "a@example.test", "password": "long enough pw",
                                    "display_name": "A", "unexpected": 1})
    body = assert_problem(r, 422, "validation")
    assert "unexpected" in body["errors"]


def test_request_id_is_echoed_and_generated(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    r = client.get("/api/v1/nothing", headers={"X-Request-ID": "bad id with spaces"})
    assert r.json["request_id"] == r.headers["X-Request-ID"] != "bad id with spaces"


def test_unhandled_error_is_a_generic_500_with_a_logged_traceback(client, actors, monkeypatch, caplog):
    import api.resources.me as me_module
    citizen = actors.user("citizen")

    def explode(**_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(me_module, "get_profile", explode)
    with caplog.at_level("ERROR"):
        r = client.get("/api/v1/me", headers=citizen.headers)
    body = assert_problem(r, 500, "internal")
    assert "secret internals" not in r.get_data(as_text=True)
    assert body["detail"] == "An unexpected error occurred."
    assert any(rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records)


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json["checks"]["database"] == "ok"


def test_metrics_are_prometheus_text(client):
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200 and b"http_requests_total" in r.data


def test_openapi_document_and_swagger_ui(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/auth/login" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert client.get("/api/docs").status_code == 200


def test_page_limit_is_bounded(client, actors):
    admin = actors.user("admin")
    assert_problem(client.get("/api/v1/admin/users?limit=1000000", headers=admin.headers), 422)
    assert_problem(client.get("/api/v1/admin/users?limit=0", headers=admin.headers), 422)
    assert_problem(client.get("/api/v1/admin/users?cursor=%%%", headers=admin.headers), 422)


def test_users_list_paginates_with_keyset_cursor(client, actors):
    admin = actors.user("admin")
    for _ in range(4):
        actors.user("citizen")
    seen, cursor = [], None
    while True:
        url = "/api/v1/admin/users?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=admin.headers).json
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
