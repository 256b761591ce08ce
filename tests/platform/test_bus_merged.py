"""A fetch's records of several partitions, when they fit in one batch, are handled in one
transaction with one offset commit; a failure there costs no record an extra try."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.partitioner import murmur2
from sqlalchemy import text

from shared.consumer import ConsumerRunner, merged_groups
from shared.events import LeadErasedEvent
from shared.uow import Handler, UnitOfWork
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


def noting_transactions(transaction_of: dict[uuid.UUID, int]) -> Handler:
    """Records each event's effect and notes the transaction it ran in."""

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        txid = await uow.session.scalar(text("SELECT txid_current()"))
        transaction_of[event.event_id] = int(txid)
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    return handler


def dropping_the_connection_once(calls: list[uuid.UUID]) -> Handler:
    """Records each event's effect; at the fifth call the database drops the connection, as a
    PostgreSQL restart does to a busy one."""

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        calls.append(event.event_id)
        if len(calls) == 5:
            await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    return handler


async def handled_noting_transactions(
    platform: Platform, events: list[LeadErasedEvent], **settings: object
) -> tuple[dict[int, set[int]], type[WatchedRunner]]:
    """The events sent, then handled by a watched runner with `settings`: the partitions each
    transaction took records of, and the runner's class (what it watched)."""
    transaction_of: dict[uuid.UUID, int] = {}
    for event in events:
        await platform.send(event)
    runner_class = watched()
    runner = platform.runner(
        {LeadErasedEvent: noting_transactions(transaction_of)},
        runner_class=runner_class,
        **settings,
    )
    await runner.start()
    await wait_for(lambda: _effects(platform, len(events)), message="every event's effect")
    spans: dict[int, set[int]] = {}
    for event_id, txid in transaction_of.items():
        spans.setdefault(txid, set()).add(runner_class.partition_of[event_id])
    return spans, runner_class


def per_partition(each: int, partitions: int = 3) -> list[LeadErasedEvent]:
    """`each` events for every partition (the producer's default partitioner: murmur2 of the
    key), in partition order."""
    events: dict[int, list[LeadErasedEvent]] = {p: [] for p in range(partitions)}
    while any(len(found) < each for found in events.values()):
        event = erased(f"lead {sum(map(len, events.values()))}")
        found = events[(murmur2(event.key()) & 0x7FFFFFFF) % partitions]
        if len(found) < each:
            found.append(event)
    return [event for p in range(partitions) for event in events[p]]


def fetch_of(*counts: int) -> dict[TopicPartition, list[ConsumerRecord]]:
    return {
        TopicPartition("t", p): [
            ConsumerRecord("t", p, n, 0, 0, None, b"", None, 0, 0, []) for n in range(count)
        ]
        for p, count in enumerate(counts)
    }


async def test_several_partitions_fetched_together_share_a_transaction_and_a_commit(
    platform: Platform,
) -> None:
    events = per_partition(4)  # twelve keys, four on each partition
    shared, runner_class = await handled_noting_transactions(
        platform, events, consumer_commit_interval_ms=0
    )
    await assert_quiet(platform, len(events), quiet_s=0.3)

    partitions = set(runner_class.partition_of.values())
    assert len(partitions) == 3, "the twelve keys were spread over the three partitions"
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
    handler = dropping_the_connection_once(calls)
    events = per_partition(4)
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


async def test_a_fetch_is_packed_into_batches_of_at_most_the_batch_size_in_fetch_order() -> None:
    def shape(*counts: int, size: int) -> list[list[int]]:
        return [[tp.partition for tp in g] for g in merged_groups(fetch_of(*counts), size)]

    assert shape(8, 8, 8, size=20) == [[0, 1], [2]]
    assert shape(3, 30, 4, 5, size=20) == [[1], [0, 2, 3]]  # too big for a batch: alone
    assert shape(2, 2, 2, size=1) == [[0], [1], [2]]
    assert shape(5, 5, size=10) == [[0, 1]]


async def test_a_fetch_bigger_than_a_batch_still_shares_transactions_across_partitions(
    platform: Platform,
) -> None:
    events = per_partition(8)  # 24 records in one fetch: more than a batch of 20
    spans, _ = await handled_noting_transactions(platform, events, consumer_batch_size=20)
    assert max(len(p) for p in spans.values()) == 2, f"partitions per transaction: {spans}"


async def test_an_outage_in_the_first_of_a_fetchs_batches_rewinds_the_later_ones_too(
    platform: Platform,
) -> None:
    """24 records in batches of 20: two partitions merged, then the third. The connection drops
    in the first; the third partition's records, fetched but not handled, come again as well."""
    handler = dropping_the_connection_once([])
    events = per_partition(8)
    for event in events:
        await platform.send(event)
    runner = platform.runner({LeadErasedEvent: handler}, consumer_batch_size=20)
    await runner.start()
    await wait_for(lambda: _effects(platform, len(events)), message="every effect after it")
    await assert_quiet(platform, len(events), quiet_s=0.5)
    assert sorted(v for _, v in await platform.effects()) == sorted(
        e.payload.reason for e in events
    )
    assert runner.last_error and "connection" in runner.last_error.lower()
