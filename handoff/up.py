"""`handoff up`: the whole stack on this machine until Ctrl-C, which stops all of it."""

from __future__ import annotations

import os
import signal
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from handoff import kafka
from handoff.brokers import TANSU_LIMITS, choose_broker
from handoff.running import HomeOption
from handoff.stack import FIRST_PORT, Stack
from shared.settings import Settings

console = Console()
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BrokerOption(StrEnum):
    auto = "auto"
    kafka = "kafka"
    tansu = "tansu"


def _begin_stopping(*_: object) -> None:
    _ignore_stop_signals()
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    """A second Ctrl-C or SIGTERM must not cut the stop short and leave processes running."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)


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
