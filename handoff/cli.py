"""`handoff`: run the stack on one machine and look after it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import uuid
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from handoff.stack import FIRST_PORT, Stack
from shared.auth import Role
from shared.settings import Settings

app = typer.Typer(
    help="Handoff: from a marketing web form to the right sales rep, and back.",
    no_args_is_help=True,
)
console = Console()

HomeOption = Annotated[
    Path, typer.Option(envvar="HANDOFF_HOME", help="Where the embedded stack keeps its state.")
]


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _begin_stopping(*_: object) -> None:
    _ignore_stop_signals()
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    """A second Ctrl-C or SIGTERM must not cut the stop short and leave processes running."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)


@app.command()
def up(
    home: HomeOption = Path(".handoff"),
    partitions: Annotated[int, typer.Option(help="Partitions per topic.")] = 6,
    first_port: Annotated[
        int, typer.Option(help="capture's port; scoring, routing and feedback take the next three.")
    ] = FIRST_PORT,
) -> None:
    """Start the database, the broker and the four services; Ctrl-C stops all of it."""
    started = time.monotonic()
    settings = Settings()
    stack = Stack(home=home.resolve(), partitions=partitions, first_port=first_port)
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _begin_stopping)
    try:
        stack.start_infrastructure(settings)
        stack.start_services()
        stack.wait_until_ready()
        stack.load_demo()
        stack.write_state()
        _print_urls(stack, time.monotonic() - started)
        while not (dead := stack.dead_services()):
            time.sleep(0.5)
        console.print(f"[red]stopped unexpectedly: {', '.join(dead)} (see {home}/logs)[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        _ignore_stop_signals()
        stack.stop()


def _print_urls(stack: Stack, seconds: float) -> None:
    console.print(f"[green]Handoff is ready[/green] in {seconds:.1f}s")
    for name, url in stack.urls.items():
        console.print(f"  {name:<9} {url}  (docs: {url}/docs)")
    console.print(f"  broker    {stack.bootstrap}")
    console.print(f"  database  {stack.database_url}")
    console.print(f"  state     {stack.state_file}")
    if "demo_form" in stack.extra:
        console.print(f"  try it    {stack.extra['demo_form']}")


@app.command()
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
    table.add_row("broker", "up" if broker_up else "down", state["kafka_bootstrap"])
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


@app.command()
def migrate() -> None:
    """Run every service's migrations against HANDOFF_DATABASE_URL."""
    from shared.migrations import upgrade_all

    upgrade_all(Settings().database_url)
    console.print("migrations applied")


@app.command()
def topics(
    partitions: Annotated[int, typer.Option(help="Partitions per topic.")] = 6,
    replication_factor: int = 1,
) -> None:
    """Create the topics and their .dlq twins on HANDOFF_KAFKA_BOOTSTRAP."""
    from handoff.topics import create_topics

    settings = Settings()
    names = asyncio.run(
        create_topics(
            settings.kafka_bootstrap,
            prefix=settings.topic_prefix,
            partitions=partitions,
            replication_factor=replication_factor,
        )
    )
    console.print("\n".join(names))


def _settings_for_running_stack(home: Path = Path(".handoff")) -> Settings:
    """Settings from the environment; without HANDOFF_DATABASE_URL, the embedded stack's."""
    state_file = Path(os.environ.get("HANDOFF_HOME", home)) / "stack.json"
    if "HANDOFF_DATABASE_URL" not in os.environ and state_file.exists():
        return Settings(database_url=json.loads(state_file.read_text())["database_url"])
    return Settings()


keys_app = typer.Typer(help="API keys (admin, marketing, sales bound to a rep, crm).")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
    rep_id: Annotated[str | None, typer.Option(help="The rep a sales key acts for.")] = None,
) -> None:
    """Create a key in every service and print it once; only its hash is stored."""
    from handoff.keys import create_api_key

    settings = _settings_for_running_stack()
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
    from handoff.keys import revoke_api_key

    if not asyncio.run(revoke_api_key(_settings_for_running_stack().database_url, key_id)):
        console.print(f"no active key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@app.command()
def schemas(
    out_dir: Annotated[Path, typer.Argument(help="Where to write them.")] = Path("docs/events"),
) -> None:
    """Write the JSON Schemas and the AsyncAPI document generated from shared/events.py."""
    from shared.contracts_export import write_documents

    for path in write_documents(out_dir):
        console.print(str(path))
