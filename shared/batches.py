"""The consumer runner's batch: the records of one partition, up to `consumer_batch_size`, in
one transaction; or those of a fetch's several partitions, when together they fit (`_batch_all`).

For each record, in order, the event id is claimed in `processed_events` (a redelivery finds it
there and is skipped) and the one-event handler runs (its outbox rows included); then one commit.
Bulk: a service may register, for an event type, a batch use case (`async def verb_many(events,
uow)`) beside its one-event handler. A run of consecutive records of that type then has all its
ids claimed in one statement, and the events not seen before (each id once) go to the batch use
case together, in order, in the same transaction. A partition is one topic, so a batch is
normally one run (a merged batch: a run per topic).

If a handler or a batch use case fails (a deadlock PostgreSQL detected between two instances'
batches included), nothing of the batch stays and its records go one at a time with their
one-event handlers (`shared.one_by_one`: retries with a doubling backoff, then `<topic>.dlq`); a
record whose own handler failed in the batch has had its first try, while after a failed batch
use case every record gets all its tries. A record that cannot be parsed, or has no handler,
sends its batch the same way. An outage rewinds to the batch's first record. Each event still
gets its log line and metrics once its transaction has committed; its handler time is its own
part of the batch (a batch use case's time shared evenly by its events), without the commit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import PlatformTables
from shared.events import Envelope, parse_event
from shared.logs import bind
from shared.one_by_one import OneByOne, _Rewind, bound_to, is_outage
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import BatchHandler, Handler, UnitOfWork

__all__ = [
    "Batches",
    "RewindAll",
    "Unmerged",
    "bound_to",
]  # bound_to: a batch use case binds each event's log fields

log = logging.getLogger(__name__)

Work = tuple[ConsumerRecord, Envelope]
Outcome = tuple[ConsumerRecord, Envelope, str, float]


class _TakenAway(Exception):
    """The partition was rebalanced away in the middle of a batch: roll the batch back."""


class _BatchFailed(Exception):
    """A batch use case failed: which record made it fail is not known."""


class _Failed(Exception):
    """A batch's transaction failed: the error, and the record whose handler raised it."""

    def __init__(self, error: Exception, failing: tuple[ConsumerRecord, Exception] | None):
        super().__init__(error, failing)
        self.error, self.failing = error, failing


class Unmerged(Exception):
    """A merged batch left nothing: each partition goes its own way. `tried`: a record whose
    handler failed in it, with the error; `every_one`: a batch use case failed, so every
    record goes one by one with all its tries."""

    def __init__(
        self, tried: tuple[ConsumerRecord, Exception] | None = None, every_one: bool = False
    ) -> None:
        super().__init__(tried, every_one)
        self.tried, self.every_one = tried, every_one


class RewindAll(Exception):
    """An outage while handling a merged batch: every partition goes back to its first record."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class Batches(OneByOne):
    """A consumer runner's batches; the records of a failed one go one by one."""

    def __init__(
        self,
        *,
        service: str,
        settings: Settings,
        tables: PlatformTables,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        handlers: Mapping[type[Envelope], Handler],
        batch_handlers: Mapping[type[Envelope], BatchHandler],
    ) -> None:
        super().__init__(
            service=service,
            settings=settings,
            tables=tables,
            sessions=sessions,
            outbox=outbox,
            handlers=handlers,
        )
        if missing := set(batch_handlers) - set(handlers):  # the fallback needs them
            names = sorted(event_type.__name__ for event_type in missing)
            raise ValueError(f"batch use cases without a one-event handler: {names}")
        self._batch_handlers = {
            event_type.model_fields["event_type"].default: handler
            for event_type, handler in batch_handlers.items()
        }

    async def _batch(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> int | None:
        """The records in one transaction: each id claimed and its handler run (or a run of one
        type claimed at once and given to its batch use case), in order, then one commit. If
        anything fails (a deadlock included), nothing of the batch stays and its records go one
        by one (retries, DLQ); an outage rewinds to the batch's first record."""
        work = self._parsed(records)
        if work is None:
            return await self._one_by_one(consumer, tp, records)  # dead-letters the bad one
        try:
            done = await self._in_one_transaction(consumer, work)
        except _TakenAway:
            return None  # rolled back: the new owner handles them
        except _Failed as failed:
            if is_outage(failed.error):
                raise _Rewind(records[0].offset, None, failed.error) from failed.error
            tried = await self._after_failure(failed, f"{tp.topic}[{tp.partition}]")
            return await self._one_by_one(consumer, tp, records, tried=tried)
        return done.get(tp)

    async def _batch_all(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[ConsumerRecord]]
    ) -> dict[TopicPartition, int]:
        """A fetch's records of several partitions in one transaction (per partition in
        order; partitions never share a key). The offsets handled to, per partition. Anything
        but success leaves nothing and raises `Unmerged` (each partition then goes its own way,
        a handler's failed try here counted there) or, on an outage, `RewindAll`."""
        work: list[Work] = []
        for records in fetched.values():
            parsed = self._parsed(records)
            if parsed is None:
                raise Unmerged()
            work += parsed
        try:
            return await self._in_one_transaction(consumer, work)
        except _TakenAway:
            raise Unmerged() from None
        except _Failed as failed:
            if is_outage(failed.error):
                raise RewindAll(failed.error) from failed.error
            tried = await self._after_failure(failed, f"a batch of {len(fetched)} partitions")
            every_one = isinstance(failed.error, _BatchFailed)
            raise Unmerged(tried, every_one) from failed.error

    def _parsed(self, records: list[ConsumerRecord]) -> list[Work] | None:
        """Each record with its event; None if one cannot be parsed or has no handler."""
        work: list[Work] = []
        for record in records:
            try:
                event = parse_event(record.value)
            except (ValidationError, ValueError, TypeError):
                return None
            if event.event_type not in self._handlers:
                return None
            work.append((record, event))
        return work

    async def _in_one_transaction(
        self, consumer: AIOKafkaConsumer, work: list[Work]
    ) -> dict[TopicPartition, int]:
        """Handle the work, commit, then log each event; the offsets handled to, per partition
        (a stop in the middle commits what is done). Raises `_TakenAway`, or `_Failed`."""
        outcomes: list[Outcome] = []
        failing: tuple[ConsumerRecord, Exception] | None = None
        try:
            async with self._sessions() as session, session.begin():
                for event_type, run in itertools.groupby(work, lambda w: w[1].event_type):
                    many = self._batch_handlers.get(event_type)
                    if many is not None and not self._stopping:
                        run_work = list(run)
                        self._check_assigned(consumer, run_work)
                        outcomes += await self._handle_many(session, run_work, many)
                        continue
                    for record, event in run:
                        if self._stopping:
                            break  # what is done commits; the rest comes again
                        self._check_assigned(consumer, [(record, event)])
                        try:
                            outcomes.append(await self._handle_one(session, record, event))
                        except Exception as error:
                            if not is_outage(error):
                                failing = (record, error)
                                self._log_failure(event, 1, error)
                            raise
                    if self._stopping:
                        break
        except _TakenAway:
            raise
        except Exception as error:
            raise _Failed(error, failing) from error
        done: dict[TopicPartition, int] = {}
        for record, event, outcome, seconds in outcomes:
            self._handled(record, event, outcome, seconds)
            done[TopicPartition(record.topic, record.partition)] = int(record.offset) + 1
        for tp, offset in done.items():
            self._positions[tp] = offset
            self._set_lag(consumer, tp)
        return done

    @staticmethod
    def _check_assigned(consumer: AIOKafkaConsumer, work: list[Work]) -> None:
        assigned = consumer.assignment()
        if any(TopicPartition(r.topic, r.partition) not in assigned for r, _ in work):
            raise _TakenAway()

    async def _after_failure(
        self, failed: _Failed, where: str
    ) -> tuple[ConsumerRecord, Exception] | None:
        """Note a batch's failure; the record whose handler failed in it, with the error (its
        first try is made), after the first backoff."""
        if isinstance(failed.error, _BatchFailed):
            return None  # logged: every record gets all its tries one by one
        if failed.failing is None:  # the commit refused it: find the record one by one
            self._note_error(f"committing {where}", failed.error)
            return None
        if self._settings.consumer_max_attempts > 1:
            metrics.HANDLER_RETRIES.labels(self._service, failed.failing[0].topic).inc()
            await asyncio.sleep(self._backoff_s(1))
        return failed.failing

    async def _handle_one(
        self, session: AsyncSession, record: ConsumerRecord, event: Envelope
    ) -> Outcome:
        started = time.perf_counter()
        with bind(**bound_to(event)):
            handler = self._handlers[event.event_type]
            outcome = await self._handle_in(session, event, handler, record.topic)
        return record, event, outcome, time.perf_counter() - started

    async def _handle_many(
        self, session: AsyncSession, run: list[Work], many: BatchHandler
    ) -> list[Outcome]:
        """Claim the run's ids in one statement; the events not seen before (each id once) go
        to the batch use case, in order. An error other than an outage is a `_BatchFailed`."""
        started = time.perf_counter()
        event_type = run[0][1].event_type
        unique = {event.event_id: record.topic for record, event in run}
        claimed = await self._inbox.claim_many(session, list(unique.items()), "handled")
        fresh, outcomes = [], []
        for record, event in run:
            first = event.event_id in claimed
            claimed.discard(event.event_id)  # a second copy in the run is a duplicate
            if first:
                fresh.append(event)
            outcomes.append((record, event, "handled" if first else "duplicate"))
        if fresh:
            try:
                with bind(event_type=event_type):
                    await many(fresh, UnitOfWork(session, self._outbox, self._settings))
                await session.flush()
            except Exception as error:
                if is_outage(error):
                    raise
                log.warning(
                    "%s: batch use case for %d %s failed: %r; its batch goes one by one",
                    self._service,
                    len(fresh),
                    event_type,
                    error,
                )
                raise _BatchFailed() from error
            session.expunge_all()
        seconds = (time.perf_counter() - started) / len(run)
        return [(record, event, outcome, seconds) for record, event, outcome in outcomes]
