"""The four reports: sums from the aggregate tables, arithmetic from `domain.reports`.

Each answers over the cohort of leads captured between `since` and `until` (inclusive days,
UTC), except flow against capacity, which is per calendar day of the MQLs and capacity reports.
A group whose dimension is unknown (e.g. leads not yet assigned, grouped by rep) is `None`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import repository
from services.feedback.domain.facts import Step
from services.feedback.domain.reports import (
    SPEED_METRICS,
    flow_row,
    funnel_row,
    quality_row,
    sla_row,
    speed_row,
)

QUALITY_COLUMNS = (
    "lead",
    "judged",
    "accepted",
    "rejected",
    "recycled",
    "won",
    "rating_sum",
    "rating_count",
)


def _group_value(row: Any) -> str | None:
    return row.group or None


def _with_group(group_by: str | None, value: Any, body: dict[str, Any]) -> dict[str, Any]:
    return {group_by: value, **body} if group_by else body


async def funnel(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> list[dict[str, Any]]:
    steps = [step.value for step in Step]
    sums = await repository.segment_sums(session, since, until, group_by, steps)
    return [
        _with_group(
            group_by, _group_value(row) if group_by else None, funnel_row(_counts(row, steps))
        )
        for row in sums
    ]


async def quality(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> list[dict[str, Any]]:
    sums = await repository.segment_sums(session, since, until, group_by, QUALITY_COLUMNS)
    reasons: dict[Any, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in await repository.reason_sums(session, since, until, group_by):
        key = row.group if group_by else None
        reasons[key][row.verdict][row.reason_code] = int(row.leads)
    revenue: dict[Any, dict[str, Decimal]] = defaultdict(dict)
    for row in await repository.revenue_sums(session, since, until, group_by):
        key = row.group if group_by else None
        if row.amount:
            revenue[key][row.currency] = repository.as_decimal(row.amount)
    out = []
    for row in sums:
        key = row.group if group_by else None
        counts = _counts(row, QUALITY_COLUMNS)
        body = quality_row(counts, {v: dict(r) for v, r in reasons[key].items()}, revenue[key])
        out.append(_with_group(group_by, key or None, body))
    return out


async def speed(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> list[dict[str, Any]]:
    """p50/p90 of each span from the summed histograms (within 4.43 %), and SLA compliance."""
    sla = await repository.segment_sums(session, since, until, group_by, ("sla_met", "sla_missed"))
    buckets: dict[Any, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in await repository.speed_buckets(session, since, until, group_by):
        key = row.group if group_by else None
        buckets[key][row.metric][row.bucket] = int(row.leads)
    out = []
    for row in sla:
        key = row.group if group_by else None
        body: dict[str, Any] = {
            metric: speed_row(buckets[key].get(metric, {})) for metric in SPEED_METRICS
        }
        body.update(sla_row(int(row.sla_met or 0), int(row.sla_missed or 0)))
        out.append(_with_group(group_by, key or None, body))
    return out


async def capacity(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> list[dict[str, Any]]:
    """Per day: MQLs, the threshold in force, and each team's (or all teams') latest capacity."""
    flows = {row.day: row for row in await repository.flow(session, since, until)}
    teams: dict[date, list[Any]] = defaultdict(list)
    for row in await repository.capacity(session, since, until):
        teams[row.day].append(row)
    out = []
    for day in sorted(set(flows) | set(teams)):
        flow = flows.get(day)
        mqls = int(flow.mqls) if flow else 0
        threshold = {
            "min": flow.threshold_min if flow else None,
            "max": flow.threshold_max if flow else None,
            "last": flow.threshold_last if flow else None,
        }
        reports = teams.get(day, [])
        if group_by == "team":
            for team in reports or [None]:
                out.append(
                    {
                        "day": day.isoformat(),
                        "team": team.team_id if team else None,
                        **_team(team),
                        "threshold": threshold,
                        "mqls_all_teams": mqls,
                    }
                )
            continue
        total = sum(team.total_capacity for team in reports) if reports else None
        queue = sum(team.queue_length for team in reports) if reports else None
        out.append(
            {
                "day": day.isoformat(),
                **flow_row(mqls, total, queue),
                "free_slots": sum(team.free_slots for team in reports) if reports else None,
                "queue_max": sum(team.queue_max for team in reports) if reports else None,
                "threshold": threshold,
            }
        )
    return out


def _team(team: Any) -> dict[str, Any]:
    names = (
        "reps_available",
        "total_capacity",
        "open_load",
        "free_slots",
        "queue_length",
        "queue_max",
    )
    return {name: getattr(team, name) if team else None for name in names}


def _counts(row: Any, columns: Sequence[str]) -> dict[str, int]:
    return {name: int(getattr(row, name) or 0) for name in columns}


REPORTS = {"funnel": funnel, "quality": quality, "speed": speed, "capacity": capacity}
