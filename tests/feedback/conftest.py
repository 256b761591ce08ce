"""Feedback test fixtures: the service running on the test's database and broker, a way to feed
it real envelopes through the broker, built by a small journey helper (and the six leads of the
reports' story), and units of work on the test's database to run the use cases as the consumer
runner does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.app import create_app
from services.feedback.models import platform
from shared.db import create_engine
from shared.events import (
    Attribution,
    Consent,
    Contact,
    Envelope,
    FiredRule,
    LeadAssigned,
    LeadAssignedEvent,
    LeadCaptured,
    LeadCapturedEvent,
    LeadErased,
    LeadErasedEvent,
    LeadMql,
    LeadMqlEvent,
    LeadQueued,
    LeadQueuedEvent,
    LeadReturned,
    LeadReturnedEvent,
    LeadScored,
    LeadScoredEvent,
    RoutingProfile,
    SalesCapacity,
    SalesCapacityEvent,
)
from shared.settings import Settings
from tests.helpers import UowFactory, running, units_of_work

# Helper modules holding asserts: rewritten as a test module's, a failing one shows the values.
pytest.register_assert_rewrite("tests.feedback.pages_helpers", "tests.feedback.reports_helpers")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Publish = Callable[..., Awaitable[None]]


@pytest_asyncio.fixture
async def feedback(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings)) as client:
        yield client


@pytest_asyncio.fixture
async def publish(settings: Settings) -> AsyncIterator[Publish]:
    """Sends envelopes as producers do: to the (prefixed) topic, keyed by lead or team."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=2)
    await producer.start()

    async def send(*events: Envelope) -> None:
        for event in events:
            await producer.send_and_wait(
                settings.topic(event.topic), event.to_bytes(), key=event.key()
            )

    yield send
    await producer.stop()


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url, pool_size=10)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def uow(settings: Settings, engine: AsyncEngine) -> UowFactory:
    """A unit of work on the test's database, committed on leaving."""
    return units_of_work(engine, platform, settings, "feedback")


@dataclass
class Journey:
    """One lead's events, made the way the producing services make them."""

    lead_id: uuid.UUID = field(default_factory=uuid.uuid4)
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def _envelope(
        self, kind: type[Envelope], producer: str, at: datetime, payload: object
    ) -> Envelope:
        return kind(
            producer=producer,
            lead_id=self.lead_id,
            correlation_id=self.correlation_id,
            occurred_at=at,
            payload=payload,
        )

    def captured(
        self,
        at: datetime = T0,
        *,
        source: str = "ads",
        form: str = "demo",
        campaign: str | None = "spring",
        email: str | None = None,
        merged: bool = False,
    ) -> Envelope:
        touch = Attribution(
            form_id=form,
            source=source,
            utm_source="google",
            utm_medium="cpc",
            utm_campaign=campaign,
        )
        contact = Contact(
            email=email or f"{self.lead_id.hex[:8]}@example.com",
            first_name="Ada",
            last_name="Lovelace",
            company="Engines Ltd",
        )
        payload = LeadCaptured(
            merged=merged,
            contact=contact,
            consent=Consent(given=True),
            first_touch=touch,
            last_touch=touch,
        )
        return self._envelope(LeadCapturedEvent, "capture", at, payload)

    def scored(
        self, at: datetime, *, score: int = 70, threshold: int = 60, model: str = "m1"
    ) -> Envelope:
        payload = LeadScored(
            total_score=score,
            fit_score=40,
            grade="B",
            engagement_score=score - 40,
            model_version=model,
            threshold=threshold,
            explanation=[FiredRule(rule="title_head", points=40)],
        )
        return self._envelope(LeadScoredEvent, "scoring", at, payload)

    def mql(self, at: datetime, *, threshold: int = 60, model: str = "m1") -> Envelope:
        payload = LeadMql(
            score=70,
            grade="B",
            model_version=model,
            threshold=threshold,
            profile=RoutingProfile(country="GB"),
        )
        return self._envelope(LeadMqlEvent, "scoring", at, payload)

    def returned(self, at: datetime) -> Envelope:
        payload = LeadReturned(
            reason="country excluded", failed_criterion="excluded_countries", criteria_version="c1"
        )
        return self._envelope(LeadReturnedEvent, "routing", at, payload)

    def queued(self, at: datetime, *, team: str = "emea") -> Envelope:
        payload = LeadQueued(
            reason="no eligible rep with free capacity", team_id=team, queue_position=1
        )
        return self._envelope(LeadQueuedEvent, "routing", at, payload)

    def assigned(
        self,
        at: datetime,
        *,
        rep: str = "rep-1",
        team: str = "emea",
        due: timedelta = timedelta(hours=4),
        attempt: int = 1,
        previous: str | None = None,
    ) -> Envelope:
        payload = LeadAssigned(
            rep_id=rep,
            rep_email=f"{rep}@example.com",
            team_id=team,
            rule="emea-default",
            strategy="least_loaded",
            attempt=attempt,
            previous_rep_id=previous,
            follow_up_due=at + due,
        )
        return self._envelope(LeadAssignedEvent, "routing", at, payload)

    def erased(self, at: datetime) -> Envelope:
        return self._envelope(LeadErasedEvent, "capture", at, LeadErased(requested_by="privacy"))


@pytest.fixture
def leads() -> list[Journey]:
    """The six leads of the reports' story (tests/feedback/reports_helpers.py)."""
    return [Journey() for _ in range(6)]


def capacity(
    at: datetime, *, team: str = "emea", total: int = 10, free: int = 4, queue: int = 0
) -> Envelope:
    payload = SalesCapacity(
        team_id=team,
        reps_available=2,
        total_capacity=total,
        open_load=total - free,
        free_slots=free,
        queue_length=queue,
    )
    return SalesCapacityEvent(producer="routing", occurred_at=at, payload=payload)


def verdict(lead_id: uuid.UUID, verdict: str, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"lead_id": str(lead_id), "verdict": verdict}
    body.update({k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items()})
    return body
