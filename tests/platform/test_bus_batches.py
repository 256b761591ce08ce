"""The consumer runner's batches: one transaction, a failure sends its records one by one."""

from __future__ import annotations

import uuid

import pytest

from shared.consumer import ConsumerRunner
from shared.events import LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import reading, wait_for
from tests.platform.bus_helpers import assert_quiet, counting_handler, erased
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


async def _all_of(platform: Platform, count: int):
    effects = await platform.effects()
    return effects if len(effects) >= count else None


class BatchRecordingRunner(ConsumerRunner):
    """Notes the records of every batch it starts, to show which ones shared a transaction."""

    batches: list[list[int]]

    async def _batch(self, consumer, tp, records):
        self.batches.append([record.offset for record in records])
        return await super()._batch(consumer, tp, records)


async def test_a_batch_commits_atomically_and_a_failure_in_it_sends_its_records_one_by_one(
    platform: Platform,
):
    """Record k of a batch fails: nothing of records 1..k-1 from that try stays (they run again,
    which they would not if their ids had committed), then each record goes one by one: every
    effect once, the failing record dead-lettered after the configured tries in all."""
    attempts = 3
    platform.settings = platform.settings.model_copy(
        update={"consumer_max_attempts": attempts, "consumer_retry_backoff_ms": 10}
    )
    calls: dict[str, int] = {}
    handler = counting_handler(calls)

    lead = uuid.uuid4()  # one key: one partition, one fetch
    reasons = ["one", "two", "boom", "four", "five"]
    for reason in reasons:
        await platform.send(erased(reason, lead))
    BatchRecordingRunner.batches = []
    runner = platform.runner({LeadErasedEvent: handler}, runner_class=BatchRecordingRunner)
    await platform.relay().start()
    topic = platform.settings.topic(LeadErasedEvent.topic)
    async with reading(platform.settings.kafka_bootstrap, f"{topic}.dlq") as dlq:
        await runner.start()
        [dead] = await dlq.wait_for_count(1)
        await dlq.assert_no_more(1, quiet_s=0.5)
    assert b'"reason":"boom"' in dead.value
    assert dict(dead.headers)["dlq.attempts"] == str(attempts).encode()

    expected = [(str(lead), reason) for reason in reasons if reason != "boom"]
    assert await wait_for(lambda: _all_of(platform, 4), message="the four effects") == expected
    await assert_quiet(platform, 4, quiet_s=0.5)
    assert BatchRecordingRunner.batches[0] == [0, 1, 2, 3, 4], "the five shared a transaction"
    assert calls == {
        "one": 2,  # the batch's try, rolled back, then its own transaction
        "two": 2,
        "boom": attempts,  # the batch's try counts: then attempts - 1 more
        "four": 1,  # never reached in the batch
        "five": 1,
    }


async def test_with_one_attempt_a_record_that_fails_in_a_batch_is_dead_lettered_with_its_error(
    platform: Platform,
):
    platform.settings = platform.settings.model_copy(update={"consumer_max_attempts": 1})
    calls: list[str] = []

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        calls.append(event.payload.reason)
        if event.payload.reason == "boom":
            raise ValueError("no second chance")
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    lead = uuid.uuid4()
    for reason in ["one", "boom", "three"]:
        await platform.send(erased(reason, lead))
    BatchRecordingRunner.batches = []
    await platform.relay().start()
    topic = platform.settings.topic(LeadErasedEvent.topic)
    async with reading(platform.settings.kafka_bootstrap, f"{topic}.dlq") as dlq:
        await platform.runner({LeadErasedEvent: handler}, runner_class=BatchRecordingRunner).start()
        [dead] = await dlq.wait_for_count(1)
    headers = dict(dead.headers)
    assert headers["dlq.error"] == b"ValueError: no second chance"
    assert headers["dlq.attempts"] == b"1"
    assert [v for _, v in await wait_for(lambda: _all_of(platform, 2))] == ["one", "three"]
    assert BatchRecordingRunner.batches[0] == [0, 1, 2]
    assert calls.count("boom") == 1, "its one try was the batch's"
