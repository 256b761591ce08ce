"""What scoring does with each event it consumes. Every handler is idempotent beyond the runner's
event-id check: profiles are upserts, releases are conditional, recycles key on the event."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.document import model_from_data
from services.scoring.domain.scoring import Score, score_lead
from services.scoring.domain.standing import FINAL, Standing, disqualifies, recycle
from services.scoring.handlers.intake import activity_of, captured_profile
from services.scoring.handlers.qualify import evaluate
from services.scoring.handlers.release import release_best
from shared.events import (
    Envelope,
    LeadActivityEvent,
    LeadCapturedEvent,
    LeadErasedEvent,
    LeadFeedbackEvent,
    LeadReturnedEvent,
    SalesCapacityEvent,
)
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

DECAY_BATCH = 200  # leads re-evaluated per sweep: bounded work per run
DECAY_STALE = timedelta(hours=1)  # a score this old is worth re-evaluating
RESCORE_BATCH = 200


def now() -> datetime:
    return datetime.now(UTC)


async def record_capture(event: LeadCapturedEvent, uow: UnitOfWork) -> None:
    lead_id = event.lead_id
    assert lead_id is not None
    profile = captured_profile(event)
    row = await repo.claim_lead(uow.session, lead_id, event.correlation_id, **profile)
    if row is not None:  # None: the person was erased
        await evaluate(uow, lead_id, now(), event, row=row)


async def record_activity(event: LeadActivityEvent, uow: UnitOfWork) -> None:
    lead_id = event.lead_id
    assert lead_id is not None
    row = await repo.claim_lead(uow.session, lead_id, event.correlation_id)
    if row is None:  # the person was erased
        return
    kept, product = activity_of(event)
    await repo.add_activity(uow.session, lead_id, kept)
    if product:
        await repo.change_lead(uow.session, lead_id, **product)
        row = None  # read again with it
    await evaluate(uow, lead_id, now(), event, row=row)


async def record_capacity(event: SalesCapacityEvent, uow: UnitOfWork) -> None:
    """Keep the team's newest state, marked with the release counter, and release against it."""
    state = event.payload
    await repo.record_capacity_state(
        uow.session,
        event.event_id,
        state.team_id,
        state.total_capacity,
        state.free_slots,
        event.occurred_at,
        state.queue_length,
    )
    ledger = await repo.capacity(uow.session, lock=True)
    kept = await repo.save_team(
        uow.session,
        event.event_id,
        event.occurred_at,
        released_mark=ledger.released_total,
        **state.model_dump(include=TEAM_FIELDS),
    )
    if not kept:
        return  # an older state than the one kept
    await repo.change_ledger(
        uow.session,
        team_id=state.team_id,
        published_at=event.occurred_at,
        received_at=now(),
    )
    model = await repo.active_model(uow.session)
    if model is not None:
        await release_best(uow, model, now(), event)


TEAM_FIELDS = {
    "team_id",
    "reps_available",
    "total_capacity",
    "open_load",
    "free_slots",
    "queue_length",
}


async def apply_feedback(event: LeadFeedbackEvent, uow: UnitOfWork) -> None:
    verdict, reason = event.payload.verdict.value, event.payload.reason_code
    if verdict == "recycled":
        await _comes_back(event, uow, "recycled", reason.value if reason else None)
        return
    assert event.lead_id is not None
    current = await repo.lock_lead(uow.session, event.lead_id)
    if current is None or current.state == "erased":
        return
    if current.explanation is not None:  # a label for learning (domain.learning)
        await repo.record_outcome(
            uow.session,
            current,
            verdict,
            reason.value if reason else None,
            event.payload.deal_value,
            event.occurred_at,
        )
    model = await repo.active_model(uow.session)
    values: dict[str, object] = {"outcome": verdict}
    if model and disqualifies(model.recycle, verdict, reason.value if reason else None):
        values["state"] = "disqualified"
        values["held_since"] = None
    await repo.change_lead(uow.session, event.lead_id, **values)


async def apply_return(event: LeadReturnedEvent, uow: UnitOfWork) -> None:
    await _comes_back(event, uow, "returned", event.payload.failed_criterion[:60])


async def _comes_back(event: Envelope, uow: UnitOfWork, outcome: str, reason: str | None) -> None:
    """The recycle policy: engagement resets, a cooldown runs, too many recycles end it."""
    assert event.lead_id is not None
    current = await repo.lock_lead(uow.session, event.lead_id)
    if current is not None and current.explanation is not None and current.state != "erased":
        await repo.record_outcome(uow.session, current, outcome, reason, None, event.occurred_at)
    model = await repo.active_model(uow.session)
    if current is None or model is None or current.state in FINAL:
        return
    standing = Standing(
        current.state, current.recycles, current.engagement_since, current.cooldown_until
    )
    after = recycle(standing, model.recycle, now())
    await repo.change_lead(
        uow.session,
        event.lead_id,
        state=after.state,
        recycles=after.recycles,
        engagement_since=after.engagement_since,
        cooldown_until=after.cooldown_until,
        held_since=None,
        outcome=outcome,
    )
    log.info("lead recycled", extra={"lead_id": str(event.lead_id), "recycles": after.recycles})
    await evaluate(uow, event.lead_id, now(), event, model)


async def erase(event: LeadErasedEvent, uow: UnitOfWork) -> None:
    """The person's data goes. The one piece of evidence kept is the lead's outcome row, if sales
    or routing judged it: unlinked in place (no lead id, its time cut to the day), it still counts
    for learning and nothing in it leads back to the person."""
    assert event.lead_id is not None
    current = await repo.lock_lead(uow.session, event.lead_id)
    if current is None or current.state == "erased":
        return
    await repo.unlink_outcome(uow.session, event.lead_id)
    await repo.erase(uow.session, event.lead_id)
    log.info("lead erased", extra={"lead_id": str(event.lead_id)})


async def score_as_of(session: AsyncSession, row: Row[Any], at: datetime) -> Score | None:
    """The lead's score decayed to `at`, from its stored activities, with the model that scored it
    last (a read: nothing is written). None before any scoring or when that model is gone."""
    if row.model_version is None:
        return None
    found = await repo.model_row(session, row.model_version)
    if found is None:
        return None
    acts = await repo.activities_of(session, row.lead_id, row.engagement_since)
    return score_lead(model_from_data(found.document), repo.profile_of(row), acts, at)


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
