"""The timeline's SQL: each event's line on its lead's timeline, and reading them back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.domain.timeline import Entry
from services.feedback.models import timeline
from shared.events import Envelope

_ADD_TO_TIMELINE = insert(timeline).on_conflict_do_nothing().returning(timeline.c.id)


async def add_to_timeline(session: AsyncSession, lines: Sequence[tuple[Envelope, Entry]]) -> None:
    """Each event's line on its lead's timeline, in the given order (it breaks ties between
    lines of the same instant), in one statement; an event already there is left as it is."""
    if lines:
        await session.execute(
            _ADD_TO_TIMELINE,
            [
                {
                    "event_id": event.event_id,
                    "lead_id": event.lead_id,
                    "occurred_at": event.occurred_at,
                    "event_type": event.event_type,
                    "actor": entry.actor[:300],
                    "summary": entry.summary,
                    "detail": entry.detail,
                }
                for event, entry in lines
            ],
        )


async def events_of(session: AsyncSession, lead_id: uuid.UUID) -> Sequence[Any]:
    query = (
        select(timeline)
        .where(timeline.c.lead_id == lead_id)
        .order_by(timeline.c.occurred_at, timeline.c.id)
    )
    return (await session.execute(query)).all()
