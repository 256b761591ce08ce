"""Rate limits for public form submissions: token buckets kept in process memory.

The limits are per instance. Each capture process keeps its own buckets, so with N instances
behind a load balancer a client may submit up to N times the configured rate; the limits are a
brake on bots and floods, not an exact quota. Time comes from an injected clock so the buckets
can be tested without waiting.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
MAX_KEYS = 100_000  # bounds memory; the least recently used bucket is forgotten first


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key holding up to `per_minute` tokens, refilled evenly over a minute;
    a quiet key may spend its whole bucket in a burst."""

    def __init__(self, per_minute: int, *, clock: Clock = time.monotonic,
                 max_keys: int = MAX_KEYS) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> int:
        """Take a token for `key`: 0 when one was free, else the whole seconds until one is."""
        now = self._clock()
        bucket = self._refilled(key, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.per_second))

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.per_second)
            bucket.updated = now
        return bucket


class SubmissionLimits:
    """The two limits a form submission passes: one per client IP, one per form."""

    def __init__(self, per_ip_per_minute: int, per_form_per_minute: int, *,
                 clock: Clock = time.monotonic) -> None:
        self.per_ip = TokenBuckets(per_ip_per_minute, clock=clock)
        self.per_form = TokenBuckets(per_form_per_minute, clock=clock)

    def wait(self, client_ip: str, form_id: str) -> int:
        """Seconds the client must wait before submitting; 0 when it may go ahead now."""
        return self.per_ip.take(client_ip) or self.per_form.take(form_id)
