"""Rate limits for public form submissions: a moving window per client IP and per form, kept by
the `limits` library in process memory.

The limits are per instance. Each capture process counts on its own, so with N instances
behind a load balancer a client may submit up to N times the configured rate; the limits are a
brake on bots and floods, not an exact quota.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class SubmissionLimits:
    """The two limits a form submission passes: one per client IP, then one per form."""

    def __init__(self, per_ip_per_minute: int, per_form_per_minute: int) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_ip = RateLimitItemPerMinute(per_ip_per_minute)
        self._per_form = RateLimitItemPerMinute(per_form_per_minute)

    def wait(self, client_ip: str, form_id: str) -> int:
        """Whole seconds the client must wait before submitting; 0 when it may go ahead now.
        A client over its own limit spends nothing of the form's."""
        for limit, scope, key in ((self._per_ip, "ip", client_ip),
                                  (self._per_form, "form", form_id)):
            if not self._limiter.hit(limit, scope, key):
                return self._seconds_until_free(limit, scope, key)
        return 0

    def _seconds_until_free(self, limit: RateLimitItem, scope: str, key: str) -> int:
        reset_at = self._limiter.get_window_stats(limit, scope, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))
