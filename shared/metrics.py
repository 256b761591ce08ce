"""Prometheus metrics every service exposes on /metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "handoff_events_consumed_total", "Consumed records by outcome.", ["service", "topic", "outcome"]
)
HANDLER_RETRIES = Counter(
    "handoff_handler_retries_total",
    "Handler attempts that failed and were retried.",
    ["service", "topic"],
)
HANDLER_SECONDS = Histogram(
    "handoff_handler_seconds",
    "Time to handle one record, transaction included.",
    ["service", "topic"],
)
CONSUMER_LAG = Gauge(
    "handoff_consumer_lag",
    "Records behind the partition's high-water mark.",
    ["service", "topic", "partition"],
)
OUTBOX_PUBLISHED = Counter(
    "handoff_outbox_published_total", "Outbox rows published to Kafka.", ["service", "topic"]
)
OUTBOX_PENDING = Gauge("handoff_outbox_pending", "Outbox rows not yet published.", ["service"])
OUTBOX_ERRORS = Counter(
    "handoff_outbox_errors_total", "Failed outbox publication rounds (rows kept).", ["service"]
)
# Its `_count` is the number of requests by route template and status: no separate counter.
HTTP_SECONDS = Histogram(
    "handoff_http_request_seconds",
    "Time from a request's start to its last response byte, by route template and status.",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
JOB_RUNS = Counter(
    "handoff_job_runs_total", "Periodic job runs by outcome.", ["service", "job", "outcome"]
)
