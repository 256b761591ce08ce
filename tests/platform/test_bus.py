"""The consumer runner: idempotency, bounded retries, dead letters, offsets after commit."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from shared import consumer as consumer_module
from shared.consumer import ConsumerRunner
from shared.events import LeadErased, LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import reading, wait_for
from tests.platform.conftest import TABLES, Platform, record_effect

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
    await platform.relay().start()
    topic_name = platform.settings.topic(LeadErasedEvent.topic)
    bootstrap = platform.settings.kafka_bootstrap
    async with (
        reading(bootstrap, topic_name) as topic,
        reading(bootstrap, f"{topic_name}.dlq") as dlq,
    ):
        await platform.send(erased("fail"))
        await platform.send(erased("ok"))
        # The failing input's handling is over once it is in the DLQ; only then can a quiet
        # window show that none of its attempts' follow-ups got out.
        [dead] = await dlq.wait_for_count(1)
        assert b'"reason":"fail"' in dead.value
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
    await wait_for(lambda: _count(platform, 3), message="the first runner under way")
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
        lambda: _count(platform, len(events)), timeout_s=60, message="every event's effect"
    )
    await _assert_quiet(platform, len(events), quiet_s=1.0)  # no late second effect
    effects = await platform.effects()
    assert sorted(value for _, value in effects) == sorted(e.payload.reason for e in events)
    assert sorted(handled_by["first"] + handled_by["second"]) == sorted(
        e.event_id for e in events
    ), "each event handled once, by one runner or the other"
    assert first.running and second.running


async def _assert_quiet(platform: Platform, count: int, *, quiet_s: float) -> None:
    """The effects stay at `count` for `quiet_s`."""
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        effects = await platform.effects()
        assert len(effects) == count, f"{len(effects)} effects, expected {count}"
        await asyncio.sleep(0.05)


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


class JustBooted:
    """A clock as `time` reads it on a machine up for five seconds: a prune timer that starts as
    "last done at 0.0" would wait PRUNE_EVERY_S - 5 s more before its first prune."""

    perf_counter = staticmethod(time.perf_counter)

    @staticmethod
    def monotonic() -> float:
        return 5.0


async def test_event_ids_older_than_the_retention_are_forgotten(platform: Platform, monkeypatch):
    monkeypatch.setattr(consumer_module, "time", JustBooted)
    processed = TABLES.processed_events.fullname
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

    # A new topic's partition may wait for its leader on a broker the whole suite has loaded
    # (NotLeaderForPartition once in the Kafka tier): a longer deadline, the same condition.
    await wait_for(
        lambda: _lag_is(lag, 3), timeout_s=45, message="a lag of 3 while the handler is held"
    )
    assert await platform.effects() == []
    release.set()
    await wait_for(lambda: _count(platform, 3), message="the three effects")
    await wait_for(lambda: _lag_is(lag, 0), message="no lag once handled")


async def _lag_is(lag, expected: int) -> bool:
    return await lag() == expected


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

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        reason = event.payload.reason
        calls[reason] = calls.get(reason, 0) + 1
        await record_effect(str(event.lead_id), reason)(uow.session)
        if reason == "boom":
            raise ValueError("record 3 of the batch fails")

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
    await _assert_quiet(platform, 4, quiet_s=0.5)
    assert BatchRecordingRunner.batches[0] == [0, 1, 2, 3, 4], "the five shared a transaction"
    assert calls == {
        "one": 2,  # the batch's try, rolled back, then its own transaction
        "two": 2,
        "boom": attempts,  # the batch's try counts: then attempts - 1 more
        "four": 1,  # never reached in the batch
        "five": 1,
    }


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
        lambda: _count(platform, len(events)), timeout_s=60, message="every event's effect"
    )
    await _assert_quiet(platform, len(events), quiet_s=1.0)  # no late second effect
    effects = await platform.effects()
    assert sorted(value for _, value in effects) == sorted(e.payload.reason for e in events)
    assert first.running and second.running


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
