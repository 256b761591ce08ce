"""What sales' verdicts say about a model's rules: its calibration, and its proposals made into a
new draft."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from services.scoring.api.models import model_out
from services.scoring.domain.calibration import MIN_OUTCOMES
from services.scoring.domain.outcomes import HALF_LIFE_DAYS
from services.scoring.domain.rates import Rate
from services.scoring.domain.reliability import Band
from services.scoring.handlers.calibration import Propose, calibration, propose
from services.scoring.schemas.calibration import (
    BandOut,
    CalibrationOut,
    ProposalIn,
    RateOut,
    RuleCalibrationOut,
)
from services.scoring.schemas.models import ModelOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1", tags=["learning"])
Editor = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales))]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}


@router.get("/models/{version}/calibration", responses=ERRORS)
async def get_calibration(version: str, session: SessionDep, _: Editor) -> CalibrationOut:
    """Per rule: outcomes behind it, acceptance and win rates with 95 % intervals and a proposed
    change (or why none); per grade and score band, the observed rates."""
    found = await calibration(session, version)
    return CalibrationOut(
        version=version,
        outcomes=found.outcomes,
        half_life_days=HALF_LIFE_DAYS,
        minimum_outcomes=MIN_OUTCOMES,
        points_per_logit=round(found.points_per_logit, 2),
        rules=[
            RuleCalibrationOut(
                rule=r.rule,
                points=r.points,
                outcomes=r.outcomes,
                acceptance=rate_out(r.acceptance),
                win=rate_out(r.win),
                good_when_fired=rate_out(r.good_when_fired),
                good_otherwise=rate_out(r.good_otherwise),
                proposed_points=r.proposed_points,
                change=r.change,
                note=r.note,
            )
            for r in found.rules
        ],
        grades=[band_out(b) for b in found.grades],
        score_bands=[band_out(b) for b in found.bands],
    )


def rate_out(rate: Rate) -> RateOut:
    low, high = rate.interval
    return RateOut(
        outcomes=rate.n, rate=round(rate.mean, 4), low=round(low, 4), high=round(high, 4)
    )


def band_out(band: Band) -> BandOut:
    return BandOut(band=band.key, acceptance=rate_out(band.acceptance), win=rate_out(band.win))


@router.post("/models/{version}/proposals", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_proposal(version: str, body: ProposalIn, uow: UowDep, who: Editor) -> ModelOut:
    """Turn the calibration's proposals (all, or the chosen rules) into a new draft; it still
    needs a marketing and a sales approval."""
    new_version = await propose(Propose(version, body.version, body.rules, who.name), uow)
    return await model_out(uow.session, new_version)
