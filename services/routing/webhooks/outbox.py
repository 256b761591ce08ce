"""Deliveries written in the transaction that makes the event (outbox style): a delivery
exists exactly when the assignment, queueing or escalation it reports was committed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.repository.webhooks import WebhookQueries
from shared.events import Envelope

Subscribers = dict[str, list[uuid.UUID]]


async def enqueue_deliveries(
    session: AsyncSession, event: Envelope, known: Subscribers | None = None
) -> None:
    """One delivery per active subscription to the event's type. `known`: the subscriptions
    this transaction has read already, by event type (a batch of assignments asks once)."""
    event_type, known = str(event.event_type), {} if known is None else known
    if await _subscribers(session, event_type, known):  # else the event is not even dumped
        data = event.model_dump(mode="json")
        await enqueue(session, event_type, event.lead_id, data, str(event.event_id), known)


async def _subscribers(
    session: AsyncSession, event_type: str, known: Subscribers
) -> list[uuid.UUID]:
    if event_type not in known:
        known[event_type] = await WebhookQueries(session).subscribers(event_type)
    return known[event_type]


async def enqueue(
    session: AsyncSession,
    event_type: str,
    lead_id: uuid.UUID | None,
    data: dict[str, Any],
    message_id: str,
    known: Subscribers | None = None,
) -> None:
    known = {} if known is None else known
    subscribers = await _subscribers(session, event_type, known)
    if not subscribers:
        return
    repo = WebhookQueries(session)
    now = datetime.now(UTC)
    body = json.dumps(
        {"type": event_type, "timestamp": now.isoformat(), "data": data}, separators=(",", ":")
    )
    await repo.add_deliveries(
        [
            {
                "webhook_id": webhook_id,
                "message_id": f"msg_{message_id}",
                "lead_id": lead_id,
                "event_type": event_type,
                "body": body,
                "status": "pending",
                "next_attempt_at": now,
            }
            for webhook_id in subscribers
        ]
    )
