"""Flow against capacity: the MQL threshold and the teams' capacity per day, as the consumers
record them, and the report's reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import capacity_day, flow_day
from services.feedback.repository.reports import in_range
from shared.events import SalesCapacity


async def record_threshold(
    session: AsyncSession, day: date, threshold: int, at: datetime, *, mql: bool
) -> None:
    """The threshold in force that day (lowest, highest, latest) and, for an MQL, one more."""
    statement = insert(flow_day).values(
        day=day,
        mqls=int(mql),
        threshold_min=threshold,
        threshold_max=threshold,
        threshold_last=threshold,
        threshold_at=at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[flow_day.c.day],
            set_={
                "mqls": flow_day.c.mqls + statement.excluded.mqls,
                "threshold_min": func.least(flow_day.c.threshold_min, threshold),
                "threshold_max": func.greatest(flow_day.c.threshold_max, threshold),
                "threshold_last": _when(
                    flow_day.c.threshold_at <= at,
                    statement.excluded.threshold_last,
                    flow_day.c.threshold_last,
                ),
                "threshold_at": func.greatest(flow_day.c.threshold_at, at),
            },
        )
    )


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
                    name: _when(newer, statement.excluded[name], capacity_day.c[name])
                    for name in _CAPACITY
                },
                "queue_max": func.greatest(capacity_day.c.queue_max, capacity.queue_length),
                "reported_at": func.greatest(capacity_day.c.reported_at, at),
            },
        )
    )


_CAPACITY = ("reps_available", "total_capacity", "open_load", "free_slots", "queue_length")


def _when(condition: Any, then: Any, otherwise: Any) -> Any:
    return case((condition, then), else_=otherwise)


async def flow(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = select(flow_day).where(in_range(flow_day, since, until)).order_by(flow_day.c.day)
    return (await session.execute(query)).all()


async def capacity(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = (
        select(capacity_day)
        .where(in_range(capacity_day, since, until))
        .order_by(capacity_day.c.day, capacity_day.c.team_id)
    )
    return (await session.execute(query)).all()
