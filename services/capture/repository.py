"""All of capture's SQL."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture.models import Lead, LeadChange


async def lock_lead_by_identity(session: AsyncSession, identity: str) -> Lead | None:
    return await session.scalar(
        select(Lead).where(Lead.email_identity == identity).with_for_update())


async def lead_by_id(session: AsyncSession, lead_id: uuid.UUID, *, lock: bool = False) -> Lead | None:
    query = select(Lead).where(Lead.id == lead_id)
    return await session.scalar(query.with_for_update() if lock else query)


async def insert_lead_if_new(session: AsyncSession, values: dict) -> bool:
    """Insert unless a lead with the same identity exists (also one committed a moment ago)."""
    inserted = await session.scalar(
        insert(Lead).values(**values)
        .on_conflict_do_nothing(index_elements=[Lead.email_identity]).returning(Lead.id))
    return inserted is not None


async def record_change(session: AsyncSession, lead_id: uuid.UUID, source: str,
                        changes: dict) -> None:
    session.add(LeadChange(lead_id=lead_id, source=source, changes=changes))
