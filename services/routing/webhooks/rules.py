"""Pure webhook decisions: which URLs may be targets, when a failed delivery is tried again."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from urllib.parse import urlsplit

from shared.problems import Invalid

EVENT_TYPES = ("lead.assigned", "lead.queued", "lead.escalated")


def url_host(url: str) -> str:
    """The URL's host, or Invalid when it is not an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Invalid.of("webhook URL refused", "url", "must be an http or https URL")
    if not parts.hostname:
        raise Invalid.of("webhook URL refused", "url", "must name a host")
    if parts.username or parts.password:
        raise Invalid.of("webhook URL refused", "url", "must not carry credentials")
    return parts.hostname.lower()


def internal(address: str) -> bool:
    """Loopback, link-local, private, reserved or unspecified: inside someone's network."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_target(
    url: str, *, production: bool, allowed_hosts: Iterable[str], addresses: Iterable[str]
) -> None:
    """Refuse a target outside production rules: only http(s); in production no address of
    the host may be internal unless an admin allow-listed the host. `addresses` are the host's
    resolved addresses (the caller resolves; this stays pure)."""
    host = url_host(url)
    if not production or host in {h.lower() for h in allowed_hosts}:
        return
    resolved = list(addresses)
    if not resolved:
        raise Invalid.of("webhook URL refused", "url", f"host {host!r} does not resolve")
    bad = sorted(a for a in resolved if internal(a))
    if bad:
        raise Invalid.of(
            "webhook URL refused",
            "url",
            f"host {host!r} is an internal address ({bad[0]}); an admin must allow-list it",
        )


def backoff_s(attempts: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Delay before the next try after `attempts` failures: exponential, capped, with full
    jitter in its upper half so a burst of failures does not retry in step."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return float(ceiling * rng.uniform(0.5, 1.0))
