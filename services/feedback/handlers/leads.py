"""Feedback's use cases for the events it reads: none of them commits.

Every lead event folds into the lead's facts (and through them the report aggregates) and adds
a line to its timeline. Feedback does not read its own `lead.feedback.v1`: a verdict's timeline
line and facts are written in the transaction that accepts it (`handlers.verdicts`). After an
erasure, later events still count in the reports but build no person or timeline again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from services.feedback import repository
from services.feedback.domain import aggregates
from services.feedback.domain import facts as fold
from services.feedback.domain.timeline import entry
from shared.events import (
    Envelope,
    LeadActivityEvent,
    LeadAssignedEvent,
    LeadCapturedEvent,
    LeadErasedEvent,
    LeadMqlEvent,
    LeadQueuedEvent,
    LeadReturnedEvent,
    LeadScoredEvent,
    SalesCapacityEvent,
)
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


async def _lead_event(
    event: Envelope,
    uow: UnitOfWork,
    change: Callable[[fold.LeadFacts], fold.LeadFacts],
    *,
    actor: str | None = None,
) -> fold.LeadFacts:
    """The event on the lead's timeline (unless the person was erased) and in its facts."""
    assert event.lead_id is not None
    if not await repository.is_erased(uow.session, event.lead_id):
        await repository.add_to_timeline(
            uow.session,
            event_id=event.event_id,
            lead_id=event.lead_id,
            occurred_at=event.occurred_at,
            event_type=event.event_type,
            entry=entry(event, actor=actor),
        )
    facts, fresh = await repository.facts_for_update(uow.session, event.lead_id, event.occurred_at)
    return await save(uow, event.lead_id, None if fresh else facts, change(facts))


async def save(
    uow: UnitOfWork, lead_id: uuid.UUID, before: fold.LeadFacts | None, after: fold.LeadFacts
) -> fold.LeadFacts:
    """The lead's new facts, and their change to the aggregates (`before`: None if not counted
    yet)."""
    was = aggregates.contribution(before) if before is not None else None
    change = aggregates.diff(was, aggregates.contribution(after))
    repository.add_at_commit(uow.session, change)  # hot rows: added in lock order at commit
    await repository.save_facts(uow.session, lead_id, after)
    return after


DIMENSION_LIMIT, MODEL_LIMIT = 300, 100  # the report tables' column sizes


def _dimension(value: str | None, limit: int = DIMENSION_LIMIT) -> str:
    """A value reports group by: "" when unknown, cut to what the report tables hold."""
    return (value or "")[:limit]


async def _person(uow: UnitOfWork, lead_id: uuid.UUID, **values: object) -> None:
    if not await repository.is_erased(uow.session, lead_id):
        await repository.upsert_person(uow.session, lead_id, **values)


async def lead_captured(event: LeadCapturedEvent, uow: UnitOfWork) -> None:
    assert event.lead_id is not None
    contact, touch = event.payload.contact, event.payload.first_touch
    await _person(
        uow,
        event.lead_id,
        correlation_id=event.correlation_id,
        email=contact.email,
        first_name=contact.first_name,
        last_name=contact.last_name,
        job_title=contact.job_title,
        company=contact.company,
        country=contact.country,
    )
    dimensions = {
        "source": _dimension(touch.source),
        "form": _dimension(touch.form_id),
        "utm_source": _dimension(touch.utm_source),
        "utm_medium": _dimension(touch.utm_medium),
        "utm_campaign": _dimension(touch.utm_campaign),
    }
    await _lead_event(
        event,
        uow,
        lambda facts: fold.captured(
            facts, event.occurred_at, merged=event.payload.merged, touch=dimensions
        ),
    )


async def lead_activity(event: LeadActivityEvent, uow: UnitOfWork) -> None:
    await _lead_event(event, uow, lambda facts: facts)


async def lead_scored(event: LeadScoredEvent, uow: UnitOfWork) -> None:
    assert event.lead_id is not None
    scored = event.payload
    await _person(uow, event.lead_id, score=scored.total_score, grade=scored.grade.value)
    model = _dimension(scored.model_version, MODEL_LIMIT)
    await _lead_event(event, uow, lambda f: fold.scored(f, model_version=model))
    await repository.record_threshold(
        uow.session, event.occurred_at.date(), scored.threshold, event.occurred_at, mql=False
    )


async def lead_mql(event: LeadMqlEvent, uow: UnitOfWork) -> None:
    mql = event.payload
    await _lead_event(
        event,
        uow,
        lambda facts: fold.qualified(
            facts, event.occurred_at, model_version=_dimension(mql.model_version, MODEL_LIMIT)
        ),
    )
    await repository.record_threshold(
        uow.session, event.occurred_at.date(), mql.threshold, event.occurred_at, mql=True
    )


async def lead_returned(event: LeadReturnedEvent, uow: UnitOfWork) -> None:
    await _lead_event(event, uow, lambda facts: fold.returned(facts, event.occurred_at))


async def lead_queued(event: LeadQueuedEvent, uow: UnitOfWork) -> None:
    team = _dimension(event.payload.team_id)
    await _lead_event(event, uow, lambda facts: fold.queued(facts, event.occurred_at, team=team))


async def lead_assigned(event: LeadAssignedEvent, uow: UnitOfWork) -> None:
    assigned = event.payload
    await _lead_event(
        event,
        uow,
        lambda facts: fold.assigned(
            facts,
            event.occurred_at,
            rep=_dimension(assigned.rep_id),
            team=_dimension(assigned.team_id),
            due=assigned.follow_up_due,
            attempt=assigned.attempt,
        ),
    )


async def sales_capacity(event: SalesCapacityEvent, uow: UnitOfWork) -> None:
    await repository.record_capacity(uow.session, event.payload, event.occurred_at)


async def lead_erased(event: LeadErasedEvent, uow: UnitOfWork) -> None:
    assert event.lead_id is not None
    await repository.erase(uow.session, event.lead_id, event.occurred_at)
    log.info("lead erased from the read model", extra={"lead_id": str(event.lead_id)})
