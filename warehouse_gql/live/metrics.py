"""The server's Prometheus metrics, defined once for every layer that records them.

The doors count requests (`record_request` in api/http.py), the GraphQL door counts sockets and
subscriptions, the app sets `DEPENDENCY_UP` from its readiness checks, and the change feed sets
`FEED_LAG` and `WEBHOOK_BACKLOG`. It lives in live/ because both the doors and the feed (relay,
webhook delivery) may import live/, and metrics are process state like the event bus.

Several worker processes (`serve --workers N`) share one `PROMETHEUS_MULTIPROC_DIR` that the CLI
makes: each process writes its values there and `/metrics` on any worker reports the sum (the
gauges: the sum over live processes). A single process keeps its values in memory.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "warehouse_requests",
    "Requests answered, by front door, operation and result code (OK or an error code).",
    ["door", "operation", "code"],
)
REQUEST_DURATION = Histogram(
    "warehouse_request_duration_seconds",
    "Time from a request's arrival to its answer, by front door and operation.",
    ["door", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OPEN_SOCKETS = Gauge(
    "warehouse_open_sockets",
    "WebSocket connections open now.",
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS = Gauge(
    "warehouse_subscriptions",
    "Subscriptions running now.",
    multiprocess_mode="livesum",
)
DEPENDENCY_UP = Gauge(
    "warehouse_dependency_up",
    "1 when the dependency answered the last readiness check, else 0.",
    ["dependency"],
    multiprocess_mode="livemin",
)
FEED_LAG = Gauge(
    "warehouse_feed_lag_seconds",
    "Age of the oldest committed change not yet relayed to the live feed.",
    multiprocess_mode="livemax",
)
WEBHOOK_BACKLOG = Gauge(
    "warehouse_webhook_backlog",
    "Webhook deliveries waiting to be sent.",
    multiprocess_mode="livemax",
)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric of this process, or of all workers when they share a
    multiprocess directory; and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
