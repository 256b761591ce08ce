"""SQL about assignments: one lead given to one rep, open until a verdict closes it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func, select, update

from services.routing.repository.held import held
from services.routing.repository.tables import OPEN, Queries, assignments_t


class AssignmentQueries(Queries):
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
        """Held, and written with the transaction's next statement or commit (`held`)."""
        held(self.session).assignments.append({"status": "assigned", **values})

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
