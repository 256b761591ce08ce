"""`handoff kafka TOOL`: Apache Kafka's command-line tools against the stack's broker."""

from __future__ import annotations

import os

import typer
from rich.console import Console

from handoff import kafka
from handoff.running import bootstrap_for_tools

kafka_app = typer.Typer(
    help="Apache Kafka's command-line tools (kafka-topics.sh and friends) against the stack's "
    "broker; every option after the tool's name is the tool's own (try --help)."
)
console = Console()


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
            args = ["--bootstrap-server", bootstrap_for_tools(), *args]
        try:
            command = kafka.tool_command(tool, args)
        except kafka.BrokerError as error:
            console.print(str(error), style="red", markup=False)
            raise typer.Exit(2) from error
        os.execv(command[0], command)


for _tool in kafka.TOOLS:
    _kafka_tool(_tool)
