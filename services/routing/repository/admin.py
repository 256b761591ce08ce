"""SQL of the organisation's administration: settings written in bulk (live columns left as
they are), and teams, reps and rules read back as stored."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.repository.tables import Queries, reps_t, rules_t, teams_t


class AdminQueries(Queries):
    async def upsert(self, table: Any, rows: Sequence[dict[str, Any]], key: str) -> None:
        """Insert or update settings rows, one statement for all; live columns (load, turn) are
        left as they are, `updated_at` moves."""
        if not rows:
            return
        statement = pg_insert(table)
        changed: dict[str, Any] = {k: statement.excluded[k] for k in rows[0] if k != key}
        changed["updated_at"] = func.now()
        upsert = statement.on_conflict_do_update(index_elements=[key], set_=changed)
        await self.session.execute(upsert, list(rows))

    async def replace_rules(self, rows: Iterable[dict[str, Any]]) -> None:
        await self.session.execute(delete(rules_t))
        rows = list(rows)
        if rows:
            await self.session.execute(insert(rules_t), rows)

    async def clear_fallback(self) -> None:
        await self.session.execute(update(teams_t).where(teams_t.c.fallback).values(fallback=False))

    async def team_ids(self) -> set[str]:
        return {r.id for r in await self._rows(select(teams_t.c.id))}

    async def rep_rows(self, team_id: str | None = None) -> list[Row[Any]]:
        query = select(reps_t).order_by(reps_t.c.id)
        if team_id is not None:
            query = query.where(reps_t.c.team_id == team_id)
        return await self._rows(query)

    async def rule_rows(self) -> list[Row[Any]]:
        return await self._rows(select(rules_t).order_by(rules_t.c.position))

    async def team_rows(self) -> list[Row[Any]]:
        return await self._rows(select(teams_t).order_by(teams_t.c.id))
