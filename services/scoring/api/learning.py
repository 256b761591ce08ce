"""What sales' verdicts taught: calibration, proposals into a draft, backtests, drift."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from services.scoring import repository as repo
from services.scoring.api.models import model_out
from services.scoring.domain.calibration import MIN_OUTCOMES
from services.scoring.domain.drift import DRIFT_MARGIN, DRIFT_MIN_PER_CLASS
from services.scoring.domain.outcomes import HALF_LIFE_DAYS
from services.scoring.domain.rates import Rate
from services.scoring.domain.reliability import Band
from services.scoring.handlers.backtests import RequestBacktest, request_backtest
from services.scoring.handlers.calibration import Propose, calibration, propose
from services.scoring.handlers.drift import drifts
from services.scoring.schemas.learning import (
    BacktestIn,
    BacktestOut,
    BandOut,
    CalibrationOut,
    DriftOut,
    DriftReport,
    ProposalIn,
    RateOut,
    RuleCalibrationOut,
)
from services.scoring.schemas.models import ModelOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.problems import NotFound
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


@router.post("/models/{version}/backtest", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS)
async def create_backtest(version: str, body: BacktestIn, uow: UowDep, who: Editor) -> BacktestOut:
    """Replay the stored leads created in [from, to) through this version and the active one, in
    the background; follow it at `GET /v1/backtests/{id}`."""
    backtest_id = await request_backtest(
        RequestBacktest(version, body.start, body.end, who.name), uow
    )
    return await backtest_out(uow.session, backtest_id)


@router.get("/backtests/{backtest_id}", responses=ERRORS)
async def get_backtest(backtest_id: uuid.UUID, session: SessionDep, _: Editor) -> BacktestOut:
    """Progress (`done` of `total` leads) and, once done, the result beside the active version."""
    return await backtest_out(session, backtest_id)


async def backtest_out(session: Any, backtest_id: uuid.UUID) -> BacktestOut:
    row = await repo.backtest(session, backtest_id)
    if row is None:
        raise NotFound.of(f"no backtest {backtest_id}", "backtest_id", "is unknown")
    return BacktestOut(
        id=str(row.id),
        version=row.version,
        baseline=row.baseline,
        range_from=row.range_from,
        range_to=row.range_to,
        status=row.status,
        done=row.done,
        total=row.total,
        result=row.result,
    )


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
