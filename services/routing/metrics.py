"""Routing's own gauges on /metrics: the queue, so nothing waits unnoticed."""

from prometheus_client import Gauge

QUEUE_LENGTH = Gauge("handoff_routing_queue_length", "SQLs waiting for a rep.", ["team"])
QUEUE_OLDEST_SECONDS = Gauge(
    "handoff_routing_queue_oldest_seconds", "How long the oldest waiting SQL has waited.", ["team"]
)
