"""A lead's score, explained."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.scoring import repository as repo
from services.scoring.handlers.leads import score_as_of
from services.scoring.handlers.placement import explain
from services.scoring.handlers.qualify import threshold_in_force
from services.scoring.schemas.leads import LeadScoreOut, RuleOut, ScoreNowOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.problems import NotFound
from shared.service import SessionDep

router = APIRouter(prefix="/v1/leads", tags=["scores"])
Reader = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales, Role.crm))]
ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorBody} for c in (401, 403, 404, 422)}


@router.get("/{lead_id}/score", responses=ERRORS)
async def lead_score(lead_id: uuid.UUID, session: SessionDep, _: Reader) -> LeadScoreOut:
    """Total, fit, engagement, grade, model version, the threshold in force, the lead's state and
    every rule that fired at the last scoring (`scored_at`) with its points (and, for engagement,
    its value decayed to `scored_at`); `now` gives the engagement decayed to this instant."""
    row = await repo.lead(session, lead_id)
    if row is None or row.state == "erased":
        raise NotFound.of(f"scoring knows no lead {lead_id}", "lead_id", "is unknown or erased")
    model = await repo.active_model(session)
    threshold = (await threshold_in_force(session, model)).effective if model else None
    at = datetime.now(UTC)
    current = await score_as_of(session, row, at)
    now = None
    if current is not None:
        engaged = [explain(f) for f in current.fired if f.kind == "engagement"]
        now = ScoreNowOut(
            at=at,
            total=current.total,
            engagement=current.engagement,
            rules=[RuleOut(**rule) for rule in engaged],
        )
    return LeadScoreOut(
        lead_id=str(lead_id),
        state=row.state,
        total=row.total,
        fit=row.fit,
        engagement=row.engagement,
        grade=row.grade,
        model_version=row.model_version,
        threshold=threshold,
        scored_at=row.scored_at,
        rules=[RuleOut(**rule) for rule in row.explanation or []],
        now=now,
        recycles=row.recycles,
        cooldown_until=row.cooldown_until,
    )
