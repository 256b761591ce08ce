"""Running feedback's lead events as the consumer runner runs them, on the test's database: one
at a time, or a batch in one transaction (a run of one type of lead event given to the batch use
case `handlers.leads.take_in` at once); and every row feedback keeps, read back to compare."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.app import SPEC
from services.feedback.handlers import leads
from services.feedback.models import reason_day, revenue_day, segment_day, speed_day
from shared.events import Envelope
from tests.helpers import UowFactory

ONE_EVENT = {
    event_type.model_fields["event_type"].default: h for event_type, h in SPEC.handlers.items()
}
BULK = set(leads.READINGS)
TABLES = (
    "leads",
    "timeline",
    "erased_leads",
    "lead_facts",
    "segment_day",
    "reason_day",
    "revenue_day",
    "speed_day",
    "flow_day",
    "capacity_day",
)
AGGREGATES = (segment_day, reason_day, revenue_day, speed_day)


async def sql(engine: AsyncEngine, query: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(query))).all())


async def one_by_one(uow: UowFactory, events: list[Envelope]) -> None:
    for event in events:
        async with uow() as unit:
            await ONE_EVENT[event.event_type](event, unit)


async def in_batches(
    uow: UowFactory, batches: list[list[Envelope]], *, mixed: bool = False
) -> None:
    """A batch in one transaction: each run of one type of lead event (`mixed`: of any lead
    event types) given to the batch use case at once, any other event to its handler."""
    for batch in batches:
        async with uow() as unit:
            kind: Callable[[Envelope], object] = (
                (lambda e: e.event_type in BULK) if mixed else (lambda e: e.event_type)
            )
            for _, group in itertools.groupby(batch, kind):
                run = list(group)
                if run[0].event_type in BULK:
                    await leads.take_in(run, unit)
                else:
                    for event in run:
                        await ONE_EVENT[event.event_type](event, unit)


async def outcome(engine: AsyncEngine) -> dict[str, Any]:
    """Every row feedback keeps, but the instants PostgreSQL stamps; timeline lines in the
    order the API lists them; aggregate rows of all zeros left out (reports skip them, and
    whether one exists depends on how events were grouped into transactions)."""
    found: dict[str, Any] = {
        "facts": await sql(engine, "SELECT * FROM feedback.lead_facts ORDER BY lead_id"),
        "persons": await sql(
            engine,
            "SELECT lead_id, correlation_id, email, first_name, last_name, job_title, company,"
            " country, score, grade FROM feedback.leads ORDER BY lead_id",
        ),
        "timeline": await sql(
            engine,
            "SELECT lead_id, occurred_at, event_id, event_type, actor, summary, detail"
            " FROM feedback.timeline ORDER BY lead_id, occurred_at, id",
        ),
        "erased": await sql(engine, "SELECT * FROM feedback.erased_leads ORDER BY lead_id"),
        "flow": await sql(engine, "SELECT * FROM feedback.flow_day ORDER BY day"),
    }
    return found | await aggregates(engine)


async def aggregates(engine: AsyncEngine) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Each aggregate table's rows, key -> amounts, but rows of all zeros."""
    found: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for table in AGGREGATES:
        keys = [column.name for column in table.primary_key]
        found[table.name] = {}
        for row in await sql(engine, f"SELECT * FROM {table.fullname}"):
            data = dict(row._mapping)
            amounts = {name: value for name, value in data.items() if name not in keys}
            if any(amounts.values()):
                found[table.name][tuple(data[name] for name in keys)] = amounts
    return found


async def reset(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(f'feedback.{t}' for t in TABLES)}"))


async def both_ways(
    uow: UowFactory, engine: AsyncEngine, batches: list[list[Envelope]], *, mixed: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    await one_by_one(uow, [event for batch in batches for event in batch])
    alone = await outcome(engine)
    await reset(engine)
    await in_batches(uow, batches, mixed=mixed)
    return alone, await outcome(engine)
