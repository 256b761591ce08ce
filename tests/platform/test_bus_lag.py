"""The consumer runner's lag gauge: the records not handled yet."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.consumer import ConsumerRunner
from shared.events import LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import wait_for
from tests.platform.bus_helpers import erased, has_effects, lag_of
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


async def test_lag_counts_the_records_not_handled_yet(platform: Platform):
    release = asyncio.Event()

    async def held(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        await release.wait()
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    runner = platform.runner({LeadErasedEvent: held}, group_id="lagging")
    await runner.start()
    lead = uuid.uuid4()  # one key: one partition
    for n in range(3):
        await platform.send(erased(str(n), lead))

    # A new topic's partition may wait for its leader on a broker the whole suite has loaded
    # (NotLeaderForPartition once in the Kafka tier): a longer deadline, the same condition.
    await wait_for(
        lambda: _lag_is(runner, 3), timeout_s=45, message="a lag of 3 while the handler is held"
    )
    assert await platform.effects() == []
    release.set()
    await wait_for(lambda: has_effects(platform, 3), message="the three effects")
    await wait_for(lambda: _lag_is(runner, 0), message="no lag once handled")


async def _lag_is(runner: ConsumerRunner, expected: int) -> bool:
    return await lag_of(runner) == expected


async def test_lag_counts_records_the_runner_has_not_fetched_while_a_handler_hangs(
    platform: Platform,
):
    """The handler hangs on the first record; the second is fetched and waits in the consumer,
    which fetches nothing more for the partition meanwhile; the third is only on the broker.
    The lag counts all three: it asks the broker for the end, not the last fetch."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def hangs(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        entered.set()
        await release.wait()
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    runner = platform.runner({LeadErasedEvent: hangs}, group_id="hanging")
    await runner.start()
    lead = uuid.uuid4()  # one key: one partition

    await platform.send(erased("0", lead))
    await wait_for(lambda: _set(entered), timeout_s=45, message="the handler holding record 0")
    await platform.send(erased("1", lead))
    await wait_for(lambda: _lag_is(runner, 2), message="a lag of 2")
    await platform.send(erased("2", lead))
    await wait_for(lambda: _lag_is(runner, 3), message="a lag of 3, the last record unfetched")
    release.set()
    await wait_for(lambda: has_effects(platform, 3), message="the three effects")
    await wait_for(lambda: _lag_is(runner, 0), message="no lag once handled")


async def _set(event: asyncio.Event) -> bool:
    return event.is_set()
