"""What scoring does with a lead's own events: its capture, its activities and its erasure (the
verdicts are in `handlers.verdicts`, sales capacity in `handlers.capacity`). Every handler is
idempotent beyond the runner's event-id check: profiles are upserts, erasure checks the state."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.document import model_from_data
from services.scoring.domain.scoring import Score, score_lead
from services.scoring.handlers.profile import activity_of, captured_profile
from services.scoring.handlers.qualify import evaluate
from shared.events import LeadActivityEvent, LeadCapturedEvent, LeadErasedEvent
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


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
