"""Alembic plumbing shared by the services: each service keeps its own history in its own
schema (`<schema>.alembic_version`), and its `env.py` is two lines that call `run_env`."""

from __future__ import annotations

import asyncio
import concurrent.futures

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import platform_tables
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
    )
    with context.begin_transaction():
        context.run_migrations()


def create_platform_tables(schema: str) -> None:
    """For a service's first migration: the outbox (with its NOTIFY trigger), the
    processed-events table and the API keys, defined once in `shared.db`."""
    metadata = MetaData(schema=schema)
    tables = platform_tables(metadata)
    metadata.create_all(
        op.get_bind(), tables=[tables.outbox, tables.processed_events, tables.api_keys]
    )
    op.execute(f"""
        CREATE FUNCTION "{schema}".notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{tables.notify_channel}', ''); RETURN NULL; END $$""")
    op.execute(f"""
        CREATE TRIGGER outbox_inserted AFTER INSERT ON "{schema}".outbox
        FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".notify_outbox()""")


def drop_platform_tables(schema: str) -> None:
    op.execute(
        f'DROP TABLE IF EXISTS "{schema}".outbox, "{schema}".processed_events, "{schema}".api_keys'
    )
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".notify_outbox()')
