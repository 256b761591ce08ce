"""API keys, created and revoked in every service's own key table, and `handoff keys`."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from typing import Annotated

import typer
from rich.console import Console

from handoff.running import settings_for_running_stack
from shared.auth import Role, new_key, revoke_key, store_key
from shared.db import PlatformTables, create_engine
from shared.migrations import SERVICES

keys_app = typer.Typer(help="API keys (admin, marketing, sales bound to a rep, crm).")
console = Console()


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


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
    rep_id: Annotated[str | None, typer.Option(help="The rep a sales key acts for.")] = None,
) -> None:
    """Create a key in every service and print it once; only its hash is stored."""
    settings = settings_for_running_stack()
    try:
        key_id, key = asyncio.run(
            create_api_key(
                settings.database_url,
                settings.secret_key,
                role=role,
                name=name or role.value,
                rep_id=rep_id,
            )
        )
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    console.print(f"key id {key_id}")
    print(key)


@keys_app.command("revoke")
def keys_revoke(key_id: uuid.UUID) -> None:
    """Revoke a key everywhere (cached lookups expire within 30 s)."""
    if not asyncio.run(revoke_api_key(settings_for_running_stack().database_url, key_id)):
        console.print(f"no active key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")
