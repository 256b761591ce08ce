"""The queue: SQLs waiting for a rep, a page at a time in the order they will be served."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class QueuedOut(BaseModel):
    lead_id: uuid.UUID
    team_id: str | None
    rule: str
    score: int
    grade: str
    reason: str
    queued_at: datetime
    waited_s: float


class QueuePage(BaseModel):
    items: list[QueuedOut] = Field(description="Per team, in the order they will be served.")
    limit: int
    offset: int
    next_offset: int | None
