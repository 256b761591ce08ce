"""The sender job: posts due deliveries, signed per Standard Webhooks, outside any consumer's
transaction. Each run locks a batch (`FOR UPDATE SKIP LOCKED`), so two instances never send the
same delivery at once; a failure is retried with exponential backoff and jitter, and after
`Policy.max_attempts` tries the delivery is dead until an admin retries it."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks import Webhook

from services.routing.repository.webhooks import WebhookQueries
from services.routing.webhooks.rules import backoff_s, check_target, url_host
from shared.problems import Invalid
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Policy:
    timeout_s: float = 5.0  # connect, read, write and pool, each
    max_response_bytes: int = 4096  # what is read of a receiver's answer
    max_attempts: int = 6
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 600.0
    batch: int = 20


POLICY = Policy()
_rng = random.Random()


async def send_deliveries(uow: UnitOfWork) -> None:
    repo = WebhookQueries(uow.session)
    due = await repo.due_deliveries(POLICY.batch)
    if not due:
        return
    production = uow.settings.environment == "production"
    allowed = await repo.allowed_hosts() if production else []
    async with httpx.AsyncClient(timeout=POLICY.timeout_s, follow_redirects=False) as client:
        for row in due:
            await _send(repo, client, row, production, allowed)


async def _send(
    repo: WebhookQueries,
    client: httpx.AsyncClient,
    row: Any,
    production: bool,
    allowed: list[str],
) -> None:
    started, at = time.monotonic(), datetime.now(UTC)
    status_code: int | None = None
    error: str | None = None
    try:
        if production:  # resolved again at each send: a name may point inside later
            check_target(
                row.url, production=True, allowed_hosts=allowed, addresses=await _resolve(row.url)
            )
        headers = _signed_headers(row.secret, row.message_id, at, row.body)
        async with client.stream("POST", row.url, content=row.body, headers=headers) as response:
            status_code = response.status_code
            read = 0
            async for chunk in response.aiter_bytes():  # bounded: the rest is not read
                read += len(chunk)
                if read >= POLICY.max_response_bytes:
                    break
    except Invalid as refused:
        error = refused.problems[0].reason if refused.problems else str(refused)
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"[:300]
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    attempts = row.attempts + 1
    ok = status_code is not None and 200 <= status_code < 300
    if ok:
        status, next_at = "delivered", at
    elif attempts >= POLICY.max_attempts:
        status, next_at = "dead", at
    else:
        delay = backoff_s(
            attempts, base_s=POLICY.backoff_base_s, cap_s=POLICY.backoff_cap_s, rng=_rng
        )
        status, next_at = "pending", at + timedelta(seconds=delay)
    entry = {
        "attempt": attempts,
        "at": at.isoformat(),
        "status_code": status_code,
        "error": error,
        "latency_ms": latency_ms,
        "next_attempt_at": next_at.isoformat() if status == "pending" else None,
    }
    await repo.record_attempt(
        row.id, status=status, attempts=attempts, next_attempt_at=next_at, log=[*row.log, entry]
    )
    extra = {"lead_id": str(row.lead_id)} if row.lead_id else {}
    log.info("webhook delivery %s: %s (%s)", row.id, status, status_code or error, extra=extra)


def _signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "user-agent": "handoff-routing-webhooks",
    }


async def _resolve(url: str) -> list[str]:
    host = url_host(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


async def resolve(url: str) -> list[str]:
    """The host's addresses (for the API's check when a subscription is made)."""
    return await _resolve(url)
