"""The MQL flow per day: the threshold in force and the day's MQLs, as the consumers record
them, and the flow-against-capacity report's read (the teams' side is `capacity`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import flow_day
from services.feedback.repository.reports import in_range


def _when(condition: Any, then: Any, otherwise: Any) -> Any:
    return case((condition, then), else_=otherwise)


@dataclass(frozen=True)
class Threshold:
    """The MQL threshold an event reported at `at`, and whether it made one more MQL."""

    threshold: int
    at: datetime
    mql: bool


_THRESHOLDS = insert(flow_day)
_RECORD_THRESHOLDS = _THRESHOLDS.on_conflict_do_update(
    index_elements=[flow_day.c.day],
    set_={
        "mqls": flow_day.c.mqls + _THRESHOLDS.excluded.mqls,
        "threshold_min": func.least(flow_day.c.threshold_min, _THRESHOLDS.excluded.threshold_min),
        "threshold_max": func.greatest(
            flow_day.c.threshold_max, _THRESHOLDS.excluded.threshold_max
        ),
        "threshold_last": _when(
            flow_day.c.threshold_at <= _THRESHOLDS.excluded.threshold_at,
            _THRESHOLDS.excluded.threshold_last,
            flow_day.c.threshold_last,
        ),
        "threshold_at": func.greatest(flow_day.c.threshold_at, _THRESHOLDS.excluded.threshold_at),
    },
).returning(flow_day.c.day)  # RETURNING: insertmanyvalues, one multi-row INSERT


async def record_thresholds(session: AsyncSession, reported: Sequence[Threshold]) -> None:
    """The threshold in force each day (lowest, highest, latest) and the day's MQLs, in one
    statement. The reports are first merged per day, in order, by the statement's own rules (a
    later report at the same instant is the latest), as one statement each would leave them."""
    days: dict[date, dict[str, Any]] = {}
    for report in reported:
        day = days.get(report.at.date())
        if day is None:
            days[report.at.date()] = {
                "day": report.at.date(),
                "mqls": int(report.mql),
                "threshold_min": report.threshold,
                "threshold_max": report.threshold,
                "threshold_last": report.threshold,
                "threshold_at": report.at,
            }
            continue
        day["mqls"] += report.mql
        day["threshold_min"] = min(day["threshold_min"], report.threshold)
        day["threshold_max"] = max(day["threshold_max"], report.threshold)
        if day["threshold_at"] <= report.at:
            day["threshold_last"], day["threshold_at"] = report.threshold, report.at
    if days:
        await session.execute(_RECORD_THRESHOLDS, [days[day] for day in sorted(days)])


async def flow(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = select(flow_day).where(in_range(flow_day, since, until)).order_by(flow_day.c.day)
    return (await session.execute(query)).all()
