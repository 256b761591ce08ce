"""The teams' capacity per day, as `sales.capacity.v1` reports it, and the flow-against-capacity
report's read (the MQL side is `flow`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import capacity_day
from services.feedback.repository.reports import in_range
from shared.events import SalesCapacity

_CAPACITY = ("reps_available", "total_capacity", "open_load", "free_slots", "queue_length")


async def record_capacity(session: AsyncSession, capacity: SalesCapacity, at: datetime) -> None:
    """The team's latest report that day, and the longest queue it reported."""
    values = capacity.model_dump(exclude={"team_id"}, include=set(_CAPACITY))
    statement = insert(capacity_day).values(
        day=at.date(),
        team_id=capacity.team_id,
        queue_max=capacity.queue_length,
        reported_at=at,
        **values,
    )
    newer = capacity_day.c.reported_at <= at
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[capacity_day.c.day, capacity_day.c.team_id],
            set_={
                **{
                    name: case((newer, statement.excluded[name]), else_=capacity_day.c[name])
                    for name in _CAPACITY
                },
                "queue_max": func.greatest(capacity_day.c.queue_max, capacity.queue_length),
                "reported_at": func.greatest(capacity_day.c.reported_at, at),
            },
        )
    )


async def capacity(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = (
        select(capacity_day)
        .where(in_range(capacity_day, since, until))
        .order_by(capacity_day.c.day, capacity_day.c.team_id)
    )
    return (await session.execute(query)).all()
