"""A batch of lead events locks its leads' facts in one order: no deadlock, no count lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.repository import locked_facts
from tests.feedback.bulk_helpers import in_batches, one_by_one, sql
from tests.feedback.conftest import T0, Journey
from tests.helpers import UowFactory, wait_for

pytestmark = pytest.mark.asyncio


async def test_a_batch_locks_its_leads_facts_in_one_order(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """Another transaction holds lead x's facts and will want y's: a batch naming y before x
    must not take y first and wait for x (a deadlock), but wait for x holding nothing."""
    x, y = sorted([Journey(), Journey()], key=lambda j: j.lead_id)
    await in_batches(uow, [[x.captured(T0), y.captured(T0)]])

    async def waiting_on_a_lock() -> bool:
        rows = await sql(
            engine,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        return bool(rows[0][0] > 0)

    async with uow() as holder:
        await locked_facts(holder.session, x.lead_id)
        batch = asyncio.create_task(
            in_batches(uow, [[y.mql(T0 + timedelta(minutes=1)), x.mql(T0 + timedelta(minutes=1))]])
        )
        await wait_for(waiting_on_a_lock, message="the batch waiting for lead x")
        await locked_facts(holder.session, y.lead_id)  # a deadlock if the batch held y
    await batch
    stages = await sql(engine, "SELECT DISTINCT stage FROM feedback.lead_facts")
    assert stages == [("mql",)]


async def test_overlapping_batches_at_once_neither_deadlock_nor_lose_a_count(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    people = [Journey() for _ in range(30)]
    await in_batches(uow, [[p.captured(T0) for p in people]])
    at = T0 + timedelta(minutes=5)
    await asyncio.gather(
        in_batches(uow, [[p.mql(at) for p in people[0:20]]]),
        in_batches(uow, [[p.mql(at) for p in people[10:30][::-1]]]),
        in_batches(uow, [[p.mql(at) for p in people[::-1]]]),
        *(one_by_one(uow, [p.mql(at)]) for p in people[5:25:4]),
    )
    [(mqls,)] = await sql(engine, "SELECT mqls FROM feedback.flow_day")
    assert mqls == 20 + 20 + 30 + 5
    [(mql,)] = await sql(engine, "SELECT mql FROM feedback.segment_day WHERE dimension = 'all'")
    assert mql == 30
