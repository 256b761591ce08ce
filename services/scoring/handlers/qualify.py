"""Score a lead, place it against the capacity-following threshold, and release MQLs.

The rule itself is in `services.scoring.domain.threshold`; the pure steps that meet the lead row
are in `handlers.placement`, the events in `handlers.events`, the releases in `handlers.release`.
Lead row first, then the ledger (see `repository`): one order, no deadlocks.

`evaluate` does it for one lead, with a few statements; `handlers.intake` for a batch of
lead.captured.v1 / lead.activity.v1 events at once, in memory between one read and one write.
Both decide with the same pure steps (`place`, `changes`, `outcomes`, `to_release`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.document import ScoringModel
from services.scoring.domain.scoring import Score, score_lead
from services.scoring.domain.threshold import Threshold, effective_threshold, free_slots
from services.scoring.handlers.events import outcomes
from services.scoring.handlers.placement import changes, contends, place, top_needed
from services.scoring.handlers.release import release_best
from shared.events import Envelope
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


async def evaluate(
    uow: UnitOfWork,
    lead_id: uuid.UUID,
    now: datetime,
    cause: Envelope | None = None,
    model: ScoringModel | None = None,
    row: Row[Any] | None = None,
) -> Score | None:
    """Rescore one lead and act on it; nothing happens while no model is active. `row` is the
    lead's row when the caller has locked it already. (`handlers.intake` does the same for a
    batch of leads, with the same `place`, `changes`, `outcomes` and `to_release`.)"""
    session = uow.session
    model = model or await repo.active_model(session)
    if model is None:
        return None
    row = row or await repo.lock_lead(session, lead_id)
    if row is None or row.state == "erased":
        return None
    acts = await repo.activities_of(session, lead_id, row.engagement_since)
    score = score_lead(model, repo.profile_of(row), acts, now)
    policy = model.threshold
    # the lead's row, then the ledger (locked when the lead may take a slot)
    capacity = await repo.capacity(session, lock=contends(policy, row, score, now))
    k = free_slots(capacity.team_slots(), capacity.released_total)
    wanted = top_needed(k, capacity.held)
    placed = place(
        policy, row, score, now, k, await repo.held_leads(session, wanted) if wanted else []
    )
    await repo.change_lead(session, lead_id, **changes(row, score, placed, now))
    for event in outcomes(row, score, placed, cause):
        await uow.publish(event)
    if placed.becomes_mql:  # it reached the bar itself: it takes a slot like any release
        released = capacity.released_total + 1
        await repo.change_ledger(session, released_total=released)
        log.info("lead is an MQL", extra={"lead_id": str(lead_id), "score": score.total})
        capacity = replace(capacity, released_total=released)
    if placed.contends and placed.state in ("held", "mql"):
        await release_best(uow, model, now, cause, capacity)
    return score


async def threshold_in_force(
    session: AsyncSession, model: ScoringModel, capacity: repo.CapacityState | None = None
) -> Threshold:
    capacity = capacity or await repo.capacity(session, lock=False)
    k = free_slots(capacity.team_slots(), capacity.released_total)
    wanted = top_needed(k, capacity.held)
    top = await repo.held_leads(session, wanted) if wanted else []
    threshold = effective_threshold(model.threshold, k, top)
    # only the best k were read: the count is of them all
    return replace(threshold, held=capacity.held)
