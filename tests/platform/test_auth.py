"""The key ring against the real database: new keys work at once, known keys are cached for a
while, unknown keys are never cached."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import KeyRing, Role, new_key, revoke_key, store_key
from shared.db import create_engine, session_factory
from tests.helpers import wait_for
from tests.platform.conftest import SCHEMA, TABLES, create_tables

pytestmark = pytest.mark.asyncio

SECRET = "a-test-secret-of-at-least-32-characters"


class Database:
    """Sessions on one test database, and a count of the statements sent through them."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_size=2)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self.statements = 0
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_: object) -> None:
        self.statements += 1

    async def create_key(self, key: str) -> uuid.UUID:
        key_id = uuid.uuid4()
        async with self.sessions.begin() as session:
            await store_key(
                session,
                TABLES,
                secret=SECRET,
                key=key,
                key_id=key_id,
                name="test",
                role=Role.marketing,
                rep_id=None,
            )
        return key_id

    async def revoke(self, key_id: uuid.UUID) -> None:
        async with self.sessions.begin() as session:
            assert await revoke_key(session, TABLES, key_id)


@pytest_asyncio.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    async with database.engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
        await connection.run_sync(create_tables)
    yield database
    await database.engine.dispose()


async def test_a_key_created_after_a_miss_works_at_once(database: Database):
    keys = KeyRing(TABLES, SECRET)
    key = new_key()
    assert await keys.principal(database.sessions, key) is None
    key_id = await database.create_key(key)
    principal = await keys.principal(database.sessions, key)
    assert principal is not None and (principal.key_id, principal.role) == (key_id, Role.marketing)


async def test_a_flood_of_unknown_keys_does_not_push_a_known_key_out(database: Database):
    keys = KeyRing(TABLES, SECRET, max_keys=2)
    known = new_key()
    await database.create_key(known)
    assert await keys.principal(database.sessions, known) is not None
    for _ in range(20):
        assert await keys.principal(database.sessions, new_key()) is None
    before = database.statements
    assert await keys.principal(database.sessions, known) is not None
    assert database.statements == before, "the known key is answered from the cache"


async def test_a_revoked_key_stops_working_once_its_cache_entry_expires(database: Database):
    ttl_s = 1.0
    keys = KeyRing(TABLES, SECRET, ttl_s=ttl_s)
    key = new_key()
    key_id = await database.create_key(key)
    assert await keys.principal(database.sessions, key) is not None
    cached_at = time.monotonic()
    await database.revoke(key_id)

    before = database.statements
    still = await keys.principal(database.sessions, key)
    assert time.monotonic() - cached_at < ttl_s, "too slow to see the cache at work"
    assert still is not None and still.key_id == key_id, "the cached key works until it expires"
    assert database.statements == before, "answered from the cache, not the database"

    await wait_for(
        lambda: _refused(keys, database, key), timeout_s=5, message="the revoked key to be refused"
    )
    assert time.monotonic() - cached_at >= ttl_s * 0.9, "refused before its cache entry expired"


async def _refused(keys: KeyRing, database: Database, key: str) -> bool:
    return await keys.principal(database.sessions, key) is None
