"""Backtest jobs (queued, claimed by one instance, advanced) and the stored leads they replay."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.scoring import Activity
from services.scoring.models import activities, backtests, leads, outcomes


async def add_backtest(session: AsyncSession, **values: Any) -> uuid.UUID:
    backtest_id = uuid.uuid4()
    c = leads.c
    total = await session.scalar(
        select(func.count()).where(
            c.state != "erased",
            c.created_at >= values["range_from"],
            c.created_at < values["range_to"],
        )
    )
    await session.execute(backtests.insert().values(id=backtest_id, total=total or 0, **values))
    return backtest_id


async def backtest(session: AsyncSession, backtest_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(select(backtests).where(backtests.c.id == backtest_id))).first()


async def claim_backtest(session: AsyncSession) -> Row[Any] | None:
    """The oldest unfinished backtest no other instance is working on."""
    query = (
        select(backtests)
        .where(backtests.c.status.in_(("queued", "running")))
        .order_by(backtests.c.requested_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).first()


async def change_backtest(session: AsyncSession, backtest_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(backtests).where(backtests.c.id == backtest_id).values(**values))


async def replay_page(
    session: AsyncSession,
    after: tuple[datetime, uuid.UUID] | None,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[tuple[Row[Any], list[Activity], str | None, datetime | None]]:
    """The next page of stored leads created in [start, end), in creation order (then lead id),
    after the (created_at, lead_id) `after`: each with its activities and its outcome's stage
    and time (None when not judged)."""
    c = leads.c
    query = (
        select(leads, outcomes.c.stage, outcomes.c.occurred_at.label("judged_at"))
        .outerjoin(outcomes, outcomes.c.lead_id == c.lead_id)
        .where(c.state != "erased", c.created_at >= start, c.created_at < end)
        .order_by(c.created_at, c.lead_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(c.created_at, c.lead_id) > tuple_(*after))
    rows = (await session.execute(query)).all()
    if not rows:
        return []
    by_lead: dict[uuid.UUID, list[Activity]] = {r.lead_id: [] for r in rows}
    a = activities.c
    acts = select(a.lead_id, a.activity_type, a.happened_at, a.properties).where(
        a.lead_id.in_(list(by_lead))
    )
    for act in (await session.execute(acts)).all():
        by_lead[act.lead_id].append(Activity(act.activity_type, act.happened_at, act.properties))
    return [(r, by_lead[r.lead_id], r.stage, r.judged_at) for r in rows]
