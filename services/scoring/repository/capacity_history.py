"""Capacity history: every sales.capacity.v1 state kept, for the backtest's replay of the
capacity-following threshold and its weekly capacity."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.evaluation import Recorded
from services.scoring.models import capacity_history


async def record_capacity_state(
    session: AsyncSession,
    event_id: uuid.UUID,
    team: str,
    total: int,
    free: int,
    at: datetime,
    queue: int = 0,
) -> None:
    await session.execute(
        insert(capacity_history)
        .values(
            event_id=event_id,
            team_id=team,
            total_capacity=total,
            free_slots=free,
            queue_length=queue,
            published_at=at,
        )
        .on_conflict_do_nothing()
    )


async def capacity_states(
    session: AsyncSession, until: datetime
) -> list[tuple[str, datetime, int]]:
    c = capacity_history.c
    query = select(c.team_id, c.published_at, c.total_capacity).where(c.published_at < until)
    return [(r[0], r[1], r[2]) for r in (await session.execute(query)).all()]


async def recorded_states(session: AsyncSession, until: datetime) -> list[Recorded]:
    """Every capacity state published before `until`, in time order."""
    c = capacity_history.c
    query = (
        select(c.team_id, c.published_at, c.free_slots, c.queue_length)
        .where(c.published_at < until)
        .order_by(c.published_at, c.event_id)
    )
    return [Recorded(*row) for row in (await session.execute(query)).all()]
