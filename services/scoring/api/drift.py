"""Drift: whether the score still separates good leads from bad, per source and campaign."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.scoring.domain.drift import DRIFT_MARGIN, DRIFT_MIN_PER_CLASS
from services.scoring.handlers.drift import drifts
from services.scoring.schemas.drift import DriftOut, DriftReport
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.service import SessionDep

router = APIRouter(prefix="/v1", tags=["learning"])
Editor = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales))]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}


@router.get("/drift", responses=ERRORS)
async def get_drift(session: SessionDep, _: Editor) -> DriftReport:
    """Per source and UTM campaign: this month's AUC against last month's, flagged when it fell
    by more than the margin (also the `handoff_scoring_separation_*` gauges)."""
    found = await drifts(session)
    return DriftReport(
        margin=DRIFT_MARGIN,
        minimum_per_class=DRIFT_MIN_PER_CLASS,
        items=[DriftOut(**d.__dict__) for d in found],
    )
