"""The report queries over the aggregate tables (flow against capacity is `flow` and `capacity`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import reason_day, revenue_day, segment_day, speed_day


def in_range(table: Any, since: date, until: date) -> Any:
    return and_(table.c.day >= since, table.c.day <= until)


def _rollup(table: Any, since: date, until: date, group_by: str | None) -> tuple[list[Any], Any]:
    """An aggregate's rows for one grouping: its value as `group`, and the filter."""
    where = and_(in_range(table, since, until), table.c.dimension == (group_by or "all"))
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


def as_decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))
