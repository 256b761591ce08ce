"""Rate limits for public form submissions: a moving window per client and per form, kept by the
`limits` library in process memory.

The limits are per instance. Each capture process counts on its own, so with N instances
behind a load balancer a client may submit up to N times the configured rate; the limits are a
brake on bots and floods, not an exact quota. Behind a proxy, the client address is only right
when uvicorn is told to trust the proxy's X-Forwarded-For (`--forwarded-allow-ips`).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from shared.auth import client_key

__all__ = ["SubmissionLimits", "UnknownForms", "client_key"]


class SubmissionLimits:
    """A client's own limit, and a form's allowance that no client can spend for others.

    Every attempt counts against the client's own window, so a flooding client only stops
    itself. The form's allowance counts leads the form accepted, never refusals (a garbage
    post spends nothing of it), and once it is spent only the clients that spent it wait: a
    first-time visitor always gets through, so a few clients cannot switch a form off for
    everyone. Overload of the service as a whole is refused before this, by uvicorn's
    `--limit-concurrency` (503), not by any one form's count."""

    def __init__(self, per_client: int, per_form: int, *, window_s: int = 60) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_client = RateLimitItemPerSecond(per_client, window_s)
        self._per_form = RateLimitItemPerSecond(per_form, window_s)
        self._window = RateLimitItemPerSecond(1, window_s)

    def wait(self, client_ip: str, form_id: str) -> int:
        """Whole seconds the client must wait before submitting; 0 when it may go ahead now,
        and then the attempt counts against the client's own limit (a refused one does not)."""
        client = client_key(client_ip)
        if not self._limiter.test(self._per_client, "client", client):
            return self._seconds_until_free(self._per_client, "client", client)
        form_full = not self._limiter.test(self._per_form, "form", form_id)
        if form_full and not self._limiter.test(self._window, "spent", form_id, client):
            return self._seconds_until_free(self._per_form, "form", form_id)
        self._limiter.hit(self._per_client, "client", client)
        return 0

    def accepted(self, client_ip: str, form_id: str) -> None:
        """The form took the client's lead: it counts against the form's allowance, and the
        client is one of those who spent it."""
        self._limiter.hit(self._per_form, "form", form_id)
        self._limiter.hit(self._window, "spent", form_id, client_key(client_ip))

    def _seconds_until_free(self, limit: RateLimitItem, *identifiers: str) -> int:
        reset_at = self._limiter.get_window_stats(limit, *identifiers).reset_time
        return max(1, math.ceil(reset_at - time.time()))


class UnknownForms:
    """Form ids recently found not to exist, so a flood of posts to them is refused without a
    query. Bounded (the oldest forgotten first) and short-lived: a form created on another
    instance is found at most `ttl_s` later; one created here is forgotten at once."""

    def __init__(self, *, ttl_s: float = 5.0, size: int = 4096) -> None:
        self._until: dict[str, float] = {}
        self._ttl_s, self._size = ttl_s, size

    def missing(self, form_id: str) -> bool:
        until = self._until.get(form_id)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._until[form_id]
        return False

    def remember(self, form_id: str) -> None:
        self._until.pop(form_id, None)
        if len(self._until) >= self._size:
            del self._until[next(iter(self._until))]
        self._until[form_id] = time.monotonic() + self._ttl_s

    def forget(self, form_id: str) -> None:
        self._until.pop(form_id, None)
