"""Drift: how well the score separates good leads from bad this month against last, per source
and per UTM campaign, refreshed by a job into Prometheus gauges. The decision is `domain.drift`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.drift import Drift, drift, month_start
from services.scoring.domain.outcomes import GOOD
from shared.uow import UnitOfWork

SEPARATION = Gauge(
    "handoff_scoring_separation_auc",
    "ROC AUC of the score at verdict time, per source / UTM campaign and month.",
    ["dimension", "key", "month"],
)
DEGRADED = Gauge(
    "handoff_scoring_separation_degraded",
    "1 when this month's AUC fell more than the drift margin below last month's.",
    ["dimension", "key"],
)


async def drifts(session: AsyncSession) -> list[Drift]:
    """This month against last, per source and per campaign; the gauges follow."""
    at = datetime.now(UTC)
    since = month_start(month_start(at) - timedelta(days=1))
    rows = await repo.recent_outcomes(session, since)
    found = drift("source", ((r.source, r.occurred_at, r.total, r.stage in GOOD) for r in rows), at)
    found += drift(
        "utm_campaign",
        ((r.utm_campaign, r.occurred_at, r.total, r.stage in GOOD) for r in rows),
        at,
    )
    for d in found:
        for month, value in (("this", d.this_month), ("last", d.last_month)):
            if value is not None:
                SEPARATION.labels(d.dimension, d.key, month).set(value)
        DEGRADED.labels(d.dimension, d.key).set(1.0 if d.degraded else 0.0)
    return found


async def refresh_drift(uow: UnitOfWork) -> None:
    await drifts(uow.session)
