"""What a batch of lead events costs: a handful of statements, alone or in the running service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.events import Envelope
from shared.settings import Settings
from tests.feedback.bulk_helpers import in_batches, sql
from tests.feedback.conftest import T0, Journey
from tests.feedback.test_locking import send_all
from tests.helpers import UowFactory, wait_for

pytestmark = pytest.mark.asyncio


async def test_a_batch_costs_a_handful_of_statements_whatever_its_size(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    people = [Journey() for _ in range(20)]
    await in_batches(uow, [[p.captured(T0) for p in people]])

    async def statements(batch: list[Envelope]) -> list[str]:
        counted: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
            counted.append(" ".join(statement.split()[:3]))

        sa_event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            await in_batches(uow, [batch])
        finally:
            sa_event.remove(engine.sync_engine, "before_cursor_execute", seen)
        return counted

    minutes = [1, 2, 3]
    small = await statements([p.scored(T0 + timedelta(minutes=1)) for p in people[:2]])
    large = await statements(
        [p.scored(T0 + timedelta(minutes=m)) for m in minutes for p in people]  # 60 events
    )
    # facts claimed, persons, timeline, facts saved, the day's threshold; at commit the
    # aggregate rows (segment_day: model_version moved from "" to m1)
    assert len(large) <= 6, large
    assert large == small
    one = await statements([people[0].scored(T0 + timedelta(minutes=9))])
    assert len(one) <= 6, one


async def test_the_running_service_takes_lead_events_in_batches_and_once_each(
    feedback: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    """Through the broker: each event sent twice (a redelivery), the copies often in the same
    batch; every event is counted and on the timeline once, in far fewer statements than
    events."""
    claims: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO feedback.lead_facts"):
            claims.append(1)

    people = [Journey() for _ in range(60)]
    events = [e for p in people for e in (p.captured(T0), p.mql(T0 + timedelta(minutes=1)))]
    sa_event.listen(Engine, "before_cursor_execute", seen)
    try:
        await send_all(settings, [e for e in events for _ in range(2)])

        async def settled() -> bool:
            rows = await sql(engine, "SELECT count(*) FROM feedback.timeline")
            return bool(rows[0][0] == len(events))

        await wait_for(settled, timeout_s=60, message=f"{len(events)} lines on the timeline")
    finally:
        sa_event.remove(Engine, "before_cursor_execute", seen)
    [(lead, mql)] = await sql(
        engine, "SELECT lead, mql FROM feedback.segment_day WHERE dimension = 'all'"
    )
    assert (lead, mql) == (60, 60)
    [(mqls,)] = await sql(engine, "SELECT mqls FROM feedback.flow_day")
    assert mqls == 60
    assert len(claims) < len(events) // 4, f"{len(claims)} claims for {len(events)} events"
