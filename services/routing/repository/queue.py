"""SQL about the queue: SQLs waiting for a rep, served highest score first, then oldest."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.repository.rows import QueueStats
from services.routing.repository.tables import Queries, queue_t


class QueueQueries(Queries):
    async def enqueue(self, **values: Any) -> None:
        statement = pg_insert(queue_t).values(**values)
        refreshed = {k: statement.excluded[k] for k in values if k not in ("lead_id",)}
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["lead_id"], set_=refreshed)
        )

    async def queue_position(self, lead_id: uuid.UUID) -> int | None:
        query = text(
            "SELECT count(*) + 1 FROM routing.queue q, routing.queue me"
            " WHERE me.lead_id = :lead AND q.team_id IS NOT DISTINCT FROM me.team_id"
            " AND (q.score > me.score OR (q.score = me.score AND"
            " (q.queued_at, q.lead_id) < (me.queued_at, me.lead_id)))"
        )
        if not await self.queued(lead_id):
            return None
        return int((await self.session.execute(query, {"lead": lead_id})).scalar_one())

    async def queued(self, lead_id: uuid.UUID) -> Row[Any] | None:
        rows = await self._rows(select(queue_t).where(queue_t.c.lead_id == lead_id))
        return rows[0] if rows else None

    async def queued_among(self, lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
        rows = await self._rows(select(queue_t).where(queue_t.c.lead_id.in_(lead_ids)))
        return {row.lead_id: row for row in rows}

    async def dequeue(self, lead_id: uuid.UUID) -> None:
        await self.session.execute(delete(queue_t).where(queue_t.c.lead_id == lead_id))

    async def next_in_queue(self, team_id: str, limit: int) -> list[Row[Any]]:
        """The team's queue head, fair order; rows another drain holds are skipped."""
        query = (
            select(queue_t)
            .where(queue_t.c.team_id == team_id)
            .order_by(queue_t.c.score.desc(), queue_t.c.queued_at, queue_t.c.lead_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._rows(query)

    async def queue(self, team_id: str | None, limit: int, offset: int) -> list[Row[Any]]:
        query = select(queue_t)
        if team_id is not None:
            query = query.where(queue_t.c.team_id == team_id)
        query = query.order_by(
            queue_t.c.team_id, queue_t.c.score.desc(), queue_t.c.queued_at, queue_t.c.lead_id
        )
        return await self._rows(query.limit(limit).offset(offset))

    async def queue_stats(self) -> dict[str | None, QueueStats]:
        query = select(queue_t.c.team_id, func.count(), func.min(queue_t.c.queued_at)).group_by(
            queue_t.c.team_id
        )
        return {team: QueueStats(n, oldest) for team, n, oldest in await self._rows(query)}

    async def without_team(self, limit: int) -> list[Row[Any]]:
        """Queued leads no rule matched when they came (and no fallback team existed)."""
        query = (
            select(queue_t)
            .where(queue_t.c.team_id.is_(None))
            .order_by(queue_t.c.score.desc(), queue_t.c.queued_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._rows(query)

    async def queue_for(self, lead_id: uuid.UUID, team_id: str, rule: str) -> None:
        statement = (
            update(queue_t).where(queue_t.c.lead_id == lead_id).values(team_id=team_id, rule=rule)
        )
        await self.session.execute(statement)
