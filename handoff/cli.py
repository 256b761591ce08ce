"""`handoff`: run the stack on one machine and look after it.

Each command group has its module: `up`, `status`, `keys`, `reps`, `demo_traffic` (demo) and
`kafka_tools`; the one-line commands that set up a database or a broker are here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from handoff.demo_traffic import demo
from handoff.kafka_tools import kafka_app
from handoff.keys import keys_app
from handoff.reps import reps_app
from handoff.status import status
from handoff.up import up
from shared.settings import Settings

app = typer.Typer(
    help="Handoff: from a marketing web form to the right sales rep, and back.",
    no_args_is_help=True,
)
console = Console()
app.command()(up)
app.command()(status)


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


app.add_typer(keys_app, name="keys")
app.add_typer(reps_app, name="reps")
app.command()(demo)


@app.command()
def schemas(
    out_dir: Annotated[Path, typer.Argument(help="Where to write them.")] = Path("docs/events"),
) -> None:
    """Write the JSON Schemas and the AsyncAPI document generated from shared/events.py."""
    from shared.contracts_export import write_documents

    for path in write_documents(out_dir):
        console.print(str(path))


app.add_typer(kafka_app, name="kafka")
