"""Prometheus metrics (names and labels fixed by docs/contract.md)."""
from __future__ import annotations

from typing import Callable, Optional

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily

disable_created_metrics()  # no *_created series: keeps /metrics to what the contract names

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)

request_duration_seconds = Histogram(
    "request_duration_seconds", "HTTP request duration", ["route", "method"], buckets=BUCKETS
)
http_requests_total = Counter("http_requests_total", "HTTP requests", ["route", "method", "status"])
errors_total = Counter("errors_total", "Server-side errors (status >= 500)", ["endpoint", "status"])
# A client hanging up (mid-body or before its answer) is not a server fault: counted here, read by no alert.
client_disconnects_total = Counter("client_disconnects_total", "Requests the client abandoned before completion",
                                   ["endpoint", "method"])
db_query_duration_seconds = Histogram(
    "db_query_duration_seconds", "Database query duration", ["query_type"], buckets=BUCKETS
)
redis_connected = Gauge("redis_connected", "1 if the last Redis PING succeeded within 0.5 s")
auth_login_total = Counter("auth_login_total", "Login attempts", ["result"])
ea_errors_total = Counter("ea_errors_total", "EA poll/ack errors", ["endpoint", "error_type"])
approvals_total = Counter("approvals_total", "Signal approval decisions", ["result"])
ratelimit_block_total = Counter("ratelimit_block_total", "Requests blocked by the rate limiter", ["route"])
signals_ingested_total = Counter("signals_ingested_total", "Signals stored (retries not counted)")
webhook_events_total = Counter("webhook_events_total", "Billing webhook events", ["outcome"])
circuit_breaker_open = Gauge("circuit_breaker_open", "1 while the vendor circuit breaker is open")

# Pre-create the label sets the alert rules read so the series exist (at 0) from the start.
for r in ("success", "failure", "error"):
    auth_login_total.labels(r)
for e in ("/ea/poll", "/ea/ack"):
    for t in ("auth_failed", "invalid_signature", "nonce_replay", "timeout"):
        ea_errors_total.labels(e, t)
for r in ("approved", "rejected"):
    approvals_total.labels(r)
for o in ("processed", "replay_attack", "invalid_signature", "error"):
    webhook_events_total.labels(o)
redis_connected.set(0)
circuit_breaker_open.set(0)


class PoolCollector:
    """db_connection_pool_* computed from pool.get_stats() at scrape time."""

    def __init__(self) -> None:
        self.stats_fn: Optional[Callable[[], dict]] = None

    def collect(self):
        st = self.stats_fn() if self.stats_fn else {}
        in_use = st.get("in_use", 0)
        mx = st.get("max", 0) or 0
        waiting = st.get("waiting", 0)
        pct = (100.0 * in_use / mx) if mx else 0.0
        g = GaugeMetricFamily("db_connection_pool_size", "Percent (0-100) of the pool's maximum connections in use")
        g.add_metric([], pct)
        yield g
        g = GaugeMetricFamily("db_connection_pool_in_use", "Pool connections checked out")
        g.add_metric([], in_use)
        yield g
        g = GaugeMetricFamily("db_connection_pool_max", "Pool maximum connections (DB_POOL_SIZE)")
        g.add_metric([], mx)
        yield g
        g = GaugeMetricFamily("db_connection_pool_waiting", "Requests queued waiting for a pool connection")
        g.add_metric([], waiting)
        yield g
        g = GaugeMetricFamily("db_connection_pool_open", "Connections currently open in the pool")
        g.add_metric([], st.get("open", 0))
        yield g


pool_collector = PoolCollector()
REGISTRY.register(pool_collector)
