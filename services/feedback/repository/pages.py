"""The pages' own reads: a rep's open leads, and why each scored what it did."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import lead_facts, leads, timeline

INBOX_LIMIT = 200


async def rep_leads(session: AsyncSession, rep: str, stages: Iterable[str]) -> Sequence[Any]:
    """The rep's leads in `stages`, the most urgent follow-up first; erased people are not
    listed."""
    person = [column for column in leads.c if column.name != "lead_id"]
    query = (
        select(lead_facts, *person)
        .select_from(lead_facts.join(leads, leads.c.lead_id == lead_facts.c.lead_id))
        .where(lead_facts.c.rep == rep, lead_facts.c.stage.in_(list(stages)))
        .order_by(lead_facts.c.sla_due.asc().nulls_last(), lead_facts.c.lead_id)
        .limit(INBOX_LIMIT)
    )
    return (await session.execute(query)).all()


async def latest_scores(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Each lead's latest lead.scored payload (its explanation), by lead."""
    if not lead_ids:
        return {}
    query = (
        select(timeline.c.lead_id, timeline.c.detail)
        .ext(distinct_on(timeline.c.lead_id))
        .where(timeline.c.lead_id.in_(lead_ids), timeline.c.event_type == "lead.scored")
        .order_by(timeline.c.lead_id, timeline.c.occurred_at.desc(), timeline.c.id.desc())
    )
    return {row.lead_id: row.detail for row in (await session.execute(query)).all()}
