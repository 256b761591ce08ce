"""Sales capacity, the release ledger and the held leads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.threshold import Held, TeamSlots
from services.scoring.models import (
    capacity_ledger,
    leads,
    team_capacity,
)


@dataclass(frozen=True)
class CapacityState:
    """The ledger and every team's latest state, summed, read in one statement."""

    released_total: int
    teams: int
    slots: int  # Σ free_slots − Σ queue_length
    oldest_mark: int
    held: int

    def team_slots(self) -> list[TeamSlots]:
        """The teams as one: k is the same (see `domain.threshold.free_slots`)."""
        return [TeamSlots(self.slots, 0, self.oldest_mark)] if self.teams else []


async def capacity(session: AsyncSession, *, lock: bool) -> CapacityState:
    """With `lock`, the ledger row stays locked until the transaction ends."""
    t = team_capacity.c
    query = select(
        capacity_ledger.c.released_total,
        select(func.count()).select_from(team_capacity).scalar_subquery(),
        select(func.coalesce(func.sum(t.free_slots - t.queue_length), 0)).scalar_subquery(),
        select(func.coalesce(func.min(t.released_mark), 0)).scalar_subquery(),
        select(func.count()).where(leads.c.state == "held").scalar_subquery(),
    )
    row = (
        await session.execute(query.with_for_update(of=capacity_ledger) if lock else query)
    ).one()
    return CapacityState(*(int(value) for value in row))


async def ledger(session: AsyncSession) -> Row[Any]:
    return (await session.execute(select(capacity_ledger))).one()


async def save_team(session: AsyncSession, event_id: uuid.UUID, at: datetime, **state: Any) -> bool:
    """Keep a team's newest state; False when a newer one is already kept."""
    statement = insert(team_capacity).values(event_id=event_id, published_at=at, **state)
    saved = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[team_capacity.c.team_id],
            set_={**state, "event_id": event_id, "published_at": at},
            where=team_capacity.c.published_at <= at,
        ).returning(team_capacity.c.team_id)
    )
    return saved is not None


async def change_ledger(session: AsyncSession, **values: Any) -> None:
    await session.execute(update(capacity_ledger).values(**values))


async def held_leads(session: AsyncSession, limit: int | None = None) -> list[Held]:
    query = _held().limit(limit)
    return [Held(*row) for row in (await session.execute(query)).all()]


async def best_held(session: AsyncSession, limit: int, floor: int) -> list[Held]:
    """The best held leads not locked by another transaction (that one will release its own)."""
    query = _held().where(leads.c.total >= floor).limit(limit).with_for_update(skip_locked=True)
    return [Held(*row) for row in (await session.execute(query)).all()]


def _held() -> Select[Any]:
    return (
        select(leads.c.lead_id, leads.c.total, leads.c.held_since)
        .where(leads.c.state == "held")
        .order_by(leads.c.total.desc(), leads.c.held_since, leads.c.lead_id)
    )


async def release(
    session: AsyncSession, lead_ids: list[uuid.UUID], now: datetime
) -> list[Row[Any]]:
    """Held -> MQL, conditionally: a lead already released by anyone is not released again."""
    statement = (
        update(leads)
        .where(leads.c.lead_id.in_(lead_ids), leads.c.state == "held")
        .values(state="mql", mql_at=now, qualifications=leads.c.qualifications + 1)
        .returning(leads)
    )
    return list((await session.execute(statement)).all())


async def team_states(session: AsyncSession) -> Sequence[Row[Any, Any, Any, Any]]:
    t = team_capacity.c
    query = select(t.team_id, t.free_slots, t.queue_length, t.published_at).order_by(t.team_id)
    return (await session.execute(query)).all()
