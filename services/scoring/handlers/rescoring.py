"""Scoring's periodic rescoring: leads whose engagement decayed, and leads not yet scored with the
model just activated; a bounded batch per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.scoring import repository as repo
from services.scoring.handlers.qualify import evaluate
from shared.uow import UnitOfWork

DECAY_BATCH = 200  # leads re-evaluated per sweep: bounded work per run
DECAY_STALE = timedelta(hours=1)  # a score this old is worth re-evaluating
RESCORE_BATCH = 200


def now() -> datetime:
    return datetime.now(UTC)


async def sweep_decay(uow: UnitOfWork, at: datetime | None = None) -> int:
    """Re-evaluate the leads whose engagement decayed longest ago, a bounded batch per run."""
    at = at or now()
    due = await repo.due_for_decay(uow.session, at - DECAY_STALE, DECAY_BATCH)
    model = await repo.active_model(uow.session)
    for lead_id in due:
        await evaluate(uow, lead_id, at, None, model)
    return len(due)


async def rescore(uow: UnitOfWork, at: datetime | None = None) -> int:
    """After an activation: rescore a bounded batch of leads not yet scored with the model."""
    model = await repo.active_model(uow.session)
    if model is None:
        return 0
    stale = await repo.not_scored_with(uow.session, model.version, RESCORE_BATCH)
    for lead_id in stale:
        await evaluate(uow, lead_id, at or now(), None, model)
    return len(stale)
