"""Readiness of the process's dependencies: the database and, where configured, Redis."""
from __future__ import annotations

from sqlalchemy import text

from carbon_credits import kvstore
from models import db

OK, UNAVAILABLE, NOT_CONFIGURED = "ok", "unavailable", "not configured"


def check_dependencies() -> dict[str, str]:
    """{"database": ..., "redis": ...}, each "ok", "unavailable" or (Redis) "not configured"."""
    return {"database": _check_database(), "redis": _check_redis()}


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return OK
    except Exception:  # any failure to answer means not ready
        return UNAVAILABLE
    finally:
        db.session.rollback()


def _check_redis() -> str:
    if not kvstore.is_redis():
        return NOT_CONFIGURED
    try:
        kvstore.get_store().ping()
        return OK
    except kvstore.RedisError:
        return UNAVAILABLE
