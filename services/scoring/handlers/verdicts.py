"""Sales' verdicts (lead.feedback.v1) and routing's returns (lead.returned.v1): each is a label
for learning, and a recycle or a disqualification by the model's recycle policy. Idempotent
beyond the runner's event-id check: outcomes are upserts keyed by lead, recycles key on the event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.scoring import repository as repo
from services.scoring.domain.standing import FINAL, Standing, disqualifies, recycle
from services.scoring.handlers.qualify import evaluate
from shared.events import Envelope, LeadFeedbackEvent, LeadReturnedEvent
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


async def apply_feedback(event: LeadFeedbackEvent, uow: UnitOfWork) -> None:
    verdict, reason = event.payload.verdict.value, event.payload.reason_code
    if verdict == "recycled":
        await _comes_back(event, uow, "recycled", reason.value if reason else None)
        return
    assert event.lead_id is not None
    current = await repo.lock_lead(uow.session, event.lead_id)
    if current is None or current.state == "erased":
        return
    if current.explanation is not None:  # a label for learning (domain.outcomes)
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
