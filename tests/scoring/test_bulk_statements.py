"""Scoring's batch use cases: a batch costs a handful of statements whatever its size."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import UowFactory
from tests.scoring.bulk_helpers import SOON, in_batches
from tests.scoring.conftest import activity, capacity, captured, sql

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("demo_model")]


async def test_a_batch_costs_a_handful_of_statements_whatever_its_size(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """The batch path's point: the statements of a batch do not grow with its events."""
    leads = [uuid.uuid4() for _ in range(20)]
    await in_batches(uow, [[capacity("emea", 5)], [captured(lead) for lead in leads]])
    counted: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement.split(None, 1)[0])

    kinds = ["page_view", "webinar_attended", "demo_request"]
    batch = [activity(lead, kind, SOON) for kind in kinds for lead in leads]  # 60 events
    sa_event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        await in_batches(uow, [batch])
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", seen)
    # leads, activities read, activities added, ledger (locked), best held, leads written,
    # ledger written, outbox; the active model is cached
    assert len(counted) <= 9, counted
    states = await sql(engine, "SELECT state, count(*) FROM scoring.leads GROUP BY state")
    assert dict(states) == {"mql": 20}, "five slots taken, the rest above the ceiling"
