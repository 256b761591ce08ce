"""What a batch of MQLs reads once: the criteria and rules in force, and where its leads stood."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row

from services.routing.domain.criteria import Criteria
from services.routing.domain.rules import Rule
from services.routing.placement import Placer
from services.routing.repository import Repository
from shared.events import LeadMqlEvent


@dataclass(frozen=True)
class InForce:
    """What every MQL is judged and matched against: read once per batch of MQLs."""

    criteria: Criteria | None
    rules: list[Rule]
    fallback_team_id: str | None

    @classmethod
    async def read(cls, repo: Repository) -> InForce:
        return cls(*await repo.in_force())


@dataclass
class Batch:
    """Where the batch's leads stood when it began, read in two queries. A lead this
    transaction has touched since (met earlier in the batch, or placed by a queue drain) is
    read afresh."""

    assigned_before: set[uuid.UUID]
    queued_before: dict[uuid.UUID, Row[Any]]
    touched: set[uuid.UUID]
    drained: set[str] = field(default_factory=set)

    @classmethod
    async def read(cls, repo: Repository, events: list[LeadMqlEvent], placer: Placer) -> Batch:
        ids = [event.lead_id for event in events if event.lead_id is not None]
        assigned = await repo.with_open_assignment(ids)
        return cls(assigned, await repo.queued_among(ids), placer.touched)

    async def has_open_assignment(self, repo: Repository, lead_id: uuid.UUID) -> bool:
        if lead_id in self.touched:
            return await repo.open_assignment(lead_id) is not None
        return lead_id in self.assigned_before

    async def waiting(self, repo: Repository, lead_id: uuid.UUID) -> Row[Any] | None:
        if lead_id in self.touched:
            return await repo.queued(lead_id)
        return self.queued_before.get(lead_id)
