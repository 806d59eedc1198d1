"""Liveness, readiness and metrics."""
from __future__ import annotations

from marshmallow import Schema, fields

from api.auth import access
from api.edge import require_metrics_access
from api.extensions import Blueprint
from api.metrics import metrics_response
from carbon_credits.services.health import UNAVAILABLE, check_dependencies

blp = Blueprint("service", __name__, description="Service health")


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ready | unavailable"})
    checks = fields.Dict(keys=fields.String(), values=fields.String())


METRICS_EXAMPLE = """\
# HELP http_requests_total HTTP requests
# TYPE http_requests_total counter
http_requests_total{method="POST",endpoint="actions.create_action",status="201"} 1520.0
# HELP http_request_duration_seconds HTTP request latency
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_count{method="POST",endpoint="actions.create_action"} 1520.0
"""


@blp.route("/healthz", methods=["GET"])
@access.public
@blp.response(200, HealthSchema, example={"status": "ok"})
def healthz():
    """The process is up.

    Liveness for the orchestrator: no login, touches nothing (no database, no Redis), so it
    answers while a dependency is down; restart the process only when this fails."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@access.public
@blp.response(200, ReadinessSchema, example={
    "status": "ready", "checks": {"database": "ok", "redis": "ok"}})
@blp.alt_response(503, schema=ReadinessSchema, description="A dependency is down (Retry-After)",
                  headers={"Retry-After": {"description": "Seconds to wait before asking again",
                                           "schema": {"type": "integer", "example": 5}}},
                  example={"status": "unavailable",
                           "checks": {"database": "ok", "redis": "unavailable"}})
def readyz():
    """The database and Redis answer; 503 with Retry-After otherwise.

    Readiness for the load balancer: no login. `checks` gives each dependency as `ok`,
    `unavailable` or (Redis without `REDIS_URL`) `not configured`, which does not make the
    process unready. Take it out of rotation while this is 503."""
    checks = check_dependencies()
    body = {"status": "ready", "checks": checks}
    if UNAVAILABLE in checks.values():
        return {**body, "status": "unavailable"}, 503, {"Retry-After": "5"}
    return body


@blp.route("/metrics", methods=["GET"])
@access.public
@blp.doc(description="Not public: served to clients in METRICS_ALLOWED_NETWORKS (default: this "
                     "host) or with `Authorization: Bearer <METRICS_TOKEN>`; 403 otherwise.",
         responses={"200": {"description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"},
                                                       "example": METRICS_EXAMPLE}}},
                    "403": {"description": "Not from an allowed network and no valid metrics token",
                            "content": {"application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}, "example": {
                                "type": "/problems/metrics_forbidden", "title": "Forbidden",
                                "status": 403, "detail": "Metrics are served only to the "
                                "monitoring network or with the metrics token.",
                                "request_id": "3f2c9d0e8a7b4c1d"}}}}})
def metrics():
    """Prometheus metrics (text exposition format), for the monitoring network only."""
    require_metrics_access()
    return metrics_response()
