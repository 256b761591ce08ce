"""Offsets are committed at most every `consumer_commit_interval_ms`, and at once for what a
stop or a rebalance would otherwise leave uncommitted."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.consumer import ConsumerRunner
from shared.events import LeadErasedEvent
from tests.helpers import partitions_of, wait_for
from tests.platform.bus_helpers import counting_handler, erased, has_effects
from tests.platform.conftest import Platform

pytestmark = pytest.mark.asyncio

LONG_MS = 600_000  # longer than any test: only a stop or a rebalance commits


async def committed(platform: Platform, runner: ConsumerRunner) -> int:
    """The records the group has committed as handled, over every partition."""
    [topic] = runner.topics
    partitions = await partitions_of(platform.settings.kafka_bootstrap, topic)
    assert partitions, "the topic's partitions"
    reader = AIOKafkaConsumer(
        bootstrap_servers=platform.settings.kafka_bootstrap,
        group_id=runner.group_id,
        enable_auto_commit=False,
    )
    await reader.start()
    try:
        offsets = [await reader.committed(TopicPartition(topic, p)) for p in partitions]
    finally:
        await reader.stop()
    return sum(offset or 0 for offset in offsets)


async def send_erasures(platform: Platform, count: int) -> None:
    for i in range(count):  # distinct keys: every partition
        await platform.send(erased(f"lead {i}"))


async def test_offsets_wait_for_the_interval_and_a_stop_commits_them(platform: Platform) -> None:
    await send_erasures(platform, 6)
    runner = platform.runner(
        {LeadErasedEvent: counting_handler({})}, consumer_commit_interval_ms=LONG_MS
    )
    await runner.start()
    await wait_for(lambda: has_effects(platform, 6), message="every event's effect")
    assert await committed(platform, runner) == 0, "committed before the interval was up"

    await runner.stop()
    assert await committed(platform, runner) == 6


async def test_an_interval_of_zero_commits_after_every_fetch(platform: Platform) -> None:
    await send_erasures(platform, 6)
    runner = platform.runner({LeadErasedEvent: counting_handler({})}, consumer_commit_interval_ms=0)
    await runner.start()

    async def all_committed() -> bool:
        return await committed(platform, runner) == 6

    await wait_for(all_committed, message="every offset committed while running")


async def test_a_rebalance_commits_what_was_handled_of_the_partitions_it_takes_away(
    platform: Platform,
) -> None:
    handler = counting_handler({})
    await send_erasures(platform, 12)
    first = platform.runner({LeadErasedEvent: handler}, consumer_commit_interval_ms=LONG_MS)
    await first.start()
    await wait_for(lambda: has_effects(platform, 12), message="every event's effect")

    second = platform.runner({LeadErasedEvent: handler}, consumer_commit_interval_ms=LONG_MS)
    await second.start()

    async def rebalanced() -> bool:
        return bool(second._consumer and second._consumer.assignment())

    await wait_for(rebalanced, timeout_s=30, message="the second runner given partitions")
    assert await committed(platform, first) == 12, "handled offsets left uncommitted"
