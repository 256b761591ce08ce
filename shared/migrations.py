"""Alembic plumbing shared by the services: each service keeps its own history in its own
schema (`<schema>.alembic_version`), and its `env.py` is two lines that call `run_env`."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, pool
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import Settings

SERVICES = ("capture", "scoring", "routing", "feedback")


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"services.{service}:migrations")
    config.attributes["database_url"] = database_url
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Run a service's migrations; safe to call from inside a running event loop."""

    def run() -> None:
        command.upgrade(alembic_config(service, database_url), revision)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        run()
        return
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        executor.submit(run).result()


def upgrade_all(database_url: str) -> None:
    for service in SERVICES:
        upgrade(service, database_url)


def run_env(metadata: MetaData) -> None:
    """Body of every service's migrations/env.py (online mode, asyncpg)."""
    url = context.config.attributes.get("database_url") or Settings().database_url
    asyncio.run(_run_online(url, metadata))


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync, metadata)
        await connection.commit()
    await engine.dispose()


def _run_sync(connection: Connection, metadata: MetaData) -> None:
    schema = metadata.schema
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=lambda name, type_, _: _own_schema(schema, name, type_),
    )
    with context.begin_transaction():
        context.run_migrations()


def drift(connection: Connection, metadata: MetaData) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models: empty
    when models and migrations agree (the suite checks every service)."""
    schema = metadata.schema
    migration = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "compare_server_default": True,
            "include_name": lambda name, type_, _: _own_schema(schema, name, type_),
        },
    )
    return [
        change
        for change in compare_metadata(migration, metadata)
        if "alembic_version" not in str(change)
    ]


def _own_schema(schema: str | None, name: str | None, type_: str) -> bool:
    """Autogenerate compares only the service's own schema, never the other services'."""
    return type_ != "schema" or name == schema


def create_platform_tables_v1(schema: str) -> None:
    """For a service's first migration: the outbox (with its NOTIFY trigger), the processed
    events and the API keys, spelled out as they were at revision 1.

    Frozen: an old migration must create what it created the day it was written, whatever
    `shared.db` says later. A change to these tables is a new migration in every service.
    """
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_index(
        "outbox_unsent",
        "outbox",
        ["id"],
        schema=schema,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index(
        "outbox_sent",
        "outbox",
        ["sent_at"],
        schema=schema,
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("rep_id", sa.String(100), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    create_outbox_trigger(schema)


def create_outbox_trigger(schema: str) -> None:
    """NOTIFY at every commit that inserted outbox rows (until the platform's second version)."""
    op.execute(f"""
        CREATE FUNCTION "{schema}".notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{schema}_outbox', ''); RETURN NULL; END $$""")
    op.execute(f"""
        CREATE TRIGGER outbox_inserted AFTER INSERT ON "{schema}".outbox
        FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".notify_outbox()""")


def drop_outbox_trigger(schema: str) -> None:
    """The relays are woken by their own process's commits instead (`shared.outbox`): a NOTIFY
    at every commit queued every service's committing writers behind one lock."""
    op.execute(f'DROP TRIGGER IF EXISTS outbox_inserted ON "{schema}".outbox')
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".notify_outbox()')


def drop_platform_tables_v1(schema: str) -> None:
    op.execute(
        f'DROP TABLE IF EXISTS "{schema}".outbox, "{schema}".processed_events, "{schema}".api_keys'
    )
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".notify_outbox()')
