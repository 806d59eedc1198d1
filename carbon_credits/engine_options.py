"""SQLAlchemy engine options per database (the primary and the read replica share them)."""
from __future__ import annotations


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    # No pool_pre_ping (a round trip per request): api/reconnect.py runs a request again instead.
    return {
        "pool_size": 10,
        "max_overflow": 20,
        # A stuck transaction must not hold row locks forever (reliability.md).
        "connect_args": {"options": "-c idle_in_transaction_session_timeout=30000"},
    }
