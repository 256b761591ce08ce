"""`handoff`: run the stack on one machine and look after it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import httpx
import typer
from rich.console import Console
from rich.table import Table

from handoff import kafka
from handoff.demo_traffic import demo
from handoff.reps import reps_app
from handoff.stack import FIRST_PORT, TANSU_LIMITS, Stack, choose_broker
from shared.auth import Role
from shared.settings import Settings

app = typer.Typer(
    help="Handoff: from a marketing web form to the right sales rep, and back.",
    no_args_is_help=True,
)
console = Console()


class BrokerOption(StrEnum):
    auto = "auto"
    kafka = "kafka"
    tansu = "tansu"


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
    broker: Annotated[
        BrokerOption,
        typer.Option(
            help="Apache Kafka (needs Java 17+, and Maven once to fetch it), Tansu (in memory), "
            "or auto: Kafka where it can run, else Tansu. Unused with HANDOFF_KAFKA_BOOTSTRAP."
        ),
    ] = BrokerOption.auto,
) -> None:
    """Start the database, the broker and the four services; Ctrl-C stops all of it."""
    started = time.monotonic()
    settings = Settings()
    kind = _broker_kind(broker)
    stack = Stack(
        home=home.resolve(), partitions=partitions, first_port=first_port, broker_kind=kind
    )
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
    except kafka.BrokerError as error:  # Maven or the broker failed: its own words, no trace
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(1) from error
    finally:
        _ignore_stop_signals()
        stack.stop()


def _broker_kind(wanted: BrokerOption) -> Literal["kafka", "tansu"]:
    """The broker `handoff up` starts; warns about Tansu's limits when it is the one."""
    if os.environ.get("HANDOFF_KAFKA_BOOTSTRAP"):
        return "kafka"  # not started: the given broker is used
    try:
        kind, reason = choose_broker(wanted.value)
    except kafka.BrokerError as error:
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(2) from error
    if kind == "tansu":
        why = f" ({reason})" if reason else ""
        console.print(
            f"[yellow]warning: the broker is Tansu{why}: {TANSU_LIMITS}. "
            "With Java 17+ and Maven, `handoff up --broker kafka` runs Apache Kafka.[/yellow]"
        )
    elif kafka.cached_libs() is None:
        console.print(f"fetching Apache Kafka {kafka.VERSION} through Maven (once)…")
    return kind


def _print_urls(stack: Stack, seconds: float) -> None:
    console.print(f"[green]Handoff is ready[/green] in {seconds:.1f}s")
    for name, url in stack.urls.items():
        console.print(f"  {name:<9} {url}  (docs: {url}/docs)")
    broker = stack.broker_state()
    console.print(f"  broker    {stack.bootstrap}  ({broker['kind']} {broker['version'] or ''})")
    if broker.get("tools"):
        console.print(f"  tools     {broker['tools']}/kafka-topics, kafka-consumer-groups, …")
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
app.add_typer(reps_app, name="reps")
app.command()(demo)


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


kafka_app = typer.Typer(
    help="Apache Kafka's command-line tools (kafka-topics.sh and friends) against the stack's "
    "broker; every option after the tool's name is the tool's own (try --help)."
)
app.add_typer(kafka_app, name="kafka")


def _kafka_tool(tool: str) -> None:
    @kafka_app.command(
        tool,
        help=f"kafka-{tool}: {kafka.TOOLS[tool]}. --bootstrap-server defaults to the stack's.",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def run_tool(context: typer.Context) -> None:
        args = list(context.args)
        if "--bootstrap-server" not in args and not {"-h", "--help", "--version"} & set(args):
            args = ["--bootstrap-server", _bootstrap_for_tools(), *args]
        try:
            command = kafka.tool_command(tool, args)
        except kafka.BrokerError as error:
            console.print(str(error), style="red", markup=False)
            raise typer.Exit(2) from error
        os.execv(command[0], command)


for _tool in kafka.TOOLS:
    _kafka_tool(_tool)


def _bootstrap_for_tools(home: Path = Path(".handoff")) -> str:
    """HANDOFF_KAFKA_BOOTSTRAP, else the running stack's broker."""
    if "HANDOFF_KAFKA_BOOTSTRAP" in os.environ:
        return os.environ["HANDOFF_KAFKA_BOOTSTRAP"]
    state_file = Path(os.environ.get("HANDOFF_HOME", home)) / "stack.json"
    if state_file.exists():
        return str(json.loads(state_file.read_text())["kafka_bootstrap"])
    return Settings().kafka_bootstrap
