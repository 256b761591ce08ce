"""Kafka bus: the relay's producer and the consumer runner every service uses.

Per record the runner: records the event id in `processed_events` (a redelivery finds it there
and is skipped), runs the handler in the same transaction (its outbox rows included), commits,
and only then commits the offset. A handler that keeps failing is retried a bounded number of
times, then the record goes to `<topic>.dlq` (through the outbox, so even that is not lost) and
the runner moves on. Database or broker outages are not the record's fault: the runner rewinds
to the record and retries until the outage ends instead of dead-lettering healthy records.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import PlatformTables
from shared.events import Envelope, parse_event
from shared.outbox import Outbox
from shared.settings import Settings

log = logging.getLogger(__name__)

# Failures of our infrastructure, not of the record: never dead-letter because of these.
OUTAGES = (OperationalError, InterfaceError, ConnectionError, OSError, KafkaError)
POISON_NAMESPACE = uuid.UUID("6f1c3f55-2f5e-4d0a-9a57-1b0d3c1e7a10")


def new_producer(settings: Settings) -> AIOKafkaProducer:
    # No idempotent producer: duplicates from retries are absorbed by idempotent consumers.
    return AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                            linger_ms=2, request_timeout_ms=10_000, enable_idempotence=False)


class BrokerProbe:
    """Answers "is the broker reachable?" for /readyz with one metadata round trip."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._client: AIOKafkaClient | None = None

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        try:
            if self._client is None:
                self._client = AIOKafkaClient(bootstrap_servers=self._bootstrap)
                await asyncio.wait_for(self._client.bootstrap(), timeout_s)
            await asyncio.wait_for(self._client.fetch_all_metadata(), timeout_s)
            return True
        except Exception:
            await self.close()
            return False

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


@dataclass
class UnitOfWork:
    """What a handler gets: the transaction's session and the outbox to publish through."""

    session: AsyncSession
    outbox: Outbox

    async def publish(self, event: Envelope) -> None:
        await self.outbox.add(self.session, event)


Handler = Callable[[Envelope, UnitOfWork], Awaitable[None]]


class HandlerFailed(Exception):
    def __init__(self, cause: BaseException, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts


class ConsumerRunner:
    def __init__(self, *, service: str, settings: Settings, tables: PlatformTables,
                 sessions: async_sessionmaker[AsyncSession], outbox: Outbox,
                 handlers: Mapping[type[Envelope], Handler], group_id: str | None = None) -> None:
        self._service = service
        self._settings = settings
        self._tables = tables
        self._sessions = sessions
        self._outbox = outbox
        self._handlers = {event_type.model_fields["event_type"].default: handler
                          for event_type, handler in handlers.items()}
        self._topics = sorted({settings.topic(event_type.topic) for event_type in handlers})
        self.group_id = group_id or f"handoff-{service}"
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_error: str | None = None

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        s = self._settings
        self._consumer = AIOKafkaConsumer(
            *self._topics, bootstrap_servers=s.kafka_bootstrap, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_interval_ms)
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-consumer")

    async def stop(self, timeout_s: float = 8.0) -> None:
        """Finish the record in hand, commit, and leave the group."""
        self._stopping = True
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
            except BaseException as error:  # the loop had already died; it was logged
                log.warning("%s: consumer loop had ended with %r", self._service, error)
        if self._consumer is not None:
            await self._consumer.stop()

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
            except OUTAGES as error:  # offsets not committed are redelivered; ids dedupe them
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("%s: consumer: %s", self._service, self.last_error)
                await asyncio.sleep(1.0)

    async def _process_partition(self, consumer: AIOKafkaConsumer, tp: TopicPartition,
                                 records: list[ConsumerRecord]) -> None:
        done = None
        for record in records:
            if self._stopping:
                break
            try:
                await self._process(record)
            except OUTAGES as error:
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("%s: outage while handling %s@%d: %s; will retry", self._service,
                            tp, record.offset, self.last_error)
                consumer.seek(tp, record.offset)
                await asyncio.sleep(1.0)
                break
            done = record.offset + 1
            self._update_lag(consumer, tp, done)
        if done is not None:
            await self._commit(consumer, {tp: OffsetAndMetadata(done, "")})

    async def _commit(self, consumer: AIOKafkaConsumer,
                      offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        await consumer.commit(offsets)

    async def _process(self, record: ConsumerRecord) -> None:
        started = time.perf_counter()
        try:
            event = parse_event(record.value)
        except (ValidationError, ValueError, TypeError) as error:
            await self._dead_letter(record, HandlerFailed(error, attempts=0))
            return
        handler = self._handlers.get(event.event_type)
        if handler is None:
            await self._dead_letter(record, HandlerFailed(
                LookupError(f"{self._service} has no handler for {event.event_type}"), 0))
            return
        try:
            outcome = await self._handle_with_retries(event, handler, record.topic)
        except HandlerFailed as failure:
            await self._dead_letter(record, failure, event.event_id)
            return
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, outcome).inc()
        metrics.HANDLER_SECONDS.labels(self._service, record.topic).observe(
            time.perf_counter() - started)

    async def _handle_with_retries(self, event: Envelope, handler: Handler, topic: str) -> str:
        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._handle_once(event, handler, topic)
            except OUTAGES:
                raise
            except Exception as error:
                if isinstance(error, DBAPIError) and error.connection_invalidated:
                    raise
                log.warning("%s: handler for %s failed (attempt %d/%d): %r", self._service,
                            event.event_type, attempt, attempts, error)
                if attempt == attempts:
                    raise HandlerFailed(error, attempts) from error
                metrics.HANDLER_RETRIES.labels(self._service, topic).inc()
                await asyncio.sleep(self._settings.consumer_retry_backoff_ms / 1000 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def _handle_once(self, event: Envelope, handler: Handler, topic: str) -> str:
        async with self._sessions() as session, session.begin():
            if not await self._first_time(session, event.event_id, topic, "handled"):
                return "duplicate"
            await handler(event, UnitOfWork(session, self._outbox))
        return "handled"

    async def _first_time(self, session: AsyncSession, event_id: uuid.UUID, topic: str,
                          outcome: str) -> bool:
        processed = self._tables.processed_events
        inserted = await session.scalar(
            insert(processed).values(event_id=event_id, topic=topic, outcome=outcome)
            .on_conflict_do_nothing().returning(processed.c.event_id))
        return inserted is not None

    async def _dead_letter(self, record: ConsumerRecord, failure: HandlerFailed,
                           event_id: uuid.UUID | None = None) -> None:
        # A record we cannot parse has no event id; its position identifies it instead.
        event_id = event_id or uuid.uuid5(
            POISON_NAMESPACE, f"{self.group_id}:{record.topic}:{record.partition}:{record.offset}")
        async with self._sessions() as session, session.begin():
            if not await self._first_time(session, event_id, record.topic, "dead_lettered"):
                return
            await self._outbox.add_raw(session, topic=f"{record.topic}.dlq", key=record.key,
                                       value=record.value or b"",
                                       headers=[*record.headers, *self._error_headers(record, failure)])
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, "dead_lettered").inc()
        log.error("%s: %s@%d went to the DLQ: %r", self._service, record.topic, record.offset,
                  failure.cause)

    def _error_headers(self, record: ConsumerRecord, failure: HandlerFailed) -> list[tuple[str, bytes]]:
        cause = failure.cause
        trace = "".join(traceback.format_exception(cause))[-4000:]
        return [(name, value.encode()) for name, value in (
            ("dlq.error", f"{type(cause).__name__}: {cause}"[:2000]),
            ("dlq.error.trace", trace),
            ("dlq.attempts", str(failure.attempts)),
            ("dlq.original.topic", record.topic),
            ("dlq.original.partition", str(record.partition)),
            ("dlq.original.offset", str(record.offset)),
            ("dlq.consumer.group", self.group_id),
            ("dlq.failed_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        )]

    def _update_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, position: int) -> None:
        highwater = consumer.highwater(tp)
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0))
