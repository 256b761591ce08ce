"""The consumer runner every service uses: one record at a time, one transaction each.

Per record the runner: records the event id in `processed_events` (a redelivery finds it there
and is skipped), runs the handler in the same transaction (its outbox rows included), commits,
and only then commits the offset. A handler that keeps failing is retried a bounded number of
times, then the record goes to `<topic>.dlq` (through the outbox, so even that is not lost) and
the runner moves on. Database or broker outages are not the record's fault: the runner rewinds
to the record and retries until the outage ends instead of dead-lettering healthy records.
A partition taken away by a rebalance mid-batch is left alone: its new owner gets the records
from the last committed offset, and their ids make any repeat a no-op.
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
        self.group_id = group_id or f"handoff-{service}"
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
                batches = await consumer.getmany(timeout_ms=200, max_records=200)
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
        done = None
        for record in records:
            if self._stopping or tp not in consumer.assignment():
                break  # stopping, or taken away by a rebalance: its new owner goes on from here
            try:
                await self._process(record)
            except Exception as error:
                self._note_error(f"handling {tp.topic}[{tp.partition}]@{record.offset}", error)
                if tp in consumer.assignment():
                    consumer.seek(tp, record.offset)
                await asyncio.sleep(1.0)
                break
            done = self._positions[tp] = record.offset + 1
            self._set_lag(consumer, tp)
        if done is not None and tp in consumer.assignment():
            try:
                await asyncio.wait_for(
                    self._commit(consumer, {tp: OffsetAndMetadata(done, "")}), self.COMMIT_TIMEOUT_S
                )
            except (CommitFailedError, TimeoutError) as error:  # e.g. rebalanced meanwhile:
                self._note_error("committing offsets", error)  # redelivered, deduped by id

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
                outcome = await self._handle_with_retries(event, handler, record.topic)
            except HandlerFailed as failure:
                await self._dead_letter(record, failure, event.event_id)
                return
            log.info("%s handled %s: %s", self._service, event.event_type, outcome)
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, outcome).inc()
        metrics.HANDLER_SECONDS.labels(self._service, record.topic).observe(
            time.perf_counter() - started
        )

    async def _handle_with_retries(self, event: Envelope, handler: Handler, topic: str) -> str:
        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._handle_once(event, handler, topic)
            except Exception as error:
                if is_outage(error):
                    raise
                log.warning(
                    "%s: handler for %s failed (attempt %d/%d): %r",
                    self._service,
                    event.event_type,
                    attempt,
                    attempts,
                    error,
                )
                if attempt == attempts:
                    raise HandlerFailed(error, attempts) from error
                metrics.HANDLER_RETRIES.labels(self._service, topic).inc()
                backoff_s = self._settings.consumer_retry_backoff_ms / 1000 * 2 ** (attempt - 1)
                await asyncio.sleep(backoff_s)
        raise AssertionError("unreachable")

    async def _handle_once(self, event: Envelope, handler: Handler, topic: str) -> str:
        async with self._sessions() as session, session.begin():
            if not await self._inbox.first_time(session, event.event_id, topic, "handled"):
                return "duplicate"
            await handler(event, UnitOfWork(session, self._outbox, self._settings))
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
