"""Rate limits for public form submissions: a moving window per client and per form, kept by the
`limits` library in process memory.

The limits are per instance. Each capture process counts on its own, so with N instances
behind a load balancer a client may submit up to N times the configured rate; the limits are a
brake on bots and floods, not an exact quota. Behind a proxy, the client address is only right
when uvicorn is told to trust the proxy's X-Forwarded-For (`--forwarded-allow-ips`).
"""

from __future__ import annotations

import ipaddress
import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

IPV6_CLIENT_PREFIX = 64  # one IPv6 client usually holds a whole /64


class SubmissionLimits:
    """The two limits a form submission passes: one per client, one per form."""

    def __init__(self, per_client: int, per_form: int, *, window_s: int = 60) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_client = RateLimitItemPerSecond(per_client, window_s)
        self._per_form = RateLimitItemPerSecond(per_form, window_s)

    def wait(self, client_ip: str, form_id: str) -> int:
        """Whole seconds the client must wait before submitting; 0 when it may go ahead now,
        and then the submission counts against both limits. A refused one counts against none,
        so a flooding client does not use up the form's allowance, nor a full form the client's."""
        checks = (
            (self._per_client, "client", client_key(client_ip)),
            (self._per_form, "form", form_id),
        )
        for limit, scope, key in checks:
            if not self._limiter.test(limit, scope, key):
                return self._seconds_until_free(limit, scope, key)
        for limit, scope, key in checks:
            self._limiter.hit(limit, scope, key)
        return 0

    def _seconds_until_free(self, limit: RateLimitItem, scope: str, key: str) -> int:
        reset_at = self._limiter.get_window_stats(limit, scope, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def client_key(address: str) -> str:
    """The address an IPv4 client is counted by; for IPv6, its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)
