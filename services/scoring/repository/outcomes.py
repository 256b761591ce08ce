"""Outcomes, the labels learning reads: one row per judged lead, written at each verdict, unlinked
from the person at erasure, read per model version (calibration) and by time (drift)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Text, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.outcomes import Outcome
from services.scoring.models import outcomes


async def record_outcome(
    session: AsyncSession,
    lead: Row[Any],
    stage: str,
    reason: str | None,
    value: Decimal | None,
    at: datetime,
) -> None:
    """One row per lead: the score and rules of the first verdict stay, the latest stage wins."""
    fired = sorted({f["rule"] for f in lead.explanation or []})
    statement = insert(outcomes).values(
        id=uuid.uuid4(),
        lead_id=lead.lead_id,
        model_version=lead.model_version,
        fired=fired,
        total=lead.total,
        grade=lead.grade,
        mql=lead.qualifications > 0,
        source=lead.source,
        utm_campaign=lead.utm_campaign,
        stage=stage,
        reason=reason,
        value=value,
        occurred_at=at,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[outcomes.c.lead_id],
            set_={
                "stage": excluded.stage,
                "reason": excluded.reason,
                "value": excluded.value,
                "occurred_at": excluded.occurred_at,
            },
            where=outcomes.c.occurred_at <= excluded.occurred_at,
        )
    )


async def unlink_outcome(session: AsyncSession, lead_id: uuid.UUID) -> None:
    """Erasure: the outcome still counts, but its lead id goes and its time is cut to the day."""
    await session.execute(
        update(outcomes)
        .where(outcomes.c.lead_id == lead_id)
        .values(lead_id=None, occurred_at=func.date_trunc("day", outcomes.c.occurred_at))
    )


async def outcomes_of(session: AsyncSession, version: str) -> list[Outcome]:
    """Every outcome of the version. The rules fired come as text and are parsed once per distinct
    set (a model has few): half the cost of decoding 100,000 JSON arrays."""
    o = outcomes.c
    query = select(cast(o.fired, Text), o.total, o.grade, o.stage, o.occurred_at).where(
        o.model_version == version
    )
    sets: dict[str, frozenset[str]] = {}
    out = []
    for fired, total, grade, stage, at in (await session.execute(query)).all():
        rules = sets.get(fired)
        if rules is None:
            rules = sets[fired] = frozenset(json.loads(fired))
        out.append(Outcome(rules, total, grade, stage, at))
    return out


async def recent_outcomes(session: AsyncSession, since: datetime) -> Sequence[Any]:
    o = outcomes.c
    query = select(o.source, o.utm_campaign, o.occurred_at, o.total, o.stage)
    return (await session.execute(query.where(o.occurred_at >= since))).all()
