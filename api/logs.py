"""JSON logs with request ids (structlog over the standard library).

Every record, from `structlog.get_logger()` or from a plain `logging.getLogger()` (ours,
Flask's, SQLAlchemy's), leaves as one JSON object carrying `request_id` (from `flask.g`) when
it was written during a request. structlog routes through stdlib logging, so pytest's caplog
and any handler an operator adds keep working; the JSON handler is only installed outside
tests (`CARBON_ENV=test` keeps the default handlers).
"""
from __future__ import annotations

import logging
import os
import sys
import time

import structlog
from flask import Flask, g, has_request_context, request

_configured = False


def add_request_id(_logger, _method, event_dict: dict) -> dict:
    if "request_id" not in event_dict and has_request_context() and "request_id" in g:
        event_dict["request_id"] = g.request_id
    return event_dict


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    add_request_id,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_formatter() -> logging.Formatter:
    """A stdlib formatter rendering any record (structlog's or not) as one JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(sort_keys=False)])


def configure_logging(app: Flask) -> None:
    """Called by the app factory: structlog config once per process, a request log per app."""
    global _configured
    if not _configured:
        _configured = True
        structlog.configure(
            processors=[*SHARED_PROCESSORS, structlog.processors.StackInfoRenderer(),
                        structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True)
        if app.config["SETTINGS"].environment != "test":
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(json_formatter())
            root = logging.getLogger()
            root.handlers[:] = [handler]
            root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

    access_log = structlog.get_logger("carbon_credits.http")

    @app.before_request
    def _start_clock():
        g.log_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.pop("log_started", None)
        access_log.info("request", method=request.method, path=request.path,
                        status=response.status_code,
                        duration_ms=round((time.perf_counter() - started) * 1000, 2)
                        if started else None)
        return response
