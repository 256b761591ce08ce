"""The consumer runner's dead letters: the copy and its error, a replay, a record too big."""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import UTC, datetime

import pytest

from shared.events import LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import reading, wait_for
from tests.platform.bus_helpers import erased
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


async def test_poison_message_goes_to_the_dlq_with_its_error_and_the_next_is_processed(
    platform: Platform,
):
    attempts, backoff_ms = 4, 250  # sleeps of 0.25, 0.5 and 1 s: far above a busy machine's noise
    platform.settings = platform.settings.model_copy(
        update={"consumer_max_attempts": attempts, "consumer_retry_backoff_ms": backoff_ms}
    )
    calls: list[float] = []  # when the failing event's handler ran

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        if event.payload.reason == "boom":
            calls.append(time.monotonic())
            raise ValueError("this lead cannot be erased")
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    lead = uuid.uuid4()
    topic = platform.settings.topic(LeadErasedEvent.topic)
    started = datetime.now(UTC).replace(microsecond=0)
    await platform.producer.send_and_wait(
        topic, b"{not json", key=str(lead).encode(), headers=[("trace", b"abc")]
    )
    boom = erased("boom", lead)
    await platform.send(boom)
    await platform.send(erased("fine", lead))
    await platform.relay().start()
    runner = platform.runner({LeadErasedEvent: handler})
    await runner.start()

    async with reading(platform.settings.kafka_bootstrap, f"{topic}.dlq") as dlq:
        records = await dlq.wait_for_count(2)
        await dlq.assert_no_more(2, quiet_s=0.5)
    async with reading(platform.settings.kafka_bootstrap, topic) as original:
        originals = await original.wait_for_count(3)
    assert await wait_for(platform.effects) == [(str(lead), "fine")]
    unparsable, failing = sorted(records, key=lambda r: r.offset)
    poison_at, boom_at, _ = sorted(originals, key=lambda r: r.offset)  # one key, one partition

    assert unparsable.value == b"{not json" and unparsable.key == str(lead).encode()
    headers = dict(unparsable.headers)
    assert headers["trace"] == b"abc"
    assert headers["dlq.error"].startswith(b"ValidationError")
    assert headers["dlq.attempts"] == b"0", "an unparsable record is not retried"
    assert headers["dlq.original.offset"] == str(poison_at.offset).encode()

    assert len(calls) == attempts, "the handler ran exactly the configured number of times"
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    for retry, gap in enumerate(gaps):  # the backoff doubles (a constant one fails retry 2)
        assert gap >= backoff_ms / 1000 * 2**retry, f"retry {retry + 1} came after {gaps}"

    assert failing.value == boom_at.value and failing.key == boom_at.key
    failing_headers = dict(failing.headers)
    assert set(failing_headers) >= {
        "dlq.error",
        "dlq.error.trace",
        "dlq.attempts",
        "dlq.original.topic",
        "dlq.original.partition",
        "dlq.original.offset",
        "dlq.consumer.group",
        "dlq.failed_at",
    }
    assert failing_headers["dlq.error"] == b"ValueError: this lead cannot be erased"
    trace = failing_headers["dlq.error.trace"].decode()
    assert trace.startswith("Traceback") and "in handler" in trace
    assert trace.rstrip().endswith("ValueError: this lead cannot be erased")
    assert failing_headers["dlq.attempts"] == str(len(calls)).encode()
    assert failing_headers["dlq.original.topic"] == topic.encode()
    assert failing_headers["dlq.original.partition"] == str(boom_at.partition).encode()
    assert failing_headers["dlq.original.offset"] == str(boom_at.offset).encode()
    assert failing_headers["dlq.consumer.group"] == runner.group_id.encode()
    failed_at = datetime.fromisoformat(failing_headers["dlq.failed_at"].decode())
    assert started <= failed_at <= datetime.now(UTC)


async def test_a_dead_lettered_event_sent_again_after_a_fix_is_handled(platform: Platform):
    fixed = False

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        if not fixed:
            raise ValueError("a bug, fixed later")
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    topic = platform.settings.topic(LeadErasedEvent.topic)
    await platform.relay().start()
    await platform.runner({LeadErasedEvent: handler}).start()
    event = erased("replayed")
    async with reading(platform.settings.kafka_bootstrap, f"{topic}.dlq") as dlq:
        await platform.send(event)
        [dead] = await dlq.wait_for_count(1)
    fixed = True
    await platform.producer.send_and_wait(topic, dead.value, key=dead.key)  # the replay

    assert await wait_for(platform.effects, message="the replayed event's effect") == [
        (str(event.lead_id), "replayed")
    ]


async def test_a_poison_record_too_big_for_its_dlq_copy_is_dead_lettered_without_its_value(
    platform: Platform,
):
    platform.settings = platform.settings.model_copy(update={"max_event_bytes": 10_000})
    topic = platform.settings.topic(LeadErasedEvent.topic)
    await platform.producer.send_and_wait(topic, b"x" * 5_000)
    await platform.send(erased("after"))

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    await platform.runner({LeadErasedEvent: handler}).start()
    relay = platform.relay()
    await relay.start()
    async with reading(platform.settings.kafka_bootstrap, f"{topic}.dlq") as dlq:
        [dead] = await dlq.wait_for_count(1)
    assert dead.value == b""
    headers = dict(dead.headers)
    assert headers["dlq.value_dropped_bytes"] == b"5000"
    assert headers["dlq.original.offset"] == b"0"
    assert [value for _, value in await wait_for(platform.effects)] == ["after"]
