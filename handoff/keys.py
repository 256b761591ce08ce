"""Creating and revoking API keys: one key is written to every service's own key table."""

from __future__ import annotations

import importlib
import uuid

from shared.auth import Role, new_key, revoke_key, store_key
from shared.db import PlatformTables, create_engine
from shared.migrations import SERVICES


def service_tables() -> list[PlatformTables]:
    return [importlib.import_module(f"services.{name}.models").platform for name in SERVICES]


async def create_api_key(
    database_url: str, secret: str, *, role: Role, name: str, rep_id: str | None = None
) -> tuple[uuid.UUID, str]:
    """Returns the key id and the key itself, which is not stored anywhere in clear."""
    key, key_id = new_key(), uuid.uuid4()
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            for tables in service_tables():
                await store_key(
                    connection,
                    tables,
                    secret=secret,
                    key=key,
                    key_id=key_id,
                    name=name,
                    role=role,
                    rep_id=rep_id,
                )
    finally:
        await engine.dispose()
    return key_id, key


async def revoke_api_key(database_url: str, key_id: uuid.UUID) -> bool:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            revoked = [await revoke_key(connection, tables, key_id) for tables in service_tables()]
    finally:
        await engine.dispose()
    return any(revoked)
