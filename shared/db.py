"""Database access shared by the services: engine, sessions and the platform tables.

Every service owns one PostgreSQL schema. Besides its own tables each schema holds an `outbox`
(events waiting for the relay) and `processed_events` (event ids a consumer has handled).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class DatabaseUnavailable(ConnectionError):
    """No connection could be opened, or the one in use broke: whatever the server said (e.g.
    `55000 database is not accepting connections`, `57P03 the database system is starting
    up`, `28P01` while a password is rotated), the database is away, not the request at fault."""


# The driver's errors for a database that is unreachable, restarting or dropped the connection.
_DRIVER_OUTAGES = (
    OSError,  # DatabaseUnavailable too
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
)
# What refusing a new connection may raise: every server answer, the socket's, a timeout.
_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

# What a request may raise from the database: SQLAlchemy's wrapper, or a raw driver error.
DATABASE_ERRORS = (
    DBAPIError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


async def connect(dsn: str, **options: object) -> asyncpg.Connection:
    """`asyncpg.connect`, where a refused connection is a `DatabaseUnavailable` whatever its
    SQLSTATE: nothing was written, so the caller may retry."""
    try:
        return await asyncpg.connect(dsn, **options)
    except _CONNECT_ERRORS as error:
        raise DatabaseUnavailable(f"cannot connect: {type(error).__name__}: {error}") from error


def is_database_outage(error: BaseException) -> bool:
    """The database is away, not the request or record at fault: answer 503, retry later.

    SQLAlchemy wraps every driver error in a DBAPIError; the driver's own error is its cause.
    Raw driver errors come from the statement pool and from connecting.
    """
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        if error.orig is not None:
            error = error.orig.__cause__ or error.orig
    return isinstance(error, _DRIVER_OUTAGES)


_CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def is_concurrency_conflict(error: BaseException) -> bool:
    """PostgreSQL rolled the transaction back because another one conflicted with it (a
    deadlock, a serialization failure): nothing was written, and the same request may succeed
    when tried again."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig.__cause__ or error.orig
    return isinstance(error, _CONFLICTS)


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    # No pre-ping: it costs a round trip per checkout. A connection that died with the database
    # fails once, invalidates the pool (SQLAlchemy drops every older connection) and that
    # request gets 503 (see shared.errors).
    # No overflow either: connections opened and closed under load cost more than waiting.
    # Connections are opened through `connect`, so a refusal is an outage (see there).
    dsn = asyncpg_dsn(database_url)
    engine = create_async_engine(
        database_url, pool_size=pool_size, max_overflow=0, async_creator=lambda: connect(dsn)
    )
    event.listen(engine.sync_engine, "handle_error", _closed_connection_is_a_disconnect)
    return engine


def _closed_connection_is_a_disconnect(context: ExceptionContext) -> None:
    """Any error on a connection the database has closed is a disconnect: SQLAlchemy then
    invalidates it and the request gets 503, whatever error the driver reported."""
    if context.is_disconnect or context.connection is None:
        return
    try:
        driver = context.connection.connection.driver_connection
    except Exception:  # already invalidated
        return
    if isinstance(driver, asyncpg.Connection) and driver.is_closed():
        context.is_disconnect = True


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL in the form asyncpg.connect() takes."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class StatementPool:
    """Plain driver connections for a hot path that writes in single statements (a unit of
    work's `lone_statement`, e.g. capture's new leads): no ORM, no session, no greenlet, and no
    reset query when a connection goes back, since such statements leave no session state
    behind. Connects on first use, so a service can start while the database is still away."""

    def __init__(self, database_url: str, size: int) -> None:
        self._dsn, self._size = asyncpg_dsn(database_url), size
        self._pool: asyncpg.Pool | None = None
        self._creating = asyncio.Lock()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self._pool or await self._ready_pool()
        async with pool.acquire() as connection:
            try:
                yield connection
            except Exception as error:
                # The database ended the connection (e.g. terminated by an operator) while it
                # was in use: asyncpg may report that as a protocol-state InternalClientError.
                if not isinstance(error, DatabaseUnavailable) and _closed(connection):
                    raise DatabaseUnavailable(f"the connection broke: {error!r}") from error
                raise

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """One statement on a connection taken for it alone: it commits on its own."""
        async with self.acquire() as connection:
            return list(await connection.fetch(sql, *args))

    async def _ready_pool(self) -> asyncpg.Pool:
        async with self._creating:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._size,
                    reset=_nothing_to_reset,
                    connect=connect,
                    init=_json_as_sessions_have_it,
                )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


def _closed(connection: asyncpg.Connection) -> bool:
    try:
        return bool(connection.is_closed())
    except asyncpg.InterfaceError:  # the pool has already taken a dead connection back
        return True


async def _json_as_sessions_have_it(connection: asyncpg.Connection) -> None:
    """JSONB as on the engine's connections: sent as JSON text, read back as Python values, so
    a statement answers the same on either (`shared.uow.UnitOfWork.lone_statement`)."""
    await connection.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=str, decoder=json.loads, format="text"
    )


async def _nothing_to_reset(_: asyncpg.Connection) -> None:
    pass  # an open transaction is still rolled back by asyncpg itself


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class PlatformTables:
    schema: str
    outbox: Table
    processed_events: Table
    api_keys: Table

    @property
    def notify_channel(self) -> str:
        return f"{self.schema}_outbox"


def platform_tables(metadata: MetaData) -> PlatformTables:
    """Define the outbox and processed-events tables in a service's metadata (and schema)."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("topic", String(249), nullable=False),
        Column("key", LargeBinary, nullable=True),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index("outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        Index("outbox_sent", "sent_at", postgresql_where=text("sent_at IS NOT NULL")),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("topic", String(249), nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    # Every service keeps its own copy of the API keys (`handoff keys create` writes all four),
    # so no service reads another's tables to authenticate a caller.
    api_keys = Table(
        "api_keys",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("name", String(200), nullable=False),
        Column("role", String(20), nullable=False),
        Column("rep_id", String(100), nullable=True),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
    )
    assert metadata.schema, "each service's metadata names its schema"
    return PlatformTables(
        schema=metadata.schema, outbox=outbox, processed_events=processed, api_keys=api_keys
    )
