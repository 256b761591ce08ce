"""Why a lead went where it went."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.routing.api.assignments import assignment_out
from services.routing.api.deps import ERRORS, Reader
from services.routing.repository import Repository
from services.routing.schemas.leads import RoutingOut
from shared.problems import NotFound
from shared.service import SessionDep

router = APIRouter(prefix="/v1/leads", tags=["routing"], responses=ERRORS)


@router.get("/{lead_id}/routing")
async def lead_routing(lead_id: uuid.UUID, session: SessionDep, _: Reader) -> RoutingOut:
    """The criteria verdict, the rule, the strategy, every candidate and why others were skipped."""
    repo = Repository(session)
    decision = await repo.decision(lead_id)
    if decision is None:
        raise NotFound.of("routing has not seen this lead", "lead_id", "no routing decision")
    return RoutingOut(
        lead_id=lead_id,
        outcome=decision.outcome,
        decided_at=decision.decided_at,
        criteria_version=decision.criteria_version,
        explanation=decision.explanation,
        queue_position=await repo.queue_position(lead_id),
        assignments=[assignment_out(r) for r in await repo.lead_assignments(lead_id)],
    )
