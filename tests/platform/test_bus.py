"""The consumer runner: idempotency, bounded retries, dead letters, offsets after commit."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

import pytest

from shared.bus import ConsumerRunner, UnitOfWork
from shared.events import LeadErased, LeadErasedEvent
from tests.helpers import reading, wait_for
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


def erased(reason: str = "asked", lead_id: uuid.UUID | None = None) -> LeadErasedEvent:
    return LeadErasedEvent(producer="test", lead_id=lead_id or uuid.uuid4(),
                           payload=LeadErased(reason=reason))


async def test_handler_that_fails_once_then_succeeds_has_its_effect_exactly_once(platform: Platform):
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
    return REGISTRY.get_sample_value("handoff_events_consumed_total",
                                     {"service": "test", "topic": topic, "outcome": "duplicate"}) or 0


async def test_redelivery_after_crash_between_db_commit_and_offset_commit_has_no_second_effect(
        platform: Platform):
    handled = []

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        handled.append(event.event_id)
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    event = erased("once")
    await platform.send(event)
    crashing = platform.runner({LeadErasedEvent: handler}, group_id="crashy",
                               runner_class=CrashingRunner)
    await crashing.start()
    await wait_for(platform.effects, message="the effect")
    await wait_for(lambda: not crashing.running, message="the simulated crash")
    await crashing.stop()

    topic = crashing.topics[0]
    before = duplicates_seen(topic)
    again = platform.runner({LeadErasedEvent: handler}, group_id="crashy")
    await again.start()
    await wait_for(lambda: duplicates_seen(topic) > before, timeout_s=30,
                   message="the redelivered record")
    assert await platform.effects() == [(str(event.lead_id), "once")]
    assert handled == [event.event_id]


async def test_poison_message_goes_to_the_dlq_with_its_error_and_the_next_is_processed(
        platform: Platform):
    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        if event.payload.reason == "boom":
            raise ValueError("this lead cannot be erased")
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    lead = uuid.uuid4()
    topic = platform.settings.topic(LeadErasedEvent.topic)
    await platform.producer.send_and_wait(topic, b"{not json", key=str(lead).encode(),
                                          headers=[("trace", b"abc")])
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
        await uow.publish(LeadErasedEvent.caused_by(event, producer="test",
                                                    payload=LeadErased(reason="echo")))
        if event.payload.reason == "fail":
            raise RuntimeError("roll everything back")

    await platform.runner({LeadErasedEvent: handler}).start()
    await platform.send(erased("fail"))
    await platform.send(erased("ok"))
    await wait_for(platform.effects, message="the effect")
    await platform.relay().start()
    async with reading(platform.settings.kafka_bootstrap,
                       platform.settings.topic(LeadErasedEvent.topic)) as topic:
        # two inputs, one follow-up: the failing handler's follow-up was rolled back each time
        records = await topic.wait_for_count(3)
        await topic.assert_no_more(3, quiet_s=0.5)
    reasons = sorted(r.value.split(b'"reason":"')[1].split(b'"')[0] for r in records)
    assert reasons == [b"echo", b"fail", b"ok"]
