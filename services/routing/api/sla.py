"""The SLA report: how reps and teams keep their follow-up deadlines."""

from __future__ import annotations

from fastapi import APIRouter

from services.routing.api.deps import ERRORS, Reader
from services.routing.repository import Repository
from services.routing.schemas.sla import SlaRow
from shared.service import SessionDep

router = APIRouter(prefix="/v1", tags=["sla"], responses=ERRORS)


@router.get("/sla")
async def sla_report(session: SessionDep, _: Reader) -> list[SlaRow]:
    """Per team and rep: verdicts on time, breaches, on-time rate, mean time to first verdict."""
    result = []
    for r in await Repository(session).sla_report():
        judged = r.on_time + r.breaches
        result.append(
            SlaRow(
                team_id=r.team_id,
                rep_id=r.rep_id,
                on_time=r.on_time,
                breaches=r.breaches,
                on_time_rate=round(r.on_time / judged, 4) if judged else None,
                mean_time_to_first_verdict_s=(
                    None if r.mean_to_verdict_s is None else round(float(r.mean_to_verdict_s), 1)
                ),
            )
        )
    return result
