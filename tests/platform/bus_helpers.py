"""What the consumer runner's tests share: an event, the effects counted, a quiet window."""

from __future__ import annotations

import asyncio
import time
import uuid

from shared.events import LeadErased, LeadErasedEvent
from tests.platform.conftest import Platform


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
