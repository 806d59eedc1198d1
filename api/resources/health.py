"""Liveness, readiness and metrics."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import text

from api.auth import access
from api.extensions import Blueprint
from api.metrics import metrics_response
from carbon_credits import kvstore
from models import db

blp = Blueprint("service", __name__, description="Service health")


@blp.route("/healthz", methods=["GET"])
@access.public
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@blp.route("/readyz", methods=["GET"])
@access.public
def readyz():
    """The database and Redis answer; 503 with Retry-After otherwise."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    finally:
        db.session.rollback()
    if kvstore.is_redis():
        try:
            kvstore.get_store().ping()
            checks["redis"] = "ok"
        except kvstore.RedisError:
            checks["redis"] = "unavailable"
    else:
        checks["redis"] = "not configured"
    ready = "unavailable" not in checks.values()
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return response


@blp.route("/metrics", methods=["GET"])
@access.public
def metrics():
    """Prometheus metrics (text exposition format)."""
    return metrics_response()
