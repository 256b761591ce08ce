"""Scoring's batches at once: slots shared exactly, leads locked in one order, no deadlock."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.scoring.handlers.intake import take_in
from services.scoring.handlers.leads import record_activity
from services.scoring.repository import lock_lead
from tests.helpers import UowFactory, wait_for
from tests.scoring.bulk_helpers import SOON, in_batches
from tests.scoring.conftest import activity, capacity, captured, published, sql

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("demo_model")]


async def test_concurrent_batches_share_the_slots_exactly_and_do_not_deadlock(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """Batches on two instances at once, over overlapping leads in opposite orders, beside
    one-event transactions: 12 free slots give 12 MQLs, none twice; the leads are locked in one
    order, so no batch waits on another in a cycle."""
    leads = [
        captured(email=f"p{i}@example.com", job_title="Analyst", industry="retail")
        for i in range(30)
    ]  # fit 20: nurture
    await in_batches(uow, [leads])
    await in_batches(uow, [[capacity(f"team-{team}", free=1) for team in range(12)]])
    ids = [lead.lead_id for lead in leads]

    async def batch(lead_ids: list[uuid.UUID | None]) -> None:
        async with uow() as unit:  # + 15 and + 5: 40, in [F, U)
            await take_in([activity(i, "webinar_attended", SOON) for i in lead_ids], unit)
            await take_in([activity(i, "content_download", SOON) for i in lead_ids], unit)

    async def alone(lead_id: uuid.UUID | None) -> None:
        async with uow() as unit:
            await record_activity(activity(lead_id, "webinar_attended", SOON), unit)

    await asyncio.gather(
        batch(ids[0:14]),
        batch(ids[7:21][::-1]),
        batch(ids[14:25]),
        *(alone(i) for i in ids[25:]),
    )
    released = [e.lead_id for e in await published(engine, "lead.mql")]
    assert len(set(released)) == len(released) == 12
    [(held,)] = await sql(engine, "SELECT count(*) FROM scoring.leads WHERE state = 'held'")
    assert held == 18


async def test_a_batch_locks_its_leads_in_one_order(uow: UowFactory, engine: AsyncEngine) -> None:
    """Another transaction holds lead x and will want lead y: a batch naming y before x must
    not take y first and wait for x (a deadlock), but wait for x holding nothing."""
    x, y = sorted([uuid.uuid4(), uuid.uuid4()])
    await in_batches(uow, [[captured(x), captured(y)]])

    async def waiting_on_a_lock() -> bool:
        rows = await sql(
            engine,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        return rows[0][0] > 0

    async with uow() as holder:
        await lock_lead(holder.session, x)
        batch = asyncio.create_task(
            in_batches(uow, [[activity(y, "page_view", SOON), activity(x, "page_view", SOON)]])
        )
        await wait_for(waiting_on_a_lock, message="the batch waiting for lead x")
        await lock_lead(holder.session, y)  # a deadlock if the batch held y
    await batch
    rows = await sql(engine, "SELECT count(*) FROM scoring.activities")
    assert rows[0][0] == 2
