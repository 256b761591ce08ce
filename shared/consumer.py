"""The consumer runner every service uses: a batch of records per transaction.

The records of one partition's fetch are taken `consumer_batch_size` at a time. For each record
of a batch, in order, the runner records the event id in `processed_events` (a redelivery finds
it there and is skipped) and runs the handler (its outbox rows included), all in ONE transaction;
then it commits, and only then commits the offset. So event ids and state changes commit
together, and a batch costs one commit instead of one per record.

If a handler fails (a deadlock PostgreSQL detected between two instances' batches included), the
whole batch is rolled back and its records are handled one at a time, a transaction each: the
failed record has had its first try, gets the rest with a doubling backoff, and after
`consumer_max_attempts` goes to `<topic>.dlq` (through the outbox, so even that is not lost);
the runner moves on. A record that cannot be parsed sends its batch the same way.
Database or broker outages are not the record's fault: the runner rewinds to the batch (or
record) and retries until the outage ends instead of dead-lettering healthy records.
A partition taken away by a rebalance mid-batch is left alone (the batch is rolled back): its
new owner gets the records from the last committed offset, and their ids make any repeat a
no-op. Each event still gets its log line and metrics, once its transaction has committed; its
handler time is its own part of the batch, without the shared commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import PlatformTables, is_database_outage
from shared.deadletter import HandlerFailed, dead_letter, poison_id
from shared.events import Envelope, parse_event
from shared.inbox import Inbox
from shared.logs import bind
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import Handler, UnitOfWork

log = logging.getLogger(__name__)


def is_outage(error: BaseException) -> bool:
    """Our infrastructure failed, not the record: never dead-letter because of this."""
    return isinstance(error, KafkaError) or is_database_outage(error)


class _Rewind(Exception):
    """An outage while handling from `offset`: go back there; `done` is the offset handled to."""

    def __init__(self, offset: int, done: int | None, error: BaseException) -> None:
        super().__init__(offset, done, error)
        self.offset, self.done, self.error = offset, done, error


class _TakenAway(Exception):
    """The partition was rebalanced away in the middle of a batch: roll the batch back."""


class ConsumerRunner:
    COMMIT_TIMEOUT_S = 5.0
    PRUNE_EVERY_S = 600.0

    def __init__(
        self,
        *,
        service: str,
        settings: Settings,
        tables: PlatformTables,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        handlers: Mapping[type[Envelope], Handler],
        group_id: str | None = None,
    ) -> None:
        self._service = service
        self._settings = settings
        self._inbox = Inbox(tables)
        self._sessions = sessions
        self._outbox = outbox
        self._handlers = {
            event_type.model_fields["event_type"].default: handler
            for event_type, handler in handlers.items()
        }
        self._topics = sorted({settings.topic(event_type.topic) for event_type in handlers})
        # The topic prefix isolates deployments sharing a cluster (and tests sharing a broker):
        # their groups never rebalance each other.
        self.group_id = group_id or f"{settings.topic_prefix}handoff-{service}"
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._pruned_at: float | None = None  # never: the first loop prunes
        self._positions: dict[TopicPartition, int] = {}  # next offset to handle, per partition
        self.last_error: str | None = None

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        s = self._settings
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=s.kafka_bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_interval_ms,
        )
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()  # a failed start leaves no connections behind
            raise
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-consumer")

    async def stop(self, timeout_s: float = 4.0) -> None:
        """Finish the record in hand, commit, and leave the group, within `timeout_s`."""
        self._stopping = True
        deadline = time.monotonic() + timeout_s
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s / 2)
            except TimeoutError:
                self._task.cancel()
            except BaseException as error:  # the loop had died of something it cannot outlive
                log.warning("%s: consumer loop had ended with %r", self._service, error)
        if self._consumer is not None:
            try:
                await asyncio.wait_for(self._consumer.stop(), max(deadline - time.monotonic(), 0.5))
            except TimeoutError:  # the group notices the member is gone at its session timeout
                log.warning("%s: consumer did not leave its group in time", self._service)

    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self._stopping:
            try:
                batches = await consumer.getmany(
                    timeout_ms=200, max_records=max(200, self._settings.consumer_batch_size)
                )
                for tp, records in batches.items():
                    await self._process_partition(consumer, tp, records)
                    if self._stopping:
                        break
                await self._prune_processed()
            except Exception as error:  # the loop must outlive anything; uncommitted records
                self._note_error("consumer", error)  # come again and their ids dedupe them
                await asyncio.sleep(1.0)

    def _note_error(self, where: str, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        if is_outage(error):
            log.warning("%s: %s: %s; will retry", self._service, where, self.last_error)
        else:
            log.error(
                "%s: %s: unexpected %s; will retry",
                self._service,
                where,
                self.last_error,
                exc_info=error,
            )

    async def _process_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        size = self._settings.consumer_batch_size
        for first in range(0, len(records), size):
            chunk = records[first : first + size]
            try:
                if size == 1:
                    done = await self._one_by_one(consumer, tp, chunk)
                else:
                    done = await self._batch(consumer, tp, chunk)
            except _Rewind as rewind:
                self._note_error(
                    f"handling {tp.topic}[{tp.partition}]@{rewind.offset}", rewind.error
                )
                if tp in consumer.assignment():
                    consumer.seek(tp, rewind.offset)
                await self._commit_offset(consumer, tp, rewind.done)
                await asyncio.sleep(1.0)
                return
            await self._commit_offset(consumer, tp, done)
            if done != chunk[-1].offset + 1:
                return  # stopping, or taken away by a rebalance: its new owner goes on from here

    async def _commit_offset(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, done: int | None
    ) -> None:
        if done is None or tp not in consumer.assignment():
            return
        try:
            await asyncio.wait_for(
                self._commit(consumer, {tp: OffsetAndMetadata(done, "")}), self.COMMIT_TIMEOUT_S
            )
        except (CommitFailedError, TimeoutError) as error:  # e.g. rebalanced meanwhile:
            self._note_error("committing offsets", error)  # redelivered, deduped by id

    async def _one_by_one(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: list[ConsumerRecord],
        tried: tuple[ConsumerRecord, Exception] | None = None,
    ) -> int | None:
        """A transaction per record; `tried` already failed once in a batch, with that error."""
        done = None
        for record in records:
            if self._stopping or tp not in consumer.assignment():
                break
            try:
                if tried is not None and record is tried[0]:
                    await self._process_record(record, failed=tried[1])
                else:
                    await self._process(record)
            except Exception as error:
                raise _Rewind(record.offset, done, error) from error
            done = self._positions[tp] = record.offset + 1
            self._set_lag(consumer, tp)
        return done

    async def _batch(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> int | None:
        """The records in one transaction: each id claimed and its handler run, in order, then
        one commit. If a handler fails (a deadlock included), nothing of the batch stays and its
        records go one by one (retries, DLQ); an outage rewinds to the batch's first record."""
        work: list[tuple[ConsumerRecord, Envelope, Handler]] = []
        for record in records:
            try:
                event = parse_event(record.value)
            except (ValidationError, ValueError, TypeError):
                return await self._one_by_one(consumer, tp, records)  # dead-letters it
            handler = self._handlers.get(event.event_type)
            if handler is None:
                return await self._one_by_one(consumer, tp, records)
            work.append((record, event, handler))
        outcomes: list[tuple[ConsumerRecord, Envelope, str, float]] = []
        failing: tuple[ConsumerRecord, Exception] | None = None
        try:
            async with self._sessions() as session, session.begin():
                for record, event, handler in work:
                    if self._stopping:
                        break  # what is done commits; the rest comes again
                    if tp not in consumer.assignment():
                        raise _TakenAway()
                    started = time.perf_counter()
                    with bind(
                        lead_id=event.lead_id,
                        event_id=event.event_id,
                        correlation_id=event.correlation_id,
                        event_type=event.event_type,
                    ):
                        try:
                            outcome = await self._handle_in(session, event, handler, record.topic)
                        except Exception as error:
                            if not is_outage(error):
                                failing = (record, error)
                                self._log_failure(event, 1, error)
                            raise
                    outcomes.append((record, event, outcome, time.perf_counter() - started))
        except _TakenAway:
            return None  # rolled back: the new owner handles them
        except Exception as error:
            if is_outage(error):
                raise _Rewind(records[0].offset, None, error) from error
            if failing is None:  # the commit refused it: find the record one by one
                self._note_error(f"committing a batch of {tp.topic}[{tp.partition}]", error)
            elif self._settings.consumer_max_attempts > 1:
                metrics.HANDLER_RETRIES.labels(self._service, failing[0].topic).inc()
                await asyncio.sleep(self._backoff_s(1))
            return await self._one_by_one(consumer, tp, records, tried=failing)
        for record, event, outcome, seconds in outcomes:
            self._handled(record, event, outcome, seconds)
        if not outcomes:
            return None
        done = self._positions[tp] = int(outcomes[-1][0].offset) + 1
        self._set_lag(consumer, tp)
        return done

    async def _commit(
        self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]
    ) -> None:
        await consumer.commit(offsets)

    async def _prune_processed(self) -> None:
        """Forget event ids older than any redelivery can be (the topics' retention)."""
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < self.PRUNE_EVERY_S:
            return
        self._pruned_at = now
        async with self._sessions() as session, session.begin():
            await self._inbox.forget_older_than(
                session, self._settings.processed_events_retention_days
            )

    async def _process(self, record: ConsumerRecord) -> None:
        await self._process_record(record)

    async def _process_record(
        self, record: ConsumerRecord, *, failed: Exception | None = None
    ) -> None:
        """`failed`: the error of its first try, made in a batch."""
        started = time.perf_counter()
        try:
            event = parse_event(record.value)
        except (ValidationError, ValueError, TypeError) as error:
            await self._dead_letter(record, HandlerFailed(error, attempts=0))
            return
        handler = self._handlers.get(event.event_type)
        if handler is None:
            await self._dead_letter(
                record,
                HandlerFailed(
                    LookupError(f"{self._service} has no handler for {event.event_type}"), 0
                ),
            )
            return
        with bind(
            lead_id=event.lead_id,
            event_id=event.event_id,
            correlation_id=event.correlation_id,
            event_type=event.event_type,
        ):
            try:
                outcome = await self._handle_with_retries(event, handler, record.topic, failed)
            except HandlerFailed as failure:
                await self._dead_letter(record, failure, event.event_id)
                return
        self._handled(record, event, outcome, time.perf_counter() - started)

    def _handled(
        self, record: ConsumerRecord, event: Envelope, outcome: str, seconds: float
    ) -> None:
        """What every committed event leaves: its log line and its metrics."""
        with bind(
            lead_id=event.lead_id,
            event_id=event.event_id,
            correlation_id=event.correlation_id,
            event_type=event.event_type,
        ):
            log.info("%s handled %s: %s", self._service, event.event_type, outcome)
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, outcome).inc()
        metrics.HANDLER_SECONDS.labels(self._service, record.topic).observe(seconds)

    async def _handle_with_retries(
        self, event: Envelope, handler: Handler, topic: str, failed: Exception | None = None
    ) -> str:
        """Up to `consumer_max_attempts` tries in all; with `failed`, the first was made."""
        attempts = self._settings.consumer_max_attempts
        tried = 0 if failed is None else 1
        if tried == attempts:
            assert failed is not None
            raise HandlerFailed(failed, attempts) from failed
        for attempt in range(tried + 1, attempts + 1):
            try:
                return await self._handle_once(event, handler, topic)
            except Exception as error:
                if is_outage(error):
                    raise
                self._log_failure(event, attempt, error)
                if attempt == attempts:
                    raise HandlerFailed(error, attempts) from error
                metrics.HANDLER_RETRIES.labels(self._service, topic).inc()
                await asyncio.sleep(self._backoff_s(attempt))
        raise AssertionError("unreachable")

    def _backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt `attempt`: doubling from `consumer_retry_backoff_ms`."""
        return self._settings.consumer_retry_backoff_ms / 1000 * 2.0 ** (attempt - 1)

    def _log_failure(self, event: Envelope, attempt: int, error: BaseException) -> None:
        log.warning(
            "%s: handler for %s failed (attempt %d/%d): %r",
            self._service,
            event.event_type,
            attempt,
            self._settings.consumer_max_attempts,
            error,
        )

    async def _handle_once(self, event: Envelope, handler: Handler, topic: str) -> str:
        async with self._sessions() as session, session.begin():
            return await self._handle_in(session, event, handler, topic)

    async def _handle_in(
        self, session: AsyncSession, event: Envelope, handler: Handler, topic: str
    ) -> str:
        """Claim the id and run the handler in the caller's transaction. Its ORM objects are
        flushed and let go of after it, so the next handler of a batch reads rows afresh."""
        if not await self._inbox.first_time(session, event.event_id, topic, "handled"):
            return "duplicate"
        await handler(event, UnitOfWork(session, self._outbox, self._settings))
        await session.flush()
        session.expunge_all()
        return "handled"

    async def _dead_letter(
        self, record: ConsumerRecord, failure: HandlerFailed, event_id: uuid.UUID | None = None
    ) -> None:
        letter = dead_letter(
            record, failure, group_id=self.group_id, max_event_bytes=self._settings.max_event_bytes
        )
        async with self._sessions() as session, session.begin():
            event_id = event_id or poison_id(self.group_id, record)
            if not await self._inbox.first_time(session, event_id, record.topic, "dead_lettered"):
                return
            await self._outbox.add_raw(
                session,
                topic=letter.topic,
                key=letter.key,
                value=letter.value,
                headers=letter.headers,
            )
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, "dead_lettered").inc()
        log.error(
            "%s: %s@%d went to the DLQ: %r",
            self._service,
            record.topic,
            record.offset,
            failure.cause,
        )

    async def refresh_lag(self) -> None:
        """Set the lag gauge of every assigned partition (records behind its high-water mark),
        also of one the runner has not taken a record from since it was assigned."""
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        self._positions = {tp: p for tp, p in self._positions.items() if tp in assigned}
        for tp in assigned:
            if tp not in self._positions and consumer.highwater(tp) is not None:
                self._positions[tp] = await consumer.committed(tp) or 0
            self._set_lag(consumer, tp)

    def _set_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        highwater = consumer.highwater(tp) if tp in consumer.assignment() else None
        if highwater is not None and tp in self._positions:
            metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(
                max(highwater - self._positions[tp], 0)
            )
