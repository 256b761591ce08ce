"""Helpers for tests: waiting on conditions, reading topics, running a service in-process."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import PlatformTables, asyncpg_dsn, session_factory
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import UnitOfWork

T = TypeVar("T")
UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


def units_of_work(
    engine: AsyncEngine, tables: PlatformTables, settings: Settings, service: str
) -> UowFactory:
    """Units of work of `service` on the test's database, each committed on leaving (as the
    consumer runner and the request edge commit)."""
    sessions = session_factory(engine)
    outbox = Outbox(tables, settings, service)

    @asynccontextmanager
    async def unit() -> AsyncIterator[UnitOfWork]:
        async with sessions() as session, session.begin():
            yield UnitOfWork(session, outbox, settings)

    return unit


async def wait_for(
    condition: Callable[[], T | Awaitable[T]],
    *,
    timeout_s: float = 15.0,
    interval_s: float = 0.02,
    message: str = "condition",
) -> T:
    """Poll until `condition()` returns something truthy; fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {message}")
        await asyncio.sleep(interval_s)


class TopicReader:
    """Reads a topic from the beginning with assign() (no group, no rebalance wait)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.records: list[ConsumerRecord] = []
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            auto_offset_reset="earliest",
        )

    async def start(self) -> TopicReader:
        partitions = await partitions_of(self.bootstrap, self.topic)
        await self._consumer.start()
        self._consumer.assign([TopicPartition(self.topic, p) for p in partitions])
        await self._consumer.seek_to_beginning()
        return self

    async def stop(self) -> None:
        await self._consumer.stop()

    async def poll(self) -> list[ConsumerRecord]:
        batches = await self._consumer.getmany(timeout_ms=50)
        for records in batches.values():
            self.records.extend(records)
        return self.records

    async def wait_for_count(self, count: int, *, timeout_s: float = 15.0) -> list[ConsumerRecord]:
        await wait_for(
            lambda: self._at_least(count),
            timeout_s=timeout_s,
            message=f"{count} records on {self.topic}",
        )
        return self.records

    async def _at_least(self, count: int) -> bool:
        return len(await self.poll()) >= count

    async def assert_no_more(self, count: int, *, quiet_s: float = 1.0) -> None:
        """After `count` records arrived, nothing else arrives within `quiet_s`."""
        deadline = time.monotonic() + quiet_s
        while time.monotonic() < deadline:
            await self.poll()
        assert len(self.records) == count, f"expected {count} records, got {len(self.records)}"


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The topic's partition numbers, asked of the broker (a consumer that is not subscribed
    never fetches metadata for the topic on Apache Kafka)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert description["error_code"] == 0, f"{topic}: {description}"
    return sorted(p["partition"] for p in description["partitions"])


@asynccontextmanager
async def reading(bootstrap: str, topic: str) -> AsyncIterator[TopicReader]:
    reader = await TopicReader(bootstrap, topic).start()
    try:
        yield reader
    finally:
        await reader.stop()


@asynccontextmanager
async def running(app: FastAPI, *, wait_ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan in-process and give an HTTP client to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            if wait_ready:
                await wait_for(lambda: _ready(client), timeout_s=30, message="/readyz 200")
            yield client


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def database_refusing_connections(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """An operator's outage of one database: `ALTER DATABASE ... ALLOW_CONNECTIONS false`, then
    every backend connected to it terminated (from a connection to `template1`). New connections
    are refused with SQLSTATE 55000 until the block ends. Yields that `template1` connection."""
    url = make_url(database_url)
    name = url.database
    assert name, database_url
    admin = await asyncpg.connect(
        asyncpg_dsn(url.set(database="template1").render_as_string(False))
    )
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            await terminate_backends(admin, name)
            yield admin
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


async def terminate_backends(admin: asyncpg.Connection, database: str) -> None:
    """Terminate every backend connected to `database`, and wait until they are gone."""
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    await wait_for(
        lambda: _no_backends(admin, database), timeout_s=10, message=f"{database}'s backends gone"
    )


async def _no_backends(admin: asyncpg.Connection, database: str) -> bool:
    count = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    return count == 0
