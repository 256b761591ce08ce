"""The MQL threshold in force, where it comes from, and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.scoring import repository as repo
from services.scoring.domain.threshold import released_since
from services.scoring.handlers.qualify import threshold_in_force
from services.scoring.schemas.threshold import TeamOut, ThresholdOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.problems import NotFound
from shared.service import SessionDep

router = APIRouter(prefix="/v1", tags=["threshold"])
Reader = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales, Role.crm))]
ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorBody} for c in (401, 403, 404)}


@router.get("/threshold", responses=ERRORS)
async def threshold(session: SessionDep, _: Reader) -> ThresholdOut:
    """Floor, base, ceiling, the effective threshold, free slots k, the held count, the capacity
    state it came from and a one-line reason (see docs/scoring.md)."""
    model = await repo.active_model(session)
    if model is None:
        raise NotFound.of("no scoring model is active", "model", "activate one first")
    capacity = await repo.capacity(session, lock=False)
    t = await threshold_in_force(session, model, capacity)
    ledger = await repo.ledger(session)
    return ThresholdOut(
        floor=model.threshold.floor,
        base=model.threshold.base,
        ceiling=model.threshold.ceiling,
        effective=t.effective,
        free_slots=t.free_slots,
        held=t.held,
        released_since_capacity=released_since(capacity.team_slots(), capacity.released_total),
        capacity_team=ledger.team_id,
        capacity_published_at=ledger.published_at,
        capacity_received_at=ledger.received_at,
        teams=[TeamOut(**row._mapping) for row in await repo.team_states(session)],
        model_version=model.version,
        reason=t.reason,
    )
