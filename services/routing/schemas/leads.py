"""A lead's routing: the latest decision, its explanation, and the lead's assignments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.routing.schemas.assignments import AssignmentOut


class RoutingOut(BaseModel):
    lead_id: uuid.UUID
    outcome: str = Field(examples=["assigned", "queued", "returned"])
    decided_at: datetime
    criteria_version: int | None
    explanation: dict[str, Any] = Field(
        description="Criteria verdict, matched rule, strategy, every candidate and why each "
        "other one was skipped."
    )
    queue_position: int | None
    assignments: list[AssignmentOut]
