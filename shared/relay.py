"""The outbox relay: publishes a service's committed outbox rows to Kafka, in id order.

It marks rows sent once the broker acknowledged them and keeps them while the broker is
unreachable. A commit in this process that wrote outbox rows wakes it (`committed`, called by
`shared.outbox`), so it publishes as soon as an event is durable instead of waiting for its
fallback poll. Several instances of a service share one outbox; one publishes at a time, so each
key's events keep their order: the one whose connection holds the outbox's advisory lock. A relay
woken while another instance publishes tells that one (NOTIFY on the outbox's channel, which
every relay listens to). The publishing relay keeps the lock (a session lock) while it publishes
without error, so a round costs two statements (read the batch, mark it sent) instead of a
transaction of five; on an error, a stop or a lost connection the lock is released and the next
instance to try takes it. Rows written by a process with no relay (the CLI) wait for the
publishing relay's fallback poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import PlatformTables, asyncpg_dsn
from shared.outbox import decode_headers, wake_on_commit
from shared.settings import Settings

log = logging.getLogger(__name__)

# What the relay writes (rows marked sent, old sent rows pruned) need not wait for the WAL flush:
# a mark lost in a crash only sends its rows again, and consumers skip what they have handled.
NOT_WAITING_FOR_FLUSH = {"synchronous_commit": "off"}


class OutboxRelay:
    """Publishes a service's outbox rows to Kafka, in order, one relay at a time per schema."""

    SEND_TIMEOUT_S = 15.0
    RETENTION = timedelta(minutes=10)
    PRUNE_EVERY_S = 60.0

    def __init__(
        self,
        *,
        service: str,
        settings: Settings,
        tables: PlatformTables,
        sessions: async_sessionmaker[AsyncSession],
        producer_factory: Callable[[], AIOKafkaProducer],
    ) -> None:
        self._service = service
        self._settings = settings
        self._tables = tables
        self._sessions = sessions
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._tell_publisher = False  # rows committed here while another instance publishes
        self._forget_commits: Callable[[], None] | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # The relay's own connection: it hears commits (LISTEN) and publishes batches on it.
        self._connection: asyncpg.Connection | None = None
        outbox = tables.outbox.fullname
        self._select_batch = (
            f"SELECT id, topic, key, value, headers FROM {outbox} "
            "WHERE sent_at IS NULL ORDER BY id LIMIT $1"
        )
        self._mark_sent = f"UPDATE {outbox} SET sent_at = now() WHERE id = ANY($1::bigint[])"
        self._prune = f"DELETE FROM {outbox} WHERE sent_at < now() - $1::interval"
        # Several instances of a service share one outbox; one lock keeps publication in order.
        self._lock_id = zlib.crc32(f"handoff-outbox:{tables.schema}".encode())
        self._channel = tables.notify_channel
        self.publishing = False  # this instance's connection holds the lock
        self.last_error: str | None = None
        self._pruned_at: float | None = None  # never: the first round prunes

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def healthy(self) -> bool:
        """Running, and its last round published (or found nothing to publish)."""
        return self.running and self.last_error is None

    async def start(self) -> None:
        self._forget_commits = wake_on_commit(self._tables.outbox.fullname, self.committed)
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-outbox-relay")

    def committed(self) -> None:
        """A transaction of this process that wrote outbox rows has committed."""
        self._tell_publisher = True
        self._wake.set()

    async def stop(self, timeout_s: float = 3.0) -> None:
        """Stop, after one attempt within `timeout_s` to publish what is still waiting."""
        self._stopping = True
        if self._forget_commits is not None:
            self._forget_commits()
            self._forget_commits = None
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._finish(), timeout_s)
            except Exception as error:  # rows stay in the outbox for the next start
                log.warning("outbox relay stopped with rows left: %r", error)
        await self._close_producer(timeout_s=1.0)
        await self._close_connection()

    async def _finish(self) -> None:
        if self._task is not None:
            await self._task
        await self._drain()

    async def pending(self) -> int:
        async with self._sessions() as session:
            outbox = self._tables.outbox
            count = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
            return count or 0

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                published = await self._publish_batch()
                failures = 0
                self.last_error = None
            except Exception as error:  # broker or database away: keep the rows, back off
                failures += 1
                self.last_error = f"{type(error).__name__}: {error}"
                metrics.OUTBOX_ERRORS.labels(self._service).inc()
                log.warning("outbox relay: %s (attempt %d)", self.last_error, failures)
                await self._close_producer()
                await self._close_connection()  # lets another instance publish meanwhile
                await self._sleep(min(0.2 * 2**failures, 5.0))
                continue
            if published < self._settings.outbox_batch_size:
                await self._sleep(self._settings.outbox_poll_interval_s)

    async def _drain(self) -> None:
        while await self._publish_batch() >= self._settings.outbox_batch_size:
            pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass
        self._wake.clear()

    async def _publish_batch(self) -> int:
        # Plain driver calls: this runs once per commit under load, in every service.
        connection = await self._connected()
        committed_here, self._tell_publisher = self._tell_publisher, False
        if not self.publishing:
            self.publishing = await connection.fetchval(
                "SELECT pg_try_advisory_lock($1)", self._lock_id
            )
            if not self.publishing:
                if committed_here:
                    await connection.execute("SELECT pg_notify($1, '')", self._channel)
                return 0
        rows = await connection.fetch(self._select_batch, self._settings.outbox_batch_size)
        if rows:
            await self._send(rows)
            await connection.execute(self._mark_sent, [row["id"] for row in rows])
            for topic, count in Counter(row["topic"] for row in rows).items():
                metrics.OUTBOX_PUBLISHED.labels(self._service, topic).inc(count)
        await self._prune_sent(connection)
        return len(rows)

    async def _prune_sent(self, connection: asyncpg.Connection) -> None:
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < self.PRUNE_EVERY_S:
            return
        self._pruned_at = now
        await connection.execute(self._prune, self.RETENTION)

    async def _send(self, rows: Sequence[asyncpg.Record]) -> None:
        producer = await self._ensure_producer()

        async def send_all() -> None:
            acks = [
                await producer.send(
                    row["topic"],
                    value=row["value"],
                    key=row["key"],
                    headers=decode_headers(json.loads(row["headers"])),
                )
                for row in rows
            ]
            await asyncio.gather(*acks)

        await asyncio.wait_for(send_all(), self.SEND_TIMEOUT_S)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self, timeout_s: float = 5.0) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), timeout_s)
            except Exception as error:  # a broken producer must not stop the relay
                log.debug("closing producer: %s", error)

    async def _connected(self) -> asyncpg.Connection:
        if self._connection is None or self._connection.is_closed():
            self.publishing = False  # a lost connection took the lock with it
            connection = await asyncpg.connect(
                asyncpg_dsn(self._settings.database_url), server_settings=NOT_WAITING_FOR_FLUSH
            )
            await connection.add_listener(self._channel, lambda *_: self._wake.set())
            self._connection = connection
        return self._connection

    async def _close_connection(self) -> None:
        self.publishing = False
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                await connection.close(timeout=2)
            except Exception as error:  # broken already: drop it
                log.debug("closing the relay's connection: %r", error)
                connection.terminate()
