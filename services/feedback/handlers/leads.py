"""Feedback's use cases for the events it reads: none of them commits.

Every lead event folds into the lead's facts (and through them the report aggregates) and adds
a line to its timeline. Feedback does not read its own `lead.feedback.v1`: a verdict's timeline
line and facts are written in the transaction that accepts it (`handlers.verdicts`). After an
erasure, later events still count in the reports but build no person or timeline again.

The lead events are taken in batches (`take_in`): the consumer runner gives a run of one type
to it at once, and each one-event handler is the batch of one. A batch costs a few statements
whatever its size, in one lock order: its leads' facts (created if missing, locked in lead id
order, their erasure read with them), their persons, the timeline lines, the facts written
back, the day's MQL threshold; the aggregates at commit (`repository.aggregates`). Between the
reads and the writes each event is folded in memory, in order, with the fold of its type, so a
lead twice in a batch folds twice, in order, exactly as one event at a time would.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

DIMENSION_LIMIT, MODEL_LIMIT = 300, 100  # the report tables' column sizes


def _dimension(value: str | None, limit: int = DIMENSION_LIMIT) -> str:
    """A value reports group by: "" when unknown, cut to what the report tables hold."""
    return (value or "")[:limit]


@dataclass(frozen=True)
class Reading:
    """What one lead event does: how it changes the lead's facts, the person's fields it sets
    (unless erased), the MQL threshold it reports."""

    event: Envelope
    change: Callable[[fold.LeadFacts], fold.LeadFacts]
    person: dict[str, Any] | None = None
    threshold: repository.Threshold | None = None

    @property
    def lead_id(self) -> uuid.UUID:
        assert self.event.lead_id is not None
        return self.event.lead_id


def _captured(event: LeadCapturedEvent) -> Reading:
    contact, touch = event.payload.contact, event.payload.first_touch
    person = {
        "correlation_id": event.correlation_id,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "job_title": contact.job_title,
        "company": contact.company,
        "country": contact.country,
    }
    dimensions = {
        "source": _dimension(touch.source),
        "form": _dimension(touch.form_id),
        "utm_source": _dimension(touch.utm_source),
        "utm_medium": _dimension(touch.utm_medium),
        "utm_campaign": _dimension(touch.utm_campaign),
    }
    merged = event.payload.merged
    return Reading(
        event,
        lambda facts: fold.captured(facts, event.occurred_at, merged=merged, touch=dimensions),
        person=person,
    )


def _activity(event: LeadActivityEvent) -> Reading:
    return Reading(event, lambda facts: facts)


def _scored(event: LeadScoredEvent) -> Reading:
    scored = event.payload
    model = _dimension(scored.model_version, MODEL_LIMIT)
    return Reading(
        event,
        lambda facts: fold.scored(facts, model_version=model),
        person={"score": scored.total_score, "grade": scored.grade.value},
        threshold=repository.Threshold(scored.threshold, event.occurred_at, mql=False),
    )


def _mql(event: LeadMqlEvent) -> Reading:
    mql = event.payload
    model = _dimension(mql.model_version, MODEL_LIMIT)
    return Reading(
        event,
        lambda facts: fold.qualified(facts, event.occurred_at, model_version=model),
        threshold=repository.Threshold(mql.threshold, event.occurred_at, mql=True),
    )


def _returned(event: LeadReturnedEvent) -> Reading:
    return Reading(event, lambda facts: fold.returned(facts, event.occurred_at))


def _queued(event: LeadQueuedEvent) -> Reading:
    team = _dimension(event.payload.team_id)
    return Reading(event, lambda facts: fold.queued(facts, event.occurred_at, team=team))


def _assigned(event: LeadAssignedEvent) -> Reading:
    assigned = event.payload
    return Reading(
        event,
        lambda facts: fold.assigned(
            facts,
            event.occurred_at,
            rep=_dimension(assigned.rep_id),
            team=_dimension(assigned.team_id),
            due=assigned.follow_up_due,
            attempt=assigned.attempt,
        ),
    )


READINGS: dict[str, Callable[[Any], Reading]] = {
    LeadCapturedEvent.model_fields["event_type"].default: _captured,
    LeadActivityEvent.model_fields["event_type"].default: _activity,
    LeadScoredEvent.model_fields["event_type"].default: _scored,
    LeadMqlEvent.model_fields["event_type"].default: _mql,
    LeadReturnedEvent.model_fields["event_type"].default: _returned,
    LeadQueuedEvent.model_fields["event_type"].default: _queued,
    LeadAssignedEvent.model_fields["event_type"].default: _assigned,
}


async def take_in(events: Sequence[Envelope], uow: UnitOfWork) -> None:
    """A batch of lead events (of any of `READINGS`' types, in order), as handling them one at
    a time would leave the facts, timelines, persons, thresholds and aggregates."""
    readings = [READINGS[event.event_type](event) for event in events]
    first_seen: dict[uuid.UUID, datetime] = {}
    for reading in readings:
        first_seen.setdefault(reading.lead_id, reading.event.occurred_at)
    session = uow.session
    claimed = await repository.claim_facts(session, first_seen)
    kept = [r for r in readings if not claimed[r.lead_id].erased]
    persons: dict[uuid.UUID, dict[str, Any]] = {}
    for reading in kept:
        if reading.person is not None:
            persons.setdefault(reading.lead_id, {}).update(reading.person)
    await repository.upsert_persons(session, persons)
    await repository.add_to_timeline(session, [(r.event, entry(r.event)) for r in kept])
    facts = {lead_id: claim.facts for lead_id, claim in claimed.items()}
    for reading in readings:
        facts[reading.lead_id] = reading.change(facts[reading.lead_id])
    for lead_id, after in facts.items():
        claim = claimed[lead_id]
        count(uow, None if claim.fresh else claim.facts, after)
    changed = {lead_id: f for lead_id, f in facts.items() if f != claimed[lead_id].facts}
    await repository.save_facts(session, changed)
    reported = [r.threshold for r in readings if r.threshold is not None]
    await repository.record_thresholds(session, reported)


def count(uow: UnitOfWork, before: fold.LeadFacts | None, after: fold.LeadFacts) -> None:
    """A lead's change to the aggregates (`before`: None if not counted yet), added at commit.
    The change is linear, so one lead's events in one transaction count as their net change."""
    was = aggregates.contribution(before) if before is not None else None
    change = aggregates.net(was, aggregates.contribution(after))
    repository.add_at_commit(uow.session, change)  # hot rows: added in lock order at commit


async def save(
    uow: UnitOfWork, lead_id: uuid.UUID, before: fold.LeadFacts, after: fold.LeadFacts
) -> fold.LeadFacts:
    """A lead's new facts (locked already), and their change to the aggregates."""
    count(uow, before, after)
    await repository.save_facts(uow.session, {lead_id: after})
    return after


# ---- the one-event handlers: each lead event a batch of one -----------------------------------


async def lead_captured(event: LeadCapturedEvent, uow: UnitOfWork) -> None:
    await take_in([event], uow)


async def lead_activity(event: LeadActivityEvent, uow: UnitOfWork) -> None:
    await take_in([event], uow)


async def lead_scored(event: LeadScoredEvent, uow: UnitOfWork) -> None:
    await take_in([event], uow)


async def lead_mql(event: LeadMqlEvent, uow: UnitOfWork) -> None:
    await take_in([event], uow)


async def lead_returned(event: LeadReturnedEvent, uow: UnitOfWork) -> None:
    await take_in([event], uow)


async def lead_queued(event: LeadQueuedEvent, uow: UnitOfWork) -> None:
    await take_in([event], uow)


async def lead_assigned(event: LeadAssignedEvent, uow: UnitOfWork) -> None:
    await take_in([event], uow)


async def sales_capacity(event: SalesCapacityEvent, uow: UnitOfWork) -> None:
    await repository.record_capacity(uow.session, event.payload, event.occurred_at)


async def lead_erased(event: LeadErasedEvent, uow: UnitOfWork) -> None:
    assert event.lead_id is not None
    await repository.erase(uow.session, event.lead_id, event.occurred_at)
    log.info("lead erased from the read model", extra={"lead_id": str(event.lead_id)})
