"""The consumer runner's record-at-a-time path: a transaction per record, retries, dead letters.

It is how a runner with `consumer_batch_size` 1 handles every record, and how a batch that failed
is handled again (`shared.consumer`): each record in a transaction of its own, claimed by event
id in that transaction, with its one-event handler. A failing handler gets
`consumer_max_attempts` tries in all with a doubling backoff, then its record goes to
`<topic>.dlq` through the outbox (so even that is not lost) and the runner moves on. A record
that cannot be parsed, or has no handler, is dead-lettered at once. An outage is not the
record's fault: `_Rewind` sends the runner back to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import PlatformTables, is_database_outage
from shared.deadletter import HandlerFailed, dead_letter, poison_id
from shared.events import Envelope, parse_event
from shared.inbox import Inbox
from shared.logs import bind, info_line
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


def bound_to(event: Envelope) -> dict[str, object]:
    """The fields every log line about this event carries."""
    return {
        "lead_id": event.lead_id,
        "event_id": event.event_id,
        "correlation_id": event.correlation_id,
        "event_type": event.event_type,
    }


class OneByOne:
    """What a consumer runner needs to handle records one at a time (see the module)."""

    def __init__(
        self,
        *,
        service: str,
        settings: Settings,
        tables: PlatformTables,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        handlers: Mapping[type[Envelope], Handler],
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
        self.group_id = ""
        self._stopping = False
        self._positions: dict[TopicPartition, int] = {}  # next offset to handle, per partition
        self.last_error: str | None = None

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
        with bind(**bound_to(event)):
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
        with bind(**bound_to(event)):  # written as the access line is: see info_line
            info_line(log, f"{self._service} handled {event.event_type}: {outcome}", {})
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

    def _set_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        highwater = consumer.highwater(tp) if tp in consumer.assignment() else None
        if highwater is not None and tp in self._positions:
            metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(
                max(highwater - self._positions[tp], 0)
            )
