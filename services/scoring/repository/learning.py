"""Learning: outcomes (labels), capacity history, backtest jobs and the leads they replay."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Text, cast, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.evaluation import Recorded
from services.scoring.domain.learning import Outcome
from services.scoring.domain.scoring import Activity
from services.scoring.models import activities, backtests, capacity_history, leads, outcomes


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
