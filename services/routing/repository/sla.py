"""SQL about SLA deadlines: the due schedule, breaches, escalations, the SLA report."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.models import Escalation, SlaBreach
from services.routing.repository.tables import Queries, table_of

breaches_t, escalations_t = table_of(SlaBreach), table_of(Escalation)


class SlaQueries(Queries):
    async def overdue(self, limit: int) -> list[Row[Any]]:
        """Assignments past their deadline with no verdict, locked; those another instance
        holds are skipped, so each breach is handled once."""
        query = text(
            "SELECT * FROM routing.assignments WHERE status = 'assigned'"
            " AND follow_up_due <= now() ORDER BY follow_up_due LIMIT :limit"
            " FOR UPDATE SKIP LOCKED"
        )
        return await self._rows(query, {"limit": limit})

    async def close_breached(self, assignment_id: int) -> None:
        await self.session.execute(
            text(
                "UPDATE routing.assignments SET status = 'closed', verdict = 'sla_breached',"
                " closed_at = now() WHERE id = :id"
            ),
            {"id": assignment_id},
        )

    async def add_breach(self, **values: Any) -> None:
        await self.session.execute(insert(breaches_t).values(**values))

    async def escalate(self, **values: Any) -> None:
        statement = pg_insert(escalations_t).values(**values)
        await self.session.execute(statement.on_conflict_do_nothing(index_elements=["lead_id"]))

    async def escalation(self, lead_id: uuid.UUID) -> Row[Any] | None:
        rows = await self._rows(select(escalations_t).where(escalations_t.c.lead_id == lead_id))
        return rows[0] if rows else None

    async def refresh_shares(self) -> list[Row[Any]]:
        """Apply each team's record rule: a rep with `breach_limit` breaches or more within
        `breach_window_days` gets `breach_share`, everyone else 1. Only changed rows are
        written (a live column: the reps' settings cache is untouched)."""
        statement = text(
            "UPDATE routing.reps r SET share = s.share FROM ("
            " SELECT p.id, CASE WHEN t.breach_limit IS NOT NULL"
            "  AND count(b.id) >= t.breach_limit THEN t.breach_share ELSE 1.0 END AS share"
            " FROM routing.reps p JOIN routing.teams t ON t.id = p.team_id"
            " LEFT JOIN routing.sla_breaches b ON b.rep_id = p.id"
            "  AND b.breached_at > now() - make_interval(days => t.breach_window_days)"
            " GROUP BY p.id, t.breach_limit, t.breach_share) s"
            " WHERE r.id = s.id AND r.share IS DISTINCT FROM s.share"
            " RETURNING r.id, r.team_id, r.share"
        )
        return await self._rows(statement)

    async def rep_rows_by_id(self, rep_id: str) -> list[Row[Any]]:
        return await self._rows(text("SELECT * FROM routing.reps WHERE id = :id"), {"id": rep_id})

    async def breaches_in_window(self, rep_id: str, days: int) -> int:
        query = text(
            "SELECT count(*) FROM routing.sla_breaches WHERE rep_id = :rep"
            " AND breached_at > now() - make_interval(days => :days)"
        )
        return int((await self.session.execute(query, {"rep": rep_id, "days": days})).scalar_one())

    async def breaches(self, lead_id: uuid.UUID) -> list[Row[Any]]:
        query = select(breaches_t).where(breaches_t.c.lead_id == lead_id).order_by(breaches_t.c.id)
        return await self._rows(query)

    async def sla_report(self) -> list[Row[Any]]:
        """Per team and rep: assignments judged on time, breaches, and the mean seconds from
        assignment to the first verdict (over assignments that got one)."""
        query = text(
            "SELECT team_id, rep_id,"
            " count(*) FILTER (WHERE verdict IS NOT NULL AND verdict <> 'sla_breached'"
            "  AND verdict <> 'erased') AS on_time,"
            " count(*) FILTER (WHERE verdict = 'sla_breached') AS breaches,"
            " avg(EXTRACT(EPOCH FROM (closed_at - assigned_at)))"
            "  FILTER (WHERE verdict IS NOT NULL AND verdict NOT IN ('sla_breached', 'erased')"
            "  AND closed_at IS NOT NULL) AS mean_to_verdict_s"
            " FROM routing.assignments GROUP BY team_id, rep_id ORDER BY team_id, rep_id"
        )
        return await self._rows(query)
