"""Flow against capacity as the consumers record it, and every report's query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import (
    capacity_day,
    flow_day,
    reason_day,
    revenue_day,
    segment_day,
    speed_day,
)
from shared.events import SalesCapacity

# ---- flow against capacity ---------------------------------------------------------------------


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


# ---- report queries ----------------------------------------------------------------------------


def _in_range(table: Any, since: date, until: date) -> Any:
    return and_(table.c.day >= since, table.c.day <= until)


def _rollup(table: Any, since: date, until: date, group_by: str | None) -> tuple[list[Any], Any]:
    """An aggregate's rows for one grouping: its value as `group`, and the filter."""
    where = and_(_in_range(table, since, until), table.c.dimension == (group_by or "all"))
    return ([table.c.value.label("group")] if group_by else []), where


async def segment_sums(
    session: AsyncSession, since: date, until: date, group_by: str | None, columns: Sequence[str]
) -> Sequence[Any]:
    group, where = _rollup(segment_day, since, until, group_by)
    sums = [func.sum(segment_day.c[name]).label(name) for name in columns]
    query = select(*group, *sums).where(where)
    if group_by:
        # A group left empty by leads that moved to another (say, from no rep to a rep) is
        # not a group: every lead counts 1 in `lead`.
        query = query.group_by(*group).having(func.sum(segment_day.c.lead) > 0).order_by(*group)
    return (await session.execute(query)).all()


async def reason_sums(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> Sequence[Any]:
    group, where = _rollup(reason_day, since, until, group_by)
    query = (
        select(
            *group,
            reason_day.c.verdict,
            reason_day.c.reason_code,
            func.sum(reason_day.c.leads).label("leads"),
        )
        .where(where)
        .group_by(*group, reason_day.c.verdict, reason_day.c.reason_code)
    )
    return (await session.execute(query)).all()


async def revenue_sums(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> Sequence[Any]:
    group, where = _rollup(revenue_day, since, until, group_by)
    query = (
        select(*group, revenue_day.c.currency, func.sum(revenue_day.c.amount).label("amount"))
        .where(where)
        .group_by(*group, revenue_day.c.currency)
    )
    return (await session.execute(query)).all()


async def speed_buckets(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> Sequence[Any]:
    """Each group's duration histogram per speed metric: (group, metric, bucket, leads)."""
    group, where = _rollup(speed_day, since, until, group_by)
    query = (
        select(
            *group,
            speed_day.c.metric,
            speed_day.c.bucket,
            func.sum(speed_day.c.leads).label("leads"),
        )
        .where(where)
        .group_by(*group, speed_day.c.metric, speed_day.c.bucket)
        .having(func.sum(speed_day.c.leads) > 0)
    )
    return (await session.execute(query)).all()


async def flow(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = select(flow_day).where(_in_range(flow_day, since, until)).order_by(flow_day.c.day)
    return (await session.execute(query)).all()


async def capacity(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = (
        select(capacity_day)
        .where(_in_range(capacity_day, since, until))
        .order_by(capacity_day.c.day, capacity_day.c.team_id)
    )
    return (await session.execute(query)).all()


def as_decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))
