"""Scoring's migrations create exactly the tables its models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.scoring.models import metadata


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": lambda name, kind, parent: kind != "schema" or name == "scoring",
            "compare_server_default": True,
        },
    )
    return [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]


@pytest.mark.asyncio
async def test_models_and_migrations_match(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
