"""What every service shares: health, readiness, metrics, settings."""

from __future__ import annotations

import uuid

import pytest

from handoff.embedded import free_port
from services.capture.app import create_app
from shared.events import LeadErased, LeadErasedEvent
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.helpers import running, wait_for
from tests.platform.conftest import TABLES, Platform, record_effect

pytestmark = pytest.mark.asyncio


async def test_ready_only_when_database_and_broker_answer(settings: Settings):
    async with running(create_app(settings)) as client:
        ready = await client.get("/readyz")
    assert ready.json() == {
        "ready": True,
        "checks": {"database": True, "broker": True, "outbox_relay": True},
    }


async def test_not_ready_while_the_broker_is_unreachable(settings: Settings):
    cut_off = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    async with running(create_app(cut_off), wait_ready=False) as client:
        assert (await client.get("/healthz")).status_code == 200
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["broker"] is False
    assert answer.json()["checks"]["database"] is True


async def test_not_ready_while_the_database_is_unreachable(settings: Settings):
    missing = settings.database_url.replace("/t_", "/missing_")
    async with running(
        create_app(settings.model_copy(update={"database_url": missing})), wait_ready=False
    ) as client:
        answer = await client.get("/readyz")  # at once: nothing to wait for
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"] is False


async def test_metrics_and_openapi_are_served(settings: Settings):
    async with running(create_app(settings)) as client:
        metrics = (await client.get("/metrics")).text
        openapi = (await client.get("/openapi.json")).json()
    assert 'handoff_outbox_pending{service="capture"} 0.0' in metrics
    assert "/v1/leads" in openapi["paths"]
    assert {"/healthz", "/readyz", "/metrics"} <= set(openapi["paths"])


async def test_ready_only_while_the_consumer_runs(platform: Platform):
    async def handle(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        await record_effect(str(event.lead_id), "seen")(uow.session)

    spec = ServiceSpec(name="probe", tables=TABLES, handlers={LeadErasedEvent: handle})
    app = create_service_app(spec, platform.settings)
    async with running(app) as client:
        ready = await client.get("/readyz")
        await platform.send(
            LeadErasedEvent(producer="test", lead_id=uuid.uuid4(), payload=LeadErased())
        )
        await wait_for(platform.effects, message="the consumer handling an event")
        await app.state.runtime.consumer.stop()
        stopped = await client.get("/readyz")
    assert ready.json()["checks"]["consumer"] is True
    assert stopped.status_code == 503
    assert stopped.json()["checks"] == {
        "database": True,
        "broker": True,
        "outbox_relay": True,
        "consumer": False,
    }
