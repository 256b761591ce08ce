"""Scoring's use cases: one table of the events it consumes, the periodic jobs, and the model
commands (in `models`)."""

from services.scoring.handlers.backtests import run_backtests
from services.scoring.handlers.capacity import record_capacity
from services.scoring.handlers.drift import refresh_drift
from services.scoring.handlers.leads import erase, record_activity, record_capture
from services.scoring.handlers.rescoring import rescore, sweep_decay
from services.scoring.handlers.verdicts import apply_feedback, apply_return
from shared.events import (
    Envelope,
    LeadActivityEvent,
    LeadCapturedEvent,
    LeadErasedEvent,
    LeadFeedbackEvent,
    LeadReturnedEvent,
    SalesCapacityEvent,
)
from shared.jobs import Job
from shared.uow import Handler, UnitOfWork

HANDLERS: dict[type[Envelope], Handler] = {
    LeadCapturedEvent: record_capture,
    LeadActivityEvent: record_activity,
    LeadFeedbackEvent: apply_feedback,
    LeadReturnedEvent: apply_return,
    SalesCapacityEvent: record_capacity,
    LeadErasedEvent: erase,
}


async def _sweep(uow: UnitOfWork) -> None:
    await sweep_decay(uow)


async def _rescore(uow: UnitOfWork) -> None:
    await rescore(uow)


async def _backtest(uow: UnitOfWork) -> None:
    await run_backtests(uow)


JOBS = [
    Job("backtest", 1.0, _backtest),
    Job("drift", 300.0, refresh_drift),
    Job("decay-sweep", 300.0, _sweep),
    Job("rescore-after-activation", 2.0, _rescore),
]
