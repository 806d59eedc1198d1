"""Business metrics for Prometheus, computed from the database at scrape time.

The figures come from a service (carbon_credits/services/business_metrics.py). Each process
caches the answer for `CACHE_SECONDS`, so a scrape every 15 s costs a handful of aggregate
queries.
"""
from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from carbon_credits.services.business_metrics import read_business_figures

CACHE_SECONDS = 15.0
_cache: dict = {"at": 0.0, "values": None}
_lock = threading.Lock()


def snapshot(*, max_age: float = CACHE_SECONDS) -> dict:
    with _lock:
        if _cache["values"] is None or time.monotonic() - _cache["at"] > max_age:
            _cache["values"], _cache["at"] = read_business_figures(), time.monotonic()
        return _cache["values"]


class BusinessCollector:
    """A prometheus_client collector; `collect` runs inside the /metrics request."""

    def collect(self):
        try:
            values = snapshot()
        except Exception:  # the database is down: request metrics must still be served
            yield GaugeMetricFamily("carbon_business_metrics_up", "Business metrics readable", value=0)
            return
        yield GaugeMetricFamily("carbon_business_metrics_up", "Business metrics readable", value=1)
        actions = GaugeMetricFamily("carbon_actions", "Green actions recorded, by current status",
                                    labels=["status"])
        for status, count in values["actions"].items():
            actions.add_metric([status], count)
        yield actions
        for kind, name, text in (("earn", "carbon_points_credited", "Points credited (earn)"),
                                 ("redeem", "carbon_points_redeemed", "Points redeemed at merchants"),
                                 ("expire", "carbon_points_expired", "Points expired"),
                                 ("reversal", "carbon_points_reversed", "Points clawed back")):
            yield CounterMetricFamily(name, text, value=values["points"].get(kind, 0))
        yield GaugeMetricFamily("carbon_ledger_holds_open", "Pending holds (reserved vouchers)",
                                value=values["holds_open"])
        yield GaugeMetricFamily("carbon_ledger_holds_open_points", "Points in pending holds",
                                value=values["holds_open_points"])


REGISTRY = CollectorRegistry()
REGISTRY.register(BusinessCollector())
