"""The consumer runner's inbox: a redelivery has no second effect, old event ids are forgotten."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from shared import consumer as consumer_module
from shared.consumer import ConsumerRunner
from shared.events import LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import wait_for
from tests.platform.bus_helpers import erased
from tests.platform.conftest import TABLES, Platform, record_effect

pytestmark = pytest.mark.asyncio


class CrashBeforeOffsetCommit(BaseException):
    """Stands for the process dying after the database commit, before the offset commit."""


class CrashingRunner(ConsumerRunner):
    crashed = False

    async def _commit(self, consumer, offsets) -> None:
        if not self.crashed:  # once: a dead process commits nothing more
            self.crashed = True
            raise CrashBeforeOffsetCommit()


def duplicates_seen(topic: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "handoff_events_consumed_total",
            {"service": "test", "topic": topic, "outcome": "duplicate"},
        )
        or 0
    )


async def test_redelivery_after_crash_between_db_commit_and_offset_commit_has_no_second_effect(
    platform: Platform,
):
    handled = []

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        handled.append(event.event_id)
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    event = erased("once")
    await platform.send(event)
    crashing = platform.runner(
        {LeadErasedEvent: handler}, group_id="crashy", runner_class=CrashingRunner
    )
    await crashing.start()
    await wait_for(platform.effects, message="the effect")
    await wait_for(lambda: not crashing.running, message="the simulated crash")
    await crashing.stop()

    topic = crashing.topics[0]
    before = duplicates_seen(topic)
    again = platform.runner({LeadErasedEvent: handler}, group_id="crashy")
    await again.start()
    await wait_for(
        lambda: duplicates_seen(topic) > before, timeout_s=30, message="the redelivered record"
    )
    assert await platform.effects() == [(str(event.lead_id), "once")]
    assert handled == [event.event_id]


class JustBooted:
    """A clock as `time` reads it on a machine up for five seconds: a prune timer that starts as
    "last done at 0.0" would wait PRUNE_EVERY_S - 5 s more before its first prune."""

    perf_counter = staticmethod(time.perf_counter)

    @staticmethod
    def monotonic() -> float:
        return 5.0


async def test_event_ids_older_than_the_retention_are_forgotten(platform: Platform, monkeypatch):
    monkeypatch.setattr(consumer_module, "time", JustBooted)
    processed = TABLES.processed_events.fullname
    async with platform.sessions() as session, session.begin():
        await session.execute(
            text(
                f"INSERT INTO {processed} (event_id, topic, outcome, processed_at) VALUES "
                "(gen_random_uuid(), 't', 'handled', now() - interval '15 days'), "
                "(gen_random_uuid(), 't', 'handled', now() - interval '1 day')"
            )
        )

    await platform.runner({LeadErasedEvent: lambda event, uow: asyncio.sleep(0)}).start()

    async def remaining() -> int | None:
        async with platform.sessions() as session:
            count = await session.scalar(text(f"SELECT count(*) FROM {processed}"))
        return count if count == 1 else None

    assert await wait_for(remaining, message="the old id pruned, the recent one kept") == 1
