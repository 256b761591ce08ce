"""The unit of work every use case gets: one transaction's session and the outbox to publish
through. Use cases never commit; the edge does (the request dependency in `shared.service`, the
consumer runner in `shared.consumer`, the job runner in `shared.jobs`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import Envelope
from shared.outbox import Headers, Outbox
from shared.settings import Settings


@dataclass
class UnitOfWork:
    session: AsyncSession
    outbox: Outbox
    settings: Settings

    async def publish(self, event: Envelope) -> None:
        """Written with the state change; the relay publishes it once the transaction commits."""
        await self.outbox.add(self.session, event)

    async def publish_raw(
        self, *, topic: str, key: bytes | None, value: bytes, headers: Headers
    ) -> None:
        await self.outbox.add_raw(self.session, topic=topic, key=key, value=value, headers=headers)


Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
