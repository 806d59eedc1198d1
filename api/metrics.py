"""Prometheus metrics: request counts and latencies, plus business counters other modules add."""
from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess, REGISTRY)

REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency", ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


def init_metrics(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        g.started_at = time.perf_counter()

    @app.after_request
    def _record(response):
        endpoint = request.endpoint or "unmatched"
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        if "started_at" in g:
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - g.started_at)
        return response


def metrics_response() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    from api.business_metrics import REGISTRY as BUSINESS
    return Response(generate_latest(registry) + generate_latest(BUSINESS),
                    mimetype=CONTENT_TYPE_LATEST)
