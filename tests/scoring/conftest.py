"""Scoring test fixtures: run use cases on the test's real database, and make events to feed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.demo_scoring import DEMO_MODEL
from services.scoring.models import platform
from services.scoring.repository import forget_active_model, install_active_model
from shared.db import create_engine
from shared.events import (
    ActivityProperties,
    ActivityType,
    Attribution,
    Consent,
    Contact,
    Envelope,
    LeadActivity,
    LeadActivityEvent,
    LeadCaptured,
    LeadCapturedEvent,
    SalesCapacity,
    SalesCapacityEvent,
    parse_event,
)
from shared.settings import Settings
from tests.helpers import UowFactory, units_of_work


@pytest.fixture(autouse=True)
def no_cached_model() -> None:
    """The active model is cached per process for a second; each test has its own database."""
    forget_active_model()


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url, pool_size=30)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def uow(settings: Settings, engine: AsyncEngine) -> UowFactory:
    """A unit of work on the test's database, committed on leaving."""
    return units_of_work(engine, platform, settings, "scoring")


@pytest_asyncio.fixture
async def demo_model(settings: Settings) -> None:
    assert await install_active_model(settings.database_url, DEMO_MODEL, by="test")


async def published(engine: AsyncEngine, event_type: str | None = None) -> list[Any]:
    """The events scoring wrote to its outbox, in order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(platform.outbox.c.value).order_by(platform.outbox.c.id)
        )
        events = [parse_event(row.value) for row in rows]
    return [e for e in events if event_type is None or e.event_type == event_type]


async def sql(engine: AsyncEngine, statement: str, **params: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(statement), params)).all())


def captured(
    lead_id: uuid.UUID | None = None,
    *,
    email: str = "ada@example.com",
    consent: bool = True,
    **contact: Any,
) -> LeadCapturedEvent:
    fields = {
        "job_title": "Head of Engineering",
        "company": "Analytical Engines",
        "company_size": "51-200",
        "industry": "software",
        "country": "GB",
        "language": "en",
    } | contact
    lead_id = lead_id or uuid.uuid4()
    return LeadCapturedEvent(
        producer="capture",
        lead_id=lead_id,
        correlation_id=lead_id,
        payload=LeadCaptured(
            merged=False,
            contact=Contact(email=email, **fields),
            consent=Consent(given=consent),
            first_touch=Attribution(form_id="demo"),
            last_touch=Attribution(form_id="demo"),
        ),
    )


def activity(
    lead_id: uuid.UUID | None, kind: str, at: datetime | None = None, **properties: Any
) -> LeadActivityEvent:
    assert lead_id is not None
    return LeadActivityEvent(
        producer="capture",
        lead_id=lead_id,
        correlation_id=lead_id,
        payload=LeadActivity(
            activity_type=ActivityType(kind),
            happened_at=at or datetime.now(UTC),
            properties=ActivityProperties(**properties),
        ),
    )


def capacity(
    team: str, free: int, queue: int = 0, at: datetime | None = None
) -> SalesCapacityEvent:
    return SalesCapacityEvent(
        producer="routing",
        occurred_at=at or datetime.now(UTC),
        payload=SalesCapacity(
            team_id=team,
            reps_available=1,
            total_capacity=free,
            open_load=0,
            free_slots=free,
            queue_length=queue,
        ),
    )


@pytest_asyncio.fixture
async def produce(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """Publish events to the test's topics, as their producers would (key, envelope bytes)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()

    async def send(*events: Envelope) -> None:
        for event in events:
            await producer.send_and_wait(
                settings.topic(event.topic), event.to_bytes(), key=event.key()
            )

    yield send
    await producer.stop()
