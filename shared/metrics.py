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
    "handoff_outbox_published_total", "Outbox rows published to Kafka.", ["service"]
)
OUTBOX_PENDING = Gauge("handoff_outbox_pending", "Outbox rows not yet published.", ["service"])
OUTBOX_ERRORS = Counter(
    "handoff_outbox_errors_total", "Failed outbox publication rounds (rows kept).", ["service"]
)
