"""The consumer runner: idempotency, bounded retries, dead letters, offsets after commit."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from shared.consumer import ConsumerRunner
from shared.uow import UnitOfWork
from shared.events import LeadErased, LeadErasedEvent
from tests.helpers import reading, wait_for
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


def erased(reason: str = "asked", lead_id: uuid.UUID | None = None) -> LeadErasedEvent:
    return LeadErasedEvent(
        producer="test", lead_id=lead_id or uuid.uuid4(), payload=LeadErased(reason=reason)
    )


async def test_handler_that_fails_once_then_succeeds_has_its_effect_exactly_once(
    platform: Platform,
):
    calls = []

    async def flaky(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        calls.append(event.event_id)
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)
        if len(calls) == 1:
            raise RuntimeError("transient failure after writing")

    runner = platform.runner({LeadErasedEvent: flaky})
    await runner.start()
    event = erased("flaky")
    await platform.send(event)

    effects = await wait_for(platform.effects, message="the effect")
    assert effects == [(str(event.lead_id), "flaky")]
    assert len(calls) == 2
    await platform.send(erased("second"))
    await wait_for(lambda: _count(platform, 2), message="a second effect")
    assert [value for _, value in await platform.effects()] == ["flaky", "second"]


async def _count(platform: Platform, count: int) -> bool:
    return len(await platform.effects()) >= count


class CrashBeforeOffsetCommit(BaseException):
    """Stands for the process dying after the database commit, before the offset commit."""


class CrashingRunner(ConsumerRunner):
    async def _commit(self, consumer, offsets) -> None:
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


async def test_poison_message_goes_to_the_dlq_with_its_error_and_the_next_is_processed(
    platform: Platform,
):
    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        if event.payload.reason == "boom":
            raise ValueError("this lead cannot be erased")
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    lead = uuid.uuid4()
    topic = platform.settings.topic(LeadErasedEvent.topic)
    await platform.producer.send_and_wait(
        topic, b"{not json", key=str(lead).encode(), headers=[("trace", b"abc")]
    )
    await platform.send(erased("boom", lead))
    await platform.send(erased("fine", lead))
    await platform.relay().start()
    await platform.runner({LeadErasedEvent: handler}).start()

    async with reading(platform.settings.kafka_bootstrap, f"{topic}.dlq") as dlq:
        records = await dlq.wait_for_count(2)
        await dlq.assert_no_more(2, quiet_s=0.5)
    assert await wait_for(platform.effects) == [(str(lead), "fine")]
    unparsable, failing = sorted(records, key=lambda r: r.offset)
    assert unparsable.value == b"{not json" and unparsable.key == str(lead).encode()
    headers = dict(unparsable.headers)
    assert headers["trace"] == b"abc"
    assert headers["dlq.error"].startswith(b"ValidationError")
    assert headers["dlq.original.topic"] == topic.encode()
    failing_headers = dict(failing.headers)
    assert failing_headers["dlq.error"] == b"ValueError: this lead cannot be erased"
    assert failing_headers["dlq.attempts"] == str(platform.settings.consumer_max_attempts).encode()
    assert b'"reason":"boom"' in failing.value


async def test_handler_outbox_rows_commit_with_its_state(platform: Platform):
    """An event a handler publishes exists only if its transaction committed."""

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        await record_effect(str(event.lead_id), "seen")(uow.session)
        if event.payload.reason == "echo":
            return
        await uow.publish(
            LeadErasedEvent.caused_by(event, producer="test", payload=LeadErased(reason="echo"))
        )
        if event.payload.reason == "fail":
            raise RuntimeError("roll everything back")

    await platform.runner({LeadErasedEvent: handler}).start()
    await platform.send(erased("fail"))
    await platform.send(erased("ok"))
    await wait_for(platform.effects, message="the effect")
    await platform.relay().start()
    async with reading(
        platform.settings.kafka_bootstrap, platform.settings.topic(LeadErasedEvent.topic)
    ) as topic:
        # two inputs, one follow-up: the failing handler's follow-up was rolled back each time
        records = await topic.wait_for_count(3)
        await topic.assert_no_more(3, quiet_s=0.5)
    reasons = sorted(r.value.split(b'"reason":"')[1].split(b'"')[0] for r in records)
    assert reasons == [b"echo", b"fail", b"ok"]


async def test_a_connection_the_database_drops_mid_handler_is_an_outage_not_a_failure(
    platform: Platform,
):
    calls = []

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:  # what a PostgreSQL restart does to a busy connection
            await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    runner = platform.runner({LeadErasedEvent: handler})
    await runner.start()
    event = erased("survived")
    await platform.send(event)

    assert await wait_for(platform.effects, message="the effect after the outage") == [
        (str(event.lead_id), "survived")
    ]
    assert runner.running, "the loop outlives the outage"
    assert runner.last_error and "connection" in runner.last_error.lower()
    assert len(calls) == 2


async def test_a_rebalance_in_the_middle_of_a_batch_keeps_every_effect_once(platform: Platform):
    async def slow(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)
        await asyncio.sleep(0.05)  # a handler's work, so the rebalance lands mid-batch

    events = [erased(str(n)) for n in range(40)]
    for event in events:
        await platform.send(event)
    first = platform.runner({LeadErasedEvent: slow}, group_id="shared")
    await first.start()
    await wait_for(lambda: _count(platform, 5), message="the first runner under way")
    second = platform.runner({LeadErasedEvent: slow}, group_id="shared")
    await second.start()

    effects = await wait_for(
        lambda: _all_of(platform, len(events)), timeout_s=60, message="every event's effect"
    )
    assert sorted(value for _, value in effects) == sorted(e.payload.reason for e in events)
    assert first.running and second.running


async def _all_of(platform: Platform, count: int):
    effects = await platform.effects()
    return effects if len(effects) >= count else None


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


async def test_event_ids_older_than_the_retention_are_forgotten(platform: Platform):
    processed = "capture.processed_events"
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
    topic = runner.topics[0]

    async def lag() -> float:
        await runner.refresh_lag()
        return sum(
            REGISTRY.get_sample_value(
                "handoff_consumer_lag", {"service": "test", "topic": topic, "partition": str(p)}
            )
            or 0
            for p in range(3)
        )

    await wait_for(lambda: _lag_is(lag, 3), message="a lag of 3 while the handler is held")
    assert await platform.effects() == []
    release.set()
    await wait_for(lambda: _count(platform, 3), message="the three effects")
    await wait_for(lambda: _lag_is(lag, 0), message="no lag once handled")


async def _lag_is(lag, expected: int) -> bool:
    return await lag() == expected
