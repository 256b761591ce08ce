"""SQL about the work: the capacity claim, assignments, the queue, decisions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.domain.org import Rep
from services.routing.repository.rows import (
    OPEN,
    Queries,
    QueueStats,
    assignments_t,
    changes_t,
    decisions_t,
    queue_t,
    reps_t,
)


class WorkQueries(Queries):
    # ---- capacity ----------------------------------------------------------------------------

    async def claim(self, rep: Rep, today: date, clock: float | None) -> bool:
        """Take one slot of `rep` if they still have one; False when another decision won it.

        The WHERE clause re-checks capacity and daily cap on the row as it is now (PostgreSQL
        re-evaluates it after waiting for a concurrent update), so the load never passes the cap.
        """
        statement = text(
            "UPDATE routing.reps SET open_load = open_load + 1,"
            " assigned_today = CASE WHEN assigned_day = :today THEN assigned_today + 1 ELSE 1 END,"
            " assigned_day = :today,"
            # weighted round robin: one turn, counted from where the row is now
            " rr_pass = CASE WHEN CAST(:clock AS float8) IS NULL THEN rr_pass"
            " ELSE GREATEST(rr_pass, CAST(:clock AS float8)) + 1.0 / (weight * share) END"
            " WHERE id = :id AND active AND open_load < capacity"
            " AND (daily_cap IS NULL OR assigned_day IS DISTINCT FROM :today"
            " OR assigned_today < daily_cap)"
            " RETURNING id"
        )
        params = {"id": rep.id, "today": today, "clock": clock}
        result = await self.session.execute(statement, params)
        return result.scalar() is not None

    async def release(self, rep_id: str) -> str | None:
        """One slot back; the rep's team, or None if the rep is gone."""
        statement = (
            update(reps_t)
            .where(reps_t.c.id == rep_id)
            .values(open_load=func.greatest(reps_t.c.open_load - 1, 0))
            .returning(reps_t.c.team_id)
        )
        team_id: str | None = (await self.session.execute(statement)).scalar()
        return team_id

    async def capacity_changed(self, team_id: str | None) -> None:
        if team_id is not None:
            await self.session.execute(insert(changes_t).values(team_id=team_id))

    async def take_capacity_changes(self) -> set[str]:
        """Teams changed since the last publication; each change is taken by one instance."""
        statement = delete(changes_t).returning(changes_t.c.team_id)
        return {row.team_id for row in await self._rows(statement)}

    async def try_lock(self, name: str) -> bool:
        """A transaction-long advisory lock, or False at once if another holds it."""
        query = text("SELECT pg_try_advisory_xact_lock(hashtext(:name))")
        return bool((await self.session.execute(query, {"name": name})).scalar())

    # ---- assignments -------------------------------------------------------------------------

    async def open_assignment(self, lead_id: uuid.UUID) -> Row[Any] | None:
        query = select(assignments_t).where(
            assignments_t.c.lead_id == lead_id, assignments_t.c.status.in_(OPEN)
        )
        rows = await self._rows(query)
        return rows[0] if rows else None

    async def with_open_assignment(self, lead_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        query = select(assignments_t.c.lead_id).where(
            assignments_t.c.lead_id.in_(lead_ids), assignments_t.c.status.in_(OPEN)
        )
        return {row.lead_id for row in await self._rows(query)}

    async def add_assignment(self, **values: Any) -> None:
        await self.session.execute(insert(assignments_t).values(status="assigned", **values))

    async def set_assignment(
        self, lead_id: uuid.UUID, *, status: str, verdict: str
    ) -> Row[Any] | None:
        """Move the lead's open assignment on; the row before the change, or None."""
        closing = status == "closed"
        statement = (
            update(assignments_t)
            .where(assignments_t.c.lead_id == lead_id, assignments_t.c.status.in_(OPEN))
            .values(status=status, verdict=verdict, closed_at=func.now() if closing else None)
            .returning(assignments_t.c.rep_id, assignments_t.c.team_id)
        )
        rows = await self._rows(statement)
        return rows[0] if rows else None

    async def assignments(
        self,
        *,
        rep_id: str | None,
        team_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> list[Row[Any]]:
        query = select(assignments_t)
        if rep_id is not None:
            query = query.where(assignments_t.c.rep_id == rep_id)
        if team_id is not None:
            query = query.where(assignments_t.c.team_id == team_id)
        if status is not None:
            query = query.where(assignments_t.c.status == status)
        query = query.order_by(assignments_t.c.id.desc()).limit(limit).offset(offset)
        return await self._rows(query)

    async def lead_assignments(self, lead_id: uuid.UUID) -> list[Row[Any]]:
        query = (
            select(assignments_t)
            .where(assignments_t.c.lead_id == lead_id)
            .order_by(assignments_t.c.id)
        )
        return await self._rows(query)

    # ---- the queue ---------------------------------------------------------------------------

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

    # ---- decisions ---------------------------------------------------------------------------

    async def record_decision(
        self,
        lead_id: uuid.UUID,
        outcome: str,
        criteria_version: int | None,
        explanation: dict[str, Any],
    ) -> None:
        values = dict(
            lead_id=lead_id,
            outcome=outcome,
            criteria_version=criteria_version,
            explanation=explanation,
            decided_at=datetime.now(UTC),
        )
        statement = pg_insert(decisions_t).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["lead_id"],
                set_={k: statement.excluded[k] for k in values if k != "lead_id"},
            )
        )

    async def decision(self, lead_id: uuid.UUID) -> Row[Any] | None:
        rows = await self._rows(select(decisions_t).where(decisions_t.c.lead_id == lead_id))
        return rows[0] if rows else None

    async def forget_lead(self, lead_id: uuid.UUID) -> None:
        """Erasure: no profile or decision kept; assignments stay as counts, without domain."""
        await self.session.execute(delete(queue_t).where(queue_t.c.lead_id == lead_id))
        await self.session.execute(delete(decisions_t).where(decisions_t.c.lead_id == lead_id))
        await self.session.execute(
            update(assignments_t)
            .where(assignments_t.c.lead_id == lead_id)
            .values(company_domain=None, lead=None)
        )
