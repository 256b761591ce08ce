"""What the consumer runner's tests share: an event, the effects counted, a quiet window."""

from __future__ import annotations

import asyncio
import time
import uuid

from prometheus_client import REGISTRY

from shared.consumer import ConsumerRunner
from shared.events import LeadErased, LeadErasedEvent
from shared.uow import Handler, UnitOfWork
from tests.platform.conftest import Platform, record_effect


def erased(reason: str = "asked", lead_id: uuid.UUID | None = None) -> LeadErasedEvent:
    return LeadErasedEvent(
        producer="test", lead_id=lead_id or uuid.uuid4(), payload=LeadErased(reason=reason)
    )


async def has_effects(platform: Platform, count: int) -> bool:
    return len(await platform.effects()) >= count


async def assert_quiet(platform: Platform, count: int, *, quiet_s: float) -> None:
    """The effects stay at `count` for `quiet_s`."""
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        effects = await platform.effects()
        assert len(effects) == count, f"{len(effects)} effects, expected {count}"
        await asyncio.sleep(0.05)


def counting_handler(calls: dict[str, int]) -> Handler:
    """Counts each reason's tries and records its effect; the reason "boom" always fails."""

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        reason = event.payload.reason
        calls[reason] = calls.get(reason, 0) + 1
        await record_effect(str(event.lead_id), reason)(uow.session)
        if reason == "boom":
            raise ValueError("the boom event always fails")

    return handler


async def lag_of(runner: ConsumerRunner) -> float:
    """The runner's lag gauge over its topic's three partitions, refreshed."""
    await runner.refresh_lag()
    return sum(
        REGISTRY.get_sample_value(
            "handoff_consumer_lag",
            {"service": "test", "topic": runner.topics[0], "partition": str(p)},
        )
        or 0
        for p in range(3)
    )
