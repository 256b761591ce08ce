"""SQL about webhooks: subscriptions, deliveries, the allow-list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, text, update

from services.routing.models import Delivery, Webhook, WebhookAllowedHost
from services.routing.repository.tables import Queries, table_of

webhooks_t, deliveries_t = table_of(Webhook), table_of(Delivery)
allowed_t = table_of(WebhookAllowedHost)
LOG_KEPT = 20  # attempts kept in a delivery's log


class WebhookQueries(Queries):
    async def add_webhook(self, **values: Any) -> Row[Any]:
        statement = insert(webhooks_t).values(**values).returning(webhooks_t)
        row: Row[Any] = (await self.session.execute(statement)).one()
        return row

    async def webhooks(self) -> list[Row[Any]]:
        return await self._rows(select(webhooks_t).order_by(webhooks_t.c.created_at))

    async def webhook(self, webhook_id: uuid.UUID) -> Row[Any] | None:
        rows = await self._rows(select(webhooks_t).where(webhooks_t.c.id == webhook_id))
        return rows[0] if rows else None

    async def delete_webhook(self, webhook_id: uuid.UUID) -> bool:
        statement = delete(webhooks_t).where(webhooks_t.c.id == webhook_id)
        return bool((await self.session.execute(statement.returning(webhooks_t.c.id))).scalar())

    async def subscribers(self, event_type: str) -> list[uuid.UUID]:
        query = select(webhooks_t.c.id).where(
            webhooks_t.c.active, webhooks_t.c.event_types.contains([event_type])
        )
        return [r.id for r in await self._rows(query)]

    async def add_deliveries(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(deliveries_t), rows)

    async def deliveries(self, webhook_id: uuid.UUID, limit: int, offset: int) -> list[Row[Any]]:
        query = (
            select(deliveries_t)
            .where(deliveries_t.c.webhook_id == webhook_id)
            .order_by(deliveries_t.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return await self._rows(query)

    async def delivery(self, delivery_id: int, *, lock: bool = False) -> Row[Any] | None:
        query = select(deliveries_t).where(deliveries_t.c.id == delivery_id)
        rows = await self._rows(query.with_for_update() if lock else query)
        return rows[0] if rows else None

    async def due_deliveries(self, limit: int) -> list[Row[Any]]:
        """Pending deliveries due now, each the oldest pending one of its lead for its webhook
        (per-lead order), locked; rows another sender holds are skipped, and so are the later
        deliveries of their leads (the held one is still pending)."""
        query = text(
            "SELECT d.*, w.url, w.secret FROM routing.deliveries d"
            " JOIN routing.webhooks w ON w.id = d.webhook_id"
            " WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND w.active"
            " AND NOT EXISTS (SELECT 1 FROM routing.deliveries e"
            "  WHERE e.webhook_id = d.webhook_id AND e.lead_id = d.lead_id"
            "  AND e.status = 'pending' AND e.id < d.id)"
            " ORDER BY d.id LIMIT :limit FOR UPDATE OF d SKIP LOCKED"
        )
        return await self._rows(query, {"limit": limit})

    async def record_attempt(
        self,
        delivery_id: int,
        *,
        status: str,
        attempts: int,
        next_attempt_at: datetime,
        log: list[dict[str, Any]],
    ) -> None:
        """The outcome of one try; the log keeps the last `LOG_KEPT` attempts, oldest first."""
        statement = (
            update(deliveries_t)
            .where(deliveries_t.c.id == delivery_id)
            .values(
                status=status,
                attempts=attempts,
                next_attempt_at=next_attempt_at,
                log=log[-LOG_KEPT:],
            )
        )
        await self.session.execute(statement)

    async def retry_delivery(self, delivery_id: int, now: datetime) -> None:
        statement = (
            update(deliveries_t)
            .where(deliveries_t.c.id == delivery_id)
            .values(status="pending", attempts=0, next_attempt_at=now)
        )
        await self.session.execute(statement)

    async def allowed_hosts(self) -> list[str]:
        return [r.host for r in await self._rows(select(allowed_t).order_by(allowed_t.c.host))]

    async def replace_allowed_hosts(self, hosts: list[str]) -> None:
        await self.session.execute(delete(allowed_t))
        if hosts:
            await self.session.execute(insert(allowed_t), [{"host": h} for h in hosts])
