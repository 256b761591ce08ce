"""Routing test fixtures: a seeded sales organisation, MQL envelopes, and a producer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.routing.admin import import_org
from services.routing.handlers.mqls import route_mql, route_mqls
from services.routing.models import platform
from services.routing.schemas.org import OrgIn
from shared.broker import new_producer
from shared.db import create_engine, session_factory
from shared.events import Envelope, Grade, LeadMql, LeadMqlEvent, RoutingProfile
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import UnitOfWork


@dataclass
class Routing:
    """The test's handle on routing's database and the broker."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer

    async def load(self, **org: Any) -> None:
        async with self.sessions() as session, session.begin():
            uow = UnitOfWork(session, Outbox(platform, self.settings, "routing"), self.settings)
            await import_org(OrgIn.model_validate(org), uow)

    async def send(self, event: Envelope) -> None:
        await self.producer.send_and_wait(
            self.settings.topic(event.topic), event.to_bytes(), key=event.key()
        )

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.execute(text(sql), params)).all())

    def topic(self, event: type[Envelope]) -> str:
        return self.settings.topic(event.topic)

    async def route(self, events: list[LeadMqlEvent], *, together: bool) -> None:
        """The MQLs in one transaction: as one batch (`route_mqls`) or one at a time."""
        async with self.sessions() as session, session.begin():
            uow = UnitOfWork(session, Outbox(platform, self.settings, "routing"), self.settings)
            if together:
                await route_mqls(events, uow)
            else:
                for event in events:
                    await route_mql(event, uow)


@pytest_asyncio.fixture
async def routing(settings: Settings) -> AsyncIterator[Routing]:
    engine = create_engine(settings.database_url, pool_size=5)
    producer = new_producer(settings)
    await producer.start()
    try:
        yield Routing(settings, engine, session_factory(engine), producer)
    finally:
        await producer.stop()
        await engine.dispose()


def team(team_id: str = "emea", **fields: Any) -> dict[str, Any]:
    return {"id": team_id, "name": team_id.upper(), "sla_minutes": 30} | fields


def rep(rep_id: str, team_id: str = "emea", **fields: Any) -> dict[str, Any]:
    base = {
        "id": rep_id,
        "email": f"{rep_id}@sales.example",
        "name": rep_id,
        "team": team_id,
        "capacity": 2,
        "timezone": "UTC",
        "working_hours": "always",
    }
    return base | fields


def mql(
    lead_id: uuid.UUID | None = None, *, score: int = 80, grade: str = "A", **profile: Any
) -> LeadMqlEvent:
    lead_id = lead_id or uuid.uuid4()
    fields = {"country": "GB", "language": "en", "consent_given": True} | profile
    return LeadMqlEvent(
        producer="scoring",
        lead_id=lead_id,
        correlation_id=uuid.uuid4(),
        payload=LeadMql(
            score=score,
            grade=Grade(grade),
            model_version="test-1",
            threshold=50,
            profile=RoutingProfile(**fields),
        ),
    )
