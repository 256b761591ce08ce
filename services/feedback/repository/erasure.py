"""Erasure's SQL: the person leaves the read model, and stays out of it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import erased_leads, leads, timeline


async def is_erased(session: AsyncSession, lead_id: uuid.UUID) -> bool:
    found = await session.execute(
        select(erased_leads.c.lead_id).where(erased_leads.c.lead_id == lead_id)
    )
    return found.first() is not None


async def erase(session: AsyncSession, lead_id: uuid.UUID, at: datetime) -> None:
    """The person leaves the read model; the lead's facts (no personal data) stay for reports."""
    await session.execute(
        insert(erased_leads).values(lead_id=lead_id, erased_at=at).on_conflict_do_nothing()
    )
    await session.execute(delete(timeline).where(timeline.c.lead_id == lead_id))
    await session.execute(delete(leads).where(leads.c.lead_id == lead_id))
