"""SQL about reps' slots: the capacity claim, its release, and the teams whose capacity changed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, insert, text, update

from services.routing.domain.org import Rep
from services.routing.repository.tables import PASSES_HELD, Queries, changes_t, reps_t


class CapacityQueries(Queries):
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
        result = await self.session.execute(statement, params, execution_options=PASSES_HELD)
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
