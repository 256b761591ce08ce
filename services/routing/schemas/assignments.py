"""Assignments: one lead given to one rep, listed a page at a time."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class AssignmentOut(BaseModel):
    id: int
    lead_id: uuid.UUID
    rep_id: str
    team_id: str
    rule: str
    strategy: str
    attempt: int
    status: str = Field(examples=["assigned", "accepted", "closed"])
    verdict: str | None
    follow_up_due: datetime
    assigned_at: datetime
    closed_at: datetime | None


class AssignmentPage(BaseModel):
    items: list[AssignmentOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")
