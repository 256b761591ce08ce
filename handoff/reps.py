"""`handoff reps import FILE`: load teams, reps and rules from CSV or YAML, all or nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from shared.problems import Invalid
from shared.settings import Settings

if TYPE_CHECKING:
    from services.routing.schemas.org import Imported, OrgIn

reps_app = typer.Typer(help="The sales organisation routing assigns to: teams, reps, rules.")
console = Console()

KINDS = {".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}


@reps_app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .csv of reps or a .yaml file.")
    ],
) -> None:
    """Add or update teams and reps (and replace the rules, if the file has them); a file with
    any error changes nothing and every error is printed with its line."""
    from handoff.running import settings_for_running_stack
    from services.routing.importing import parse_org

    kind = KINDS.get(file.suffix.lower())
    if kind is None:
        console.print(f"[red]{file.name}: expected a .csv, .yaml or .yml file[/red]")
        raise typer.Exit(2)
    try:
        org = parse_org(file.read_text(encoding="utf-8-sig"), kind)
        imported = asyncio.run(_import(settings_for_running_stack(), org))
    except Invalid as refusal:
        console.print(f"[red]{file.name}: {refusal.detail}[/red]")
        for problem in refusal.problems:
            console.print(f"  {problem.field}: {problem.reason}", markup=False)
        raise typer.Exit(1) from None
    console.print(
        f"imported {imported.teams} teams, {imported.reps} reps"
        + ("" if imported.rules is None else f", {imported.rules} rules")
    )


async def _import(settings: Settings, org: OrgIn) -> Imported:
    from services.routing.admin import import_org
    from services.routing.models import platform
    from shared.db import create_engine, session_factory
    from shared.outbox import Outbox
    from shared.uow import UnitOfWork

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            uow = UnitOfWork(session, Outbox(platform, settings, "routing"), settings)
            return await import_org(org, uow)
    finally:
        await engine.dispose()
