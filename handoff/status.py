"""`handoff status`: each part of a running stack, up or down, and where."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from handoff.running import HomeOption

console = Console()


def status(home: HomeOption = Path(".handoff")) -> None:
    """Report each part of a running stack: up or down, and where."""
    state_file = home / "stack.json"
    if not state_file.exists():
        console.print(f"no stack is running here ({state_file} not found)")
        raise typer.Exit(1)
    state = json.loads(state_file.read_text())
    table = Table("part", "state", "where")
    healthy = True
    for name, url in state["services"].items():
        ready = _http_ok(f"{url}/readyz")
        healthy &= ready
        table.add_row(name, "up" if ready else "down", url)
    broker_up = _tcp_ok(state["kafka_bootstrap"])
    database_up = asyncio.run(_database_ok(state["database_url"]))
    healthy &= broker_up and database_up
    broker = state.get("broker", {})
    table.add_row(
        f"broker ({broker.get('kind', '?')})",
        "up" if broker_up else "down",
        state["kafka_bootstrap"],
    )
    table.add_row("database", "up" if database_up else "down", state["database_url"])
    console.print(table)
    raise typer.Exit(0 if healthy else 1)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _tcp_ok(address: str) -> bool:
    host, _, port = address.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


async def _database_ok(url: str) -> bool:
    import asyncpg

    from shared.db import asyncpg_dsn

    try:
        connection = await asyncpg.connect(asyncpg_dsn(url), timeout=2.0)
        await connection.close()
        return True
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
