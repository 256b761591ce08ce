"""A fetch's records of several partitions, when they fit in one batch, are handled in one
transaction with one offset commit; a failure there costs no record an extra try."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from shared.consumer import ConsumerRunner
from shared.events import LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import reading, wait_for
from tests.platform.bus_helpers import assert_quiet, counting_handler, erased
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


class WatchedRunner(ConsumerRunner):
    """Notes each handled event's partition and each offset commit's partitions."""

    partition_of: dict[uuid.UUID, int]
    commits: list[set[int]]

    def _handled(self, record: Any, event: Any, outcome: str, seconds: float) -> None:
        self.partition_of[event.event_id] = record.partition
        super()._handled(record, event, outcome, seconds)

    async def _commit(self, consumer: Any, offsets: Any) -> None:
        self.commits.append({tp.partition for tp in offsets})
        await super()._commit(consumer, offsets)


def watched() -> type[WatchedRunner]:
    WatchedRunner.partition_of, WatchedRunner.commits = {}, []
    return WatchedRunner


async def _effects(platform: Platform, count: int) -> list[tuple[str, str]] | None:
    effects = await platform.effects()
    return effects if len(effects) >= count else None


async def test_several_partitions_fetched_together_share_a_transaction_and_a_commit(
    platform: Platform,
) -> None:
    transaction_of: dict[uuid.UUID, int] = {}

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        txid = await uow.session.scalar(text("SELECT txid_current()"))
        transaction_of[event.event_id] = int(txid)
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    events = [erased(f"lead {i}") for i in range(12)]  # twelve keys: every partition
    for event in events:
        await platform.send(event)
    runner_class = watched()
    runner = platform.runner(
        {LeadErasedEvent: handler}, runner_class=runner_class, consumer_commit_interval_ms=0
    )
    await runner.start()
    await wait_for(lambda: _effects(platform, len(events)), message="every event's effect")
    await assert_quiet(platform, len(events), quiet_s=0.3)

    partitions = set(runner_class.partition_of.values())
    assert len(partitions) == 3, "the twelve keys were spread over the three partitions"
    shared: dict[int, set[int]] = {}
    for event_id, txid in transaction_of.items():
        shared.setdefault(txid, set()).add(runner_class.partition_of[event_id])
    assert max(len(p) for p in shared.values()) >= 2, f"one transaction per partition: {shared}"
    assert max(len(c) for c in runner_class.commits) >= 2, "one offset commit per partition"


async def test_a_failure_in_a_merged_batch_costs_no_record_an_extra_try(
    platform: Platform,
) -> None:
    """One event of twelve, over three partitions, always fails: it is tried the configured
    number of times in all and dead-lettered; every other event's effect stays once."""
    attempts = 3
    platform.settings = platform.settings.model_copy(
        update={"consumer_max_attempts": attempts, "consumer_retry_backoff_ms": 10}
    )
    calls: dict[str, int] = {}
    handler = counting_handler(calls)

    reasons = [f"lead {i}" for i in range(11)] + ["boom"]
    for reason in reasons:
        await platform.send(erased(reason))
    runner_class = watched()
    runner = platform.runner({LeadErasedEvent: handler}, runner_class=runner_class)
    topic = platform.settings.topic(LeadErasedEvent.topic)
    await platform.relay().start()
    async with reading(platform.settings.kafka_bootstrap, f"{topic}.dlq") as dlq:
        await runner.start()
        [dead] = await dlq.wait_for_count(1)
        await dlq.assert_no_more(1, quiet_s=0.5)
    assert dict(dead.headers)["dlq.attempts"] == str(attempts).encode()
    assert calls["boom"] == attempts
    await wait_for(lambda: _effects(platform, 11), message="the eleven effects")
    await assert_quiet(platform, 11, quiet_s=0.3)
    assert sorted(value for _, value in await platform.effects()) == sorted(reasons[:-1])
    assert all(calls[reason] <= 2 for reason in reasons[:-1])  # the merged try, then its own


async def test_an_outage_in_a_merged_batch_rewinds_every_partition(platform: Platform) -> None:
    """The database drops the connection in the middle of a batch of three partitions: nothing
    of it stays, every partition goes back to its first record, and each effect lands once."""
    calls: list[uuid.UUID] = []

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        calls.append(event.event_id)
        if len(calls) == 5:  # what a PostgreSQL restart does to a busy connection
            await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    events = [erased(f"lead {i}") for i in range(12)]
    for event in events:
        await platform.send(event)
    runner = platform.runner({LeadErasedEvent: handler})
    await runner.start()
    await wait_for(lambda: _effects(platform, len(events)), message="every effect after it")
    await assert_quiet(platform, len(events), quiet_s=0.5)
    assert sorted(v for _, v in await platform.effects()) == sorted(
        e.payload.reason for e in events
    )
    assert runner.running and runner.last_error and "connection" in runner.last_error.lower()
    assert len(calls) > len(events)  # the batch's first four ran again
