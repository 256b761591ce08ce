"""The consumer runner every service uses: a batch of records per transaction.

The records of one partition's fetch are taken `consumer_batch_size` at a time and handled in
one transaction (`shared.batches`: event ids claimed with the state changes, then one commit);
only then is the offset noted for committing, which happens at most every
`consumer_commit_interval_ms` and at once on stopping or when a rebalance takes the partition away.
So event ids and state changes commit together, a batch costs one commit instead of one per
record, and a record handled but not yet committed that comes again is a no-op. A batch that
fails goes again one record at a time (`shared.one_by_one`: retries, then the DLQ); with
`consumer_batch_size` 1 every record does.
When a fetch brings a few records of several partitions (a service keeping up: a record or two
per partition), they make one batch with one offset commit instead of a transaction and an
offset commit per partition; if that batch fails, each partition goes its own way as above, a
handler's failed try in it counted.

Database or broker outages are not the record's fault: the runner rewinds to the batch (or
record) and retries until the outage ends instead of dead-lettering healthy records. A partition
taken away by a rebalance mid-batch is left alone (the batch is rolled back): its new owner gets
the records from the last committed offset, and their ids make any repeat a no-op. The runner
also forgets event ids older than the topics' retention and keeps the lag gauges.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.batches import Batches, RewindAll, Unmerged
from shared.db import PlatformTables
from shared.events import Envelope
from shared.one_by_one import _Rewind, is_outage
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import BatchHandler, Handler

__all__ = ["ConsumerRunner", "is_outage"]

log = logging.getLogger(__name__)


class ConsumerRunner(Batches):
    COMMIT_TIMEOUT_S = 5.0
    PRUNE_EVERY_S = 600.0
    END_OFFSETS_TIMEOUT_S = 2.0
    GATHER_BYTES = 1024 * 1024

    def __init__(
        self,
        *,
        service: str,
        settings: Settings,
        tables: PlatformTables,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        handlers: Mapping[type[Envelope], Handler],
        batch_handlers: Mapping[type[Envelope], BatchHandler] | None = None,
        group_id: str | None = None,
        gather_ms: int = 0,
    ) -> None:
        """`gather_ms` > 0: the broker holds each fetch until `GATHER_BYTES` have come or that
        long has passed, so a consumer that may lag a little takes fewer, bigger batches."""
        super().__init__(
            service=service,
            settings=settings,
            tables=tables,
            sessions=sessions,
            outbox=outbox,
            handlers=handlers,
            batch_handlers=batch_handlers or {},
        )
        self._topics = sorted({settings.topic(event_type.topic) for event_type in handlers})
        # The topic prefix isolates deployments sharing a cluster (and tests sharing a broker):
        # their groups never rebalance each other.
        self.group_id = group_id or f"{settings.topic_prefix}handoff-{service}"
        self._gather_ms = gather_ms
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._pruned_at: float | None = None  # never: the first loop prunes
        self._uncommitted: dict[TopicPartition, int] = {}  # next offset to commit
        self._committed_at = time.monotonic()

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        s = self._settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._gather_ms or s.consumer_fetch_max_wait_ms,
            fetch_min_bytes=self.GATHER_BYTES if self._gather_ms else 1,
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_interval_ms,
        )
        consumer.subscribe(self._topics, listener=_CommitBeforeRevoking(self))
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
            await self._commit_before_leaving(deadline)
            try:
                await asyncio.wait_for(self._consumer.stop(), max(deadline - time.monotonic(), 0.5))
            except TimeoutError:  # the group notices the member is gone at its session timeout
                log.warning("%s: consumer did not leave its group in time", self._service)

    async def _commit_before_leaving(self, deadline: float) -> None:
        assert self._consumer is not None
        try:
            await asyncio.wait_for(
                self._commit_handled(self._consumer.assignment()),
                max(deadline - time.monotonic(), 0.5),
            )
        except Exception as error:  # handled again by the next owner, deduped by id
            log.warning("%s: offsets not committed on stopping: %r", self._service, error)

    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self._stopping:
            try:
                batches = await consumer.getmany(
                    timeout_ms=200, max_records=max(200, self._settings.consumer_batch_size)
                )
                await self._process_fetch(consumer, batches)
                if self._commit_due():
                    await self._commit_handled(consumer.assignment())
                await self._prune_processed()
            except Exception as error:  # the loop must outlive anything; uncommitted records
                self._note_error("consumer", error)  # come again and their ids dedupe them
                await asyncio.sleep(1.0)

    async def _process_fetch(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        """The fetch's partitions packed into merged batches of up to `consumer_batch_size`
        records, each handled in one transaction with one offset commit; a partition that fits
        with no other, or a merged batch that left nothing, goes partition by partition."""
        groups = merged_groups(fetched, self._settings.consumer_batch_size)
        for place, group in enumerate(groups):
            if len(group) == 1:
                await self._partition_by_partition(consumer, group, Unmerged())
            else:
                try:
                    done = await self._batch_all(consumer, group)
                except RewindAll as rewind:
                    self._note_error(f"handling a batch of {len(group)} partitions", rewind.error)
                    self._rewind_all(consumer, groups[place:])
                    await asyncio.sleep(1.0)
                    return
                except Unmerged as failed:
                    await self._partition_by_partition(consumer, group, failed)
                else:
                    self._note_handled(done)
            if self._stopping:
                return

    async def _partition_by_partition(
        self,
        consumer: AIOKafkaConsumer,
        group: dict[TopicPartition, list[ConsumerRecord]],
        unmerged: Unmerged,
    ) -> None:
        for tp, records in group.items():
            await self._process_partition(consumer, tp, records, unmerged)
            if self._stopping:
                return

    @staticmethod
    def _rewind_all(
        consumer: AIOKafkaConsumer, groups: list[dict[TopicPartition, list[ConsumerRecord]]]
    ) -> None:
        """Every partition of `groups` back to its first fetched record."""
        assigned = consumer.assignment()
        for group in groups:
            for tp, records in group.items():
                if tp in assigned:
                    consumer.seek(tp, records[0].offset)

    async def _process_partition(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: list[ConsumerRecord],
        unmerged: Unmerged,
    ) -> None:
        """`unmerged`: what a merged batch of these records left to do (see `_process_fetch`)."""
        size = self._settings.consumer_batch_size
        tried = unmerged.tried
        one_by_one = unmerged.every_one or (
            tried is not None and any(r is tried[0] for r in records)
        )
        for first in range(0, len(records), size):
            chunk = records[first : first + size]
            try:
                if size == 1 or one_by_one:
                    done = await self._one_by_one(consumer, tp, chunk, tried=tried)
                else:
                    done = await self._batch(consumer, tp, chunk)
            except _Rewind as rewind:
                self._note_error(
                    f"handling {tp.topic}[{tp.partition}]@{rewind.offset}", rewind.error
                )
                if tp in consumer.assignment():
                    consumer.seek(tp, rewind.offset)
                self._note_handled({tp: rewind.done})
                await asyncio.sleep(1.0)
                return
            self._note_handled({tp: done})
            if done != chunk[-1].offset + 1:
                return  # stopping, or taken away by a rebalance: its new owner goes on from here

    def _note_handled(self, done: Mapping[TopicPartition, int | None]) -> None:
        """The offsets handled to; the loop commits them once `consumer_commit_interval_ms` is
        up (or a stop or a rebalance does sooner)."""
        self._uncommitted.update({tp: n for tp, n in done.items() if n is not None})

    def _commit_due(self) -> bool:
        waited_ms = (time.monotonic() - self._committed_at) * 1000
        return bool(self._uncommitted) and waited_ms >= self._settings.consumer_commit_interval_ms

    async def _commit_handled(self, partitions: set[TopicPartition]) -> None:
        """Commit the handled offsets of `partitions` (those still assigned) and forget them;
        a partition no longer assigned is its new owner's, from its last committed offset."""
        consumer = self._consumer
        assigned = consumer.assignment() if consumer is not None else set()
        offsets = {
            tp: OffsetAndMetadata(n, "")
            for tp, n in self._uncommitted.items()
            if tp in partitions and tp in assigned
        }
        self._uncommitted = {
            tp: n for tp, n in self._uncommitted.items() if tp in assigned and tp not in partitions
        }
        self._committed_at = time.monotonic()
        if consumer is None or not offsets:
            return
        try:
            await asyncio.wait_for(self._commit(consumer, offsets), self.COMMIT_TIMEOUT_S)
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

    async def refresh_lag(self) -> None:
        """Set the lag gauge of every assigned partition: records behind its end as the broker
        has it now, also of one the runner has not taken a record from since it was assigned.
        The high-water mark of the last fetch is old while fetched records wait (a handler
        that hangs would show less lag than it has); it stands in only if the broker does not
        answer within `END_OFFSETS_TIMEOUT_S`."""
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        self._positions = {tp: p for tp, p in self._positions.items() if tp in assigned}
        ends = await self._end_offsets(consumer, assigned)
        for tp in assigned:
            end = ends.get(tp, consumer.highwater(tp))
            if end is None:
                continue
            if tp not in self._positions:
                self._positions[tp] = await consumer.committed(tp) or 0
            metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(
                max(end - self._positions[tp], 0)
            )

    async def _end_offsets(
        self, consumer: AIOKafkaConsumer, partitions: set[TopicPartition]
    ) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        try:
            return await asyncio.wait_for(
                consumer.end_offsets(list(partitions)), self.END_OFFSETS_TIMEOUT_S
            )
        except (KafkaError, TimeoutError) as error:
            log.warning(
                "%s: end offsets unavailable (%s); lag from the last fetch", self._service, error
            )
            return {}


class _CommitBeforeRevoking(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what the runner handled of the partitions a rebalance takes away, so their new
    owner does not fetch those records again."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runner._commit_handled(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


def merged_groups(
    fetched: dict[TopicPartition, list[ConsumerRecord]], size: int
) -> list[dict[TopicPartition, list[ConsumerRecord]]]:
    """The fetch's partitions in groups of at most `size` records, each group filled in fetch
    order before the next; a partition with more records than that (or any, when `size` is 1)
    is a group of its own."""
    groups: list[dict[TopicPartition, list[ConsumerRecord]]] = []
    current: dict[TopicPartition, list[ConsumerRecord]] = {}
    count = 0
    for tp, records in fetched.items():
        if size == 1 or len(records) > size:
            groups.append({tp: records})
            continue
        if current and count + len(records) > size:
            groups.append(current)
            current, count = {}, 0
        current[tp] = records
        count += len(records)
    if current:
        groups.append(current)
    return groups
