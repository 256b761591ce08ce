"""Backtests: how a model would have done on the stored leads, asked for and followed."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from services.scoring import repository as repo
from services.scoring.handlers.backtests import RequestBacktest, request_backtest
from services.scoring.schemas.backtests import BacktestIn, BacktestOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.problems import NotFound
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1", tags=["learning"])
Editor = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales))]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}


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
