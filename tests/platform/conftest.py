"""Fixtures for testing the bus and the outbox on their own: the platform tables in a scratch
schema of their own (made by the same DDL the services' migrations run, so these tests do not
depend on any service), and a scratch `effects` table standing in for a service's state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.broker import new_producer
from shared.consumer import ConsumerRunner
from shared.db import PlatformTables, create_engine, platform_tables, session_factory
from shared.events import Envelope
from shared.migrations import create_platform_tables_v1, drop_outbox_trigger
from shared.outbox import Outbox
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.uow import Handler

# The bus tests' helper module holds an assert: rewritten as a test module's, it shows the values.
pytest.register_assert_rewrite("tests.platform.bus_helpers")

SCHEMA = "platform_test"
TABLES: PlatformTables = platform_tables(MetaData(schema=SCHEMA))


def create_tables(connection: Connection) -> None:
    with Operations.context(MigrationContext.configure(connection)):
        create_platform_tables_v1(SCHEMA)
        drop_outbox_trigger(SCHEMA)  # the platform as its second version leaves it


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    producer: AIOKafkaProducer
    _started: list

    def relay(self) -> OutboxRelay:
        relay = OutboxRelay(
            service="test",
            settings=self.settings,
            tables=TABLES,
            sessions=self.sessions,
            producer_factory=lambda: new_producer(self.settings),
        )
        self._started.append(relay)
        return relay

    def runner(
        self,
        handlers: Mapping[type[Envelope], Handler],
        *,
        group_id: str = "g",
        runner_class: type[ConsumerRunner] = ConsumerRunner,
        gather_ms: int = 0,
        **settings: object,
    ) -> ConsumerRunner:
        """`settings`: what this runner's settings change, e.g. `consumer_batch_size=1`."""
        runner = runner_class(
            service="test",
            settings=self.settings.model_copy(update=settings),
            tables=TABLES,
            sessions=self.sessions,
            outbox=self.outbox,
            handlers=handlers,
            group_id=f"{self.settings.topic_prefix}{group_id}",
            gather_ms=gather_ms,
        )
        self._started.append(runner)
        return runner

    async def send(self, event: Envelope) -> None:
        await self.producer.send_and_wait(
            self.settings.topic(event.topic), event.to_bytes(), key=event.key()
        )

    async def effects(self) -> list[tuple[str, str]]:
        async with self.sessions() as session:
            rows = await session.execute(text("SELECT key, value FROM effects ORDER BY id"))
            return [tuple(row) for row in rows]


def record_effect(key: str, value: str) -> Callable[[AsyncSession], object]:
    return lambda session: session.execute(
        text("INSERT INTO effects (key, value) VALUES (:k, :v)"), {"k": key, "v": value}
    )


@pytest_asyncio.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    engine = create_engine(settings.database_url, pool_size=5)
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
        await connection.run_sync(create_tables)
        await connection.execute(
            text(
                "CREATE TABLE effects "
                "(id serial PRIMARY KEY, key text NOT NULL, value text NOT NULL)"
            )
        )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    platform = Platform(
        settings,
        engine,
        session_factory(engine),
        Outbox(TABLES, settings, "test"),
        producer,
        [],
    )
    yield platform
    for part in reversed(platform._started):
        await part.stop()
    await producer.stop()
    await engine.dispose()
