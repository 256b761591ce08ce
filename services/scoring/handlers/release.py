"""Release held leads as MQLs: the best held leads up to the free slots k, best first, after a
lead moved (`qualify.evaluate`) and when sales capacity arrives (`capacity.record_capacity`)."""

from __future__ import annotations

import logging
from datetime import datetime

from services.scoring import repository as repo
from services.scoring.domain.document import ScoringModel, ThresholdPolicy
from services.scoring.domain.threshold import Held, effective_threshold, free_slots, releases
from services.scoring.handlers.events import mql_event
from shared.events import Envelope
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


async def release_best(
    uow: UnitOfWork,
    model: ScoringModel,
    now: datetime,
    cause: Envelope | None,
    capacity: repo.CapacityState | None = None,
) -> int:
    """Release the best held leads up to k, best first. `capacity` is given when the caller
    holds the ledger already; otherwise it is taken here."""
    session = uow.session
    capacity = capacity or await repo.capacity(session, lock=True)
    k = free_slots(capacity.team_slots(), capacity.released_total)
    if k is None or k <= 0:
        return 0
    best = await repo.best_held(session, k, model.threshold.floor)
    chosen, threshold = to_release(model.threshold, k, best)
    released = await repo.release(session, [h.lead_id for h in chosen], now)
    by_id = {row.lead_id: row for row in released}
    for held in chosen:  # best first
        if (row := by_id.get(held.lead_id)) is not None:
            await uow.publish(
                mql_event(row, row.total, row.grade, row.model_version, threshold, cause)
            )
            log.info("held lead released as an MQL", extra={"lead_id": str(row.lead_id)})
    if released:
        await repo.change_ledger(session, released_total=capacity.released_total + len(released))
    return len(released)


def to_release(policy: ThresholdPolicy, k: int | None, best: list[Held]) -> tuple[list[Held], int]:
    """The held leads to release now, best first (from the best k held at or above the floor),
    and the threshold their lead.mql.v1 carries. (Pure: the batch path uses it too.)"""
    return releases(best, k), effective_threshold(policy, k, best).effective
