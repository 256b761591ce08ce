"""lead.feedback.v1 and lead.erased.v1: what keeps a lead in a rep's open load and what frees
the slot.

`accepted` keeps the lead in the rep's open load (the rep is working it: that is what capacity
counts); `rejected`, `recycled`, `lost`, `won` and `converted` close the rep's work on it and free
the slot (a converted lead is an opportunity in the CRM, no longer an open lead); a later verdict
on a closed assignment changes nothing. An erased lead frees its slot too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.routing.placement import Placer
from services.routing.repository import Repository
from shared.events import LeadErasedEvent, LeadFeedbackEvent, Verdict
from shared.uow import UnitOfWork

FREES_SLOT = frozenset(
    {Verdict.rejected, Verdict.recycled, Verdict.lost, Verdict.won, Verdict.converted}
)


async def apply_feedback(event: LeadFeedbackEvent, uow: UnitOfWork) -> None:
    """Sales' verdict: `accepted` marks the assignment; a closing verdict frees the slot, and
    the freed slot goes to the rep's team queue at once."""
    assert event.lead_id is not None
    repo, verdict = Repository(uow.session), event.payload.verdict
    if verdict is Verdict.accepted:
        await repo.set_assignment(event.lead_id, status="accepted", verdict=verdict.value)
        return
    if verdict not in FREES_SLOT:
        return
    closed = await repo.set_assignment(event.lead_id, status="closed", verdict=verdict.value)
    if closed is None:
        await _leave_queue(repo, event)
        return
    await _free_slot(uow, repo, closed.rep_id)


async def erase_lead(event: LeadErasedEvent, uow: UnitOfWork) -> None:
    """Erasure: the slot is freed, the lead leaves the queue, its profile and decision go."""
    assert event.lead_id is not None
    repo = Repository(uow.session)
    closed = await repo.set_assignment(event.lead_id, status="closed", verdict="erased")
    await _leave_queue(repo, event)
    await repo.forget_lead(event.lead_id)
    if closed is not None:
        await _free_slot(uow, repo, closed.rep_id)


async def _leave_queue(repo: Repository, event: LeadFeedbackEvent | LeadErasedEvent) -> None:
    assert event.lead_id is not None
    waiting = await repo.queued(event.lead_id)
    if waiting is not None:
        await repo.dequeue(event.lead_id)
        await repo.capacity_changed(waiting.team_id)


async def _free_slot(uow: UnitOfWork, repo: Repository, rep_id: str) -> None:
    team_id = await repo.release(rep_id)
    if team_id is not None:
        await repo.capacity_changed(team_id)
        await Placer(uow, datetime.now(UTC)).drain(team_id)
