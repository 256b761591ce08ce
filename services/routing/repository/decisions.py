"""SQL about decisions: the latest routing decision per lead with its explanation, and what
an erasure removes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, delete, select, update

from services.routing.repository.held import held
from services.routing.repository.tables import Queries, assignments_t, decisions_t, queue_t


class DecisionQueries(Queries):
    async def record_decision(
        self,
        lead_id: uuid.UUID,
        outcome: str,
        criteria_version: int | None,
        explanation: dict[str, Any],
    ) -> None:
        """The lead's latest decision; held, and written (upserted) with the transaction's next
        statement or commit (`held`)."""
        held(self.session).decisions[lead_id] = dict(
            lead_id=lead_id,
            outcome=outcome,
            criteria_version=criteria_version,
            explanation=explanation,
            decided_at=datetime.now(UTC),
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
