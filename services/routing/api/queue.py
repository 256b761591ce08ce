"""The queue: SQLs waiting for a rep with room, in the order they will be served."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from services.routing.api.deps import ERRORS, Limit, Offset, Reader
from services.routing.repository import Repository
from services.routing.schemas.queue import QueuedOut, QueuePage
from shared.service import SessionDep

router = APIRouter(prefix="/v1/queue", tags=["queue"], responses=ERRORS)


@router.get("")
async def list_queue(
    session: SessionDep,
    _: Reader,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> QueuePage:
    """Per team, highest score first, then oldest."""
    now = datetime.now(UTC)
    rows = await Repository(session).queue(team_id, limit + 1, offset)
    items = [
        QueuedOut(
            lead_id=r.lead_id,
            team_id=r.team_id,
            rule=r.rule,
            score=r.score,
            grade=r.lead.get("grade", ""),
            reason=r.reason,
            queued_at=r.queued_at,
            waited_s=max(0.0, (now - r.queued_at).total_seconds()),
        )
        for r in rows[:limit]
    ]
    next_offset = offset + limit if len(rows) > limit else None
    return QueuePage(items=items, limit=limit, offset=offset, next_offset=next_offset)
