"""Webhook subscriptions for CRMs, their deliveries, and the admin allow-list (admin only)."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response

from services.routing.api.deps import ERRORS, Admin, Limit, Offset
from services.routing.repository import Repository
from services.routing.schemas.webhooks import (
    AllowList,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from services.routing.webhooks.rules import EVENT_TYPES, check_target, url_host
from services.routing.webhooks.sender import resolve
from shared.problems import Conflict, Invalid, NotFound, Problem
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=ERRORS)


@router.post("/webhooks", status_code=201)
async def add_webhook(hook: WebhookIn, uow: UowDep, _: Admin) -> WebhookCreated:
    """Subscribe a URL to event types; the answer carries the signing secret, once."""
    unknown = [
        Problem(f"event_types[{i}]", f"must be one of {', '.join(EVENT_TYPES)}")
        for i, t in enumerate(hook.event_types)
        if t not in EVENT_TYPES
    ]
    if unknown:
        raise Invalid("unknown event types", unknown)
    repo = Repository(uow.session)
    production = uow.settings.environment == "production"
    url_host(hook.url)
    check_target(
        hook.url,
        production=production,
        allowed_hosts=await repo.allowed_hosts() if production else [],
        addresses=await resolve(hook.url) if production else [],
    )
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    row = await repo.add_webhook(
        id=uuid.uuid4(),
        url=hook.url,
        event_types=sorted(set(hook.event_types)),
        active=hook.active,
        secret=secret,
    )
    return WebhookCreated.model_validate(row, from_attributes=True)


@router.get("/webhooks")
async def list_webhooks(session: SessionDep, _: Admin) -> list[WebhookOut]:
    rows = await Repository(session).webhooks()
    return [WebhookOut.model_validate(r, from_attributes=True) for r in rows]


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: uuid.UUID, uow: UowDep, _: Admin) -> Response:
    if not await Repository(uow.session).delete_webhook(webhook_id):
        raise NotFound.of("no such webhook", "webhook_id", f"no webhook {webhook_id}")
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: uuid.UUID, session: SessionDep, _: Admin, limit: Limit = 50, offset: Offset = 0
) -> list[DeliveryOut]:
    """Newest first, each with its attempts (status code, latency, error, next try)."""
    repo = Repository(session)
    if await repo.webhook(webhook_id) is None:
        raise NotFound.of("no such webhook", "webhook_id", f"no webhook {webhook_id}")
    rows = await repo.deliveries(webhook_id, limit, offset)
    return [_delivery(r) for r in rows]


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(delivery_id: int, uow: UowDep, _: Admin) -> DeliveryOut:
    """Send a dead delivery again (its attempts start over)."""
    repo = Repository(uow.session)
    row = await repo.delivery(delivery_id, lock=True)
    if row is None:
        raise NotFound.of("no such delivery", "delivery_id", f"no delivery {delivery_id}")
    if row.status != "dead":
        raise Conflict.of("only a dead delivery can be retried", "status", f"is {row.status}")
    await repo.retry_delivery(delivery_id, datetime.now(UTC))
    after = await repo.delivery(delivery_id)
    assert after is not None
    return _delivery(after)


@router.get("/webhook-allow-list")
async def get_allow_list(session: SessionDep, _: Admin) -> AllowList:
    return AllowList(hosts=await Repository(session).allowed_hosts())


@router.put("/webhook-allow-list")
async def put_allow_list(hosts: AllowList, uow: UowDep, _: Admin) -> AllowList:
    """Internal hosts webhooks may reach in production (everything else internal is refused)."""
    clean = sorted({h.strip().lower() for h in hosts.hosts if h.strip()})
    await Repository(uow.session).replace_allowed_hosts(clean)
    return AllowList(hosts=clean)


def _delivery(row: object) -> DeliveryOut:
    out = DeliveryOut.model_validate(row, from_attributes=True)
    if out.status != "pending":
        out.next_attempt_at = None
    return out
