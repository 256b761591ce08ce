"""Every service's migrations create exactly what its models describe, and no more."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from shared.migrations import SERVICES, drift


def _metadata(service: str) -> MetaData:
    return importlib.import_module(f"services.{service}.models").metadata


@pytest.mark.asyncio
@pytest.mark.parametrize("service", SERVICES)
async def test_models_and_migrations_agree(db_url: str, service: str) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            changes = await connection.run_sync(drift, _metadata(service))
    finally:
        await engine.dispose()
    assert changes == [], f"{service}: models and migrations differ: {changes}"


@pytest.mark.asyncio
async def test_a_model_without_its_migration_is_found(db_url: str) -> None:
    """The check can fail: a column the models have and no migration created is reported."""
    from sqlalchemy import Column, Integer, Table

    metadata = MetaData(schema="capture")
    for table in _metadata("capture").tables.values():
        table.to_metadata(metadata)
    Table("not_migrated", metadata, Column("id", Integer, primary_key=True))
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            changes = await connection.run_sync(drift, metadata)
    finally:
        await engine.dispose()
    assert [change[0] for change in changes] == ["add_table"]
