"""The consumer runner's bulk path: a batch use case beside a type's one-event handler."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping

import pytest
from sqlalchemy import text

from shared.consumer import ConsumerRunner
from shared.events import Envelope, LeadErased, LeadErasedEvent
from shared.outbox import EventTooLarge, Outbox
from shared.uow import BatchHandler, Handler, UnitOfWork
from tests.helpers import reading, wait_for
from tests.platform.conftest import TABLES, Platform, record_effect

pytestmark = pytest.mark.asyncio


def erased(reason: str, lead_id: uuid.UUID | None = None) -> LeadErasedEvent:
    return LeadErasedEvent(
        producer="test", lead_id=lead_id or uuid.uuid4(), payload=LeadErased(reason=reason)
    )


def bulk_runner(
    platform: Platform,
    handlers: Mapping[type[Envelope], Handler],
    batch_handlers: Mapping[type[Envelope], BatchHandler],
    group_id: str = "bulk",
) -> ConsumerRunner:
    runner = ConsumerRunner(
        service="test",
        settings=platform.settings,
        tables=TABLES,
        sessions=platform.sessions,
        outbox=platform.outbox,
        handlers=handlers,
        batch_handlers=batch_handlers,
        group_id=f"{platform.settings.topic_prefix}{group_id}",
    )
    platform._started.append(runner)
    return runner


async def one(event: LeadErasedEvent, uow: UnitOfWork) -> None:
    await record_effect(str(event.lead_id), f"one:{event.payload.reason}")(uow.session)


async def effects_at_least(platform: Platform, count: int) -> list[tuple[str, str]] | None:
    effects = await platform.effects()
    return effects if len(effects) >= count else None


async def quiet(platform: Platform, count: int, quiet_s: float = 0.5) -> None:
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        assert len(await platform.effects()) == count
        await asyncio.sleep(0.05)


async def handled_ids(platform: Platform) -> dict[str, str]:
    async with platform.sessions() as session:
        rows = await session.execute(
            text(f"SELECT event_id, outcome FROM {TABLES.processed_events.fullname}")
        )
        return {str(event_id): outcome for event_id, outcome in rows}


async def test_a_batch_goes_to_the_batch_use_case_in_order_and_duplicates_are_skipped(
    platform: Platform,
):
    """Inside a batch (the same record twice) and across batches (sent again after its batch
    committed): each event reaches the batch use case once, in partition order."""
    calls: list[list[str]] = []

    async def many(events: list[LeadErasedEvent], uow: UnitOfWork) -> None:
        calls.append([e.payload.reason for e in events])
        for event in events:
            await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    lead = uuid.uuid4()  # one key: one partition, one fetch
    first = [erased(str(n), lead) for n in range(20)]
    for event in [*first[:5], first[2], *first[5:]]:  # the third twice, inside the batch
        await platform.send(event)
    runner = bulk_runner(platform, {LeadErasedEvent: one}, {LeadErasedEvent: many})
    await runner.start()
    effects = await wait_for(lambda: effects_at_least(platform, 20), message="20 effects")
    assert [value for _, value in effects] == [str(n) for n in range(20)], "in partition order"
    assert calls[0][:3] == ["0", "1", "2"]

    await platform.send(first[7])  # again, after its batch committed
    await platform.send(erased("last", lead))
    effects = await wait_for(lambda: effects_at_least(platform, 21), message="the last one")
    await quiet(platform, 21)
    assert effects[-1][1] == "last"
    given = [reason for call in calls for reason in call]
    assert given == [*(str(n) for n in range(20)), "last"], "each event once"
    assert all(value != "one" for _, value in effects), "no one-event handler was needed"


async def test_a_failing_batch_falls_back_one_by_one_and_the_good_records_land_once(
    platform: Platform,
):
    """The batch use case fails on the batch with the bad record: nothing of it stays (neither
    its rows nor its events), then every record goes one by one through the one-event handler:
    the good ones once, the bad one to the DLQ after all its tries."""
    platform.settings = platform.settings.model_copy(
        update={"consumer_max_attempts": 2, "consumer_retry_backoff_ms": 10}
    )
    tries: dict[str, int] = {}

    async def many(events: list[LeadErasedEvent], uow: UnitOfWork) -> None:
        for event in events:
            await record_effect(str(event.lead_id), f"many:{event.payload.reason}")(uow.session)
            await uow.publish(
                LeadErasedEvent.caused_by(event, producer="test", payload=LeadErased(reason="x"))
            )
        if any(e.payload.reason == "boom" for e in events):
            raise ValueError("a batch with a bad record")

    async def single(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        reason = event.payload.reason
        tries[reason] = tries.get(reason, 0) + 1
        if reason == "boom":
            raise ValueError("the bad record")
        await one(event, uow)

    lead = uuid.uuid4()
    reasons = ["a", "b", "boom", "c", "d"]
    for reason in reasons:
        await platform.send(erased(reason, lead))
    await platform.relay().start()
    topic = platform.settings.topic(LeadErasedEvent.topic)
    bootstrap = platform.settings.kafka_bootstrap
    async with reading(bootstrap, f"{topic}.dlq") as dlq, reading(bootstrap, topic) as out:
        await bulk_runner(platform, {LeadErasedEvent: single}, {LeadErasedEvent: many}).start()
        [dead] = await dlq.wait_for_count(1)
        assert b'"reason":"boom"' in dead.value
        assert dict(dead.headers)["dlq.attempts"] == b"2"
        effects = await wait_for(lambda: effects_at_least(platform, 4), message="4 effects")
        await quiet(platform, 4)
        await out.assert_no_more(5, quiet_s=0.3)  # the five inputs only: no batch's "x"
    assert [value for _, value in effects] == ["one:a", "one:b", "one:c", "one:d"]
    assert tries == {"a": 1, "b": 1, "boom": 2, "c": 1, "d": 1}, "every try is one by one"
    outcomes = sorted((await handled_ids(platform)).values())
    assert outcomes == ["dead_lettered", "handled", "handled", "handled", "handled"]


async def test_a_batch_s_events_are_written_at_commit_in_order(platform: Platform):
    """A batch use case publishes without a round trip per event; the rows are there, in
    order, once the batch commits, and the relay sends them."""

    async def many(events: list[LeadErasedEvent], uow: UnitOfWork) -> None:
        for event in events:
            await uow.publish(
                LeadErasedEvent.caused_by(
                    event, producer="test", payload=LeadErased(reason=f"re:{event.payload.reason}")
                )
            )
            await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    lead = uuid.uuid4()
    for n in range(10):
        await platform.send(erased(str(n), lead))
    await platform.relay().start()
    topic = platform.settings.topic(LeadErasedEvent.topic)
    async with reading(platform.settings.kafka_bootstrap, topic) as out:
        await bulk_runner(platform, {LeadErasedEvent: one}, {LeadErasedEvent: many}).start()
        records = await out.wait_for_count(20)
    followups = [r.value.split(b'"reason":"')[1].split(b'"')[0] for r in records]
    assert [f for f in followups if f.startswith(b"re:")] == [f"re:{n}".encode() for n in range(10)]


async def test_an_event_too_big_is_refused_when_published(platform: Platform):
    settings = platform.settings.model_copy(update={"max_event_bytes": 300})
    async with platform.sessions() as session, session.begin():
        uow = UnitOfWork(session, Outbox(TABLES, settings, "test"), settings)
        await uow.publish(erased("small"))
        with pytest.raises(EventTooLarge):
            await uow.publish(erased("x" * 400))


async def test_a_rolled_back_unit_of_work_writes_none_of_its_events(platform: Platform):
    class Abandon(Exception):
        pass

    async def publish_then_fail() -> None:
        async with platform.sessions() as session, session.begin():
            await UnitOfWork(session, platform.outbox, platform.settings).publish(erased("no"))
            raise Abandon()

    with pytest.raises(Abandon):
        await publish_then_fail()
    async with platform.sessions() as session, session.begin():  # the same factory again
        await UnitOfWork(session, platform.outbox, platform.settings).publish(erased("yes"))
    async with platform.sessions() as session:
        values = (await session.scalars(text(f"SELECT value FROM {TABLES.outbox.fullname}"))).all()
    assert len(values) == 1 and b'"reason":"yes"' in values[0]


async def test_a_batch_use_case_needs_its_one_event_handler(platform: Platform):
    async def many(events: list[LeadErasedEvent], uow: UnitOfWork) -> None:
        pass

    with pytest.raises(ValueError, match="LeadErasedEvent"):
        bulk_runner(platform, {}, {LeadErasedEvent: many})


async def test_an_outage_in_a_batch_use_case_rewinds_instead_of_falling_back(platform: Platform):
    """The database drops the batch's connection: not the records' fault. The runner goes back
    to the batch and the batch use case handles it again; no one-event handler, no DLQ."""
    calls: list[list[str]] = []

    async def many(events: list[LeadErasedEvent], uow: UnitOfWork) -> None:
        calls.append([e.payload.reason for e in events])
        if len(calls) == 1:  # what a PostgreSQL restart does to a busy connection
            await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        for event in events:
            await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    lead = uuid.uuid4()
    for n in range(3):
        await platform.send(erased(str(n), lead))
    runner = bulk_runner(platform, {LeadErasedEvent: one}, {LeadErasedEvent: many})
    await runner.start()
    effects = await wait_for(lambda: effects_at_least(platform, 3), message="three effects")
    await quiet(platform, 3)
    assert [value for _, value in effects] == ["0", "1", "2"], "by the batch use case, once"
    assert calls[0] == calls[1] == ["0", "1", "2"]
    assert runner.running and runner.last_error and "connection" in runner.last_error.lower()
