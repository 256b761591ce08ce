"""The consumer runner through a rebalance in the middle of a batch: every effect once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.consumer import ConsumerRunner
from shared.events import LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import wait_for
from tests.platform.bus_helpers import assert_quiet, erased, has_effects
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


class PausingRunner(ConsumerRunner):
    """Stops before its `pause_after + 1`-th record until `resume` is set: a runner caught in
    the middle of a fetched batch, holding records of every partition it was assigned."""

    pause_after = 3
    resume = asyncio.Event()
    started_records = 0

    async def _process(self, record) -> None:
        if self.started_records >= self.pause_after:
            await self.resume.wait()
        self.started_records += 1
        await super()._process(record)


async def test_a_rebalance_in_the_middle_of_a_batch_keeps_every_effect_once(platform: Platform):
    handled_by: dict[str, list[uuid.UUID]] = {"first": [], "second": []}

    def handler(runner: str):
        async def handle(event: LeadErasedEvent, uow: UnitOfWork) -> None:
            await record_effect(str(event.lead_id), event.payload.reason)(uow.session)
            handled_by[runner].append(event.event_id)

        return handle

    # A transaction per record (batch size 1), so the records before the pause are committed;
    # a rebalance in the middle of a batch transaction is the next test.
    platform.settings = platform.settings.model_copy(update={"consumer_batch_size": 1})
    events = [erased(str(n)) for n in range(30)]
    for event in events:
        await platform.send(event)
    PausingRunner.resume = asyncio.Event()
    first = platform.runner(
        {LeadErasedEvent: handler("first")}, group_id="shared", runner_class=PausingRunner
    )
    await first.start()
    await wait_for(lambda: has_effects(platform, 3), message="the first runner under way")
    assert len(await platform.effects()) == 3, "the first runner pauses mid-batch"
    second = platform.runner({LeadErasedEvent: handler("second")}, group_id="shared")
    await second.start()
    # While the first is still stuck in its batch, the group rebalances and the second runner
    # handles records the first had fetched: proof the rebalance fell in the middle of it.
    await wait_for(
        lambda: handled_by["second"], timeout_s=30, message="the second runner to handle records"
    )
    PausingRunner.resume.set()

    await wait_for(
        lambda: has_effects(platform, len(events)), timeout_s=60, message="every event's effect"
    )
    await assert_quiet(platform, len(events), quiet_s=1.0)  # no late second effect
    effects = await platform.effects()
    assert sorted(value for _, value in effects) == sorted(e.payload.reason for e in events)
    assert sorted(handled_by["first"] + handled_by["second"]) == sorted(
        e.event_id for e in events
    ), "each event handled once, by one runner or the other"
    assert first.running and second.running


async def test_a_rebalance_in_the_middle_of_a_batch_transaction_keeps_every_effect_once(
    platform: Platform,
):
    hold, held = asyncio.Event(), asyncio.Event()
    first_calls = 0

    def handler(runner: str):
        async def handle(event: LeadErasedEvent, uow: UnitOfWork) -> None:
            nonlocal first_calls
            if runner == "first":
                first_calls += 1
                if first_calls == 4:  # three records of the batch done, not committed
                    held.set()
                    await hold.wait()
            await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

        return handle

    events = [erased(str(n)) for n in range(30)]
    for event in events:
        await platform.send(event)
    first = platform.runner({LeadErasedEvent: handler("first")}, group_id="shared")
    await first.start()
    await wait_for(held.is_set, message="the first runner held mid-batch")
    assert await platform.effects() == [], "nothing of an open batch is visible"
    consumer = first._consumer
    assert consumer is not None
    before = set(consumer.assignment())
    second = platform.runner({LeadErasedEvent: handler("second")}, group_id="shared")
    await second.start()
    await wait_for(
        lambda: set(consumer.assignment()) != before,
        timeout_s=30,
        message="the group rebalanced while the first runner is mid-batch",
    )
    hold.set()

    await wait_for(
        lambda: has_effects(platform, len(events)), timeout_s=60, message="every event's effect"
    )
    await assert_quiet(platform, len(events), quiet_s=1.0)  # no late second effect
    effects = await platform.effects()
    assert sorted(value for _, value in effects) == sorted(e.payload.reason for e in events)
    assert first.running and second.running
