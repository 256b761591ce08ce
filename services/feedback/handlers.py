"""Feedback's use cases: one per event it reads, and giving a verdict. None of them commits.

Every lead event folds into the lead's facts (and through them the report aggregates) and adds
a line to its timeline. Feedback does not read its own `lead.feedback.v1`: a verdict's timeline
line and facts are written in the transaction that accepts it, with the event in the outbox.
After an erasure, later events still count in the reports but build no person or timeline again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from services.feedback import repository
from services.feedback.domain import aggregates
from services.feedback.domain import facts as fold
from services.feedback.domain.timeline import entry
from services.feedback.domain.verdicts import (
    acting_rep,
    allowed_verdicts,
    content_problems,
    next_stage,
)
from services.feedback.models import idempotent_requests
from services.feedback.schemas import VerdictOut
from shared.events import (
    Envelope,
    LeadActivityEvent,
    LeadAssignedEvent,
    LeadCapturedEvent,
    LeadErasedEvent,
    LeadFeedback,
    LeadFeedbackEvent,
    LeadMqlEvent,
    LeadQueuedEvent,
    LeadReturnedEvent,
    LeadScoredEvent,
    ReasonCode,
    SalesCapacityEvent,
    Verdict,
    utc_now,
)
from shared.idempotency import IdempotencyStore, IdempotentCall
from shared.problems import Gone, Invalid, NotFound
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
PRODUCER = "feedback"
STORE = IdempotencyStore(idempotent_requests)


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
    return await _save(uow, event.lead_id, None if fresh else facts, change(facts))


async def _save(
    uow: UnitOfWork, lead_id: uuid.UUID, before: fold.LeadFacts | None, after: fold.LeadFacts
) -> fold.LeadFacts:
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


# ---- giving a verdict --------------------------------------------------------------------------


@dataclass(frozen=True)
class GiveVerdict:
    """A verdict as the API received it, with who sent it."""

    lead_id: uuid.UUID
    verdict: Verdict
    reason_code: ReasonCode | None
    note: str | None
    quality_rating: int | None
    deal_value: Decimal | None
    currency: str | None
    role: str
    key_rep_id: str | None
    key_name: str
    idempotency: IdempotentCall | None = None


@dataclass(frozen=True)
class VerdictGiven:
    answer: VerdictOut
    replayed: bool = False  # the first answer to the same Idempotency-Key, given again


async def give_verdict(command: GiveVerdict, uow: UnitOfWork) -> VerdictGiven:
    """Check, record and publish a verdict; with an Idempotency-Key, at most once per key."""
    call = command.idempotency
    if call is not None and (first := await STORE.claim(uow.session, call)) is not None:
        return VerdictGiven(VerdictOut.model_validate(first.body), replayed=True)
    answer = await _judge(command, uow)
    if call is not None:
        await STORE.record(uow.session, call, 201, answer)
    return VerdictGiven(answer)


async def _judge(command: GiveVerdict, uow: UnitOfWork) -> VerdictOut:
    problems = content_problems(
        command.verdict, command.reason_code, command.deal_value, command.currency
    )
    if problems:
        raise Invalid("the verdict is incomplete", problems)
    lead_id = command.lead_id
    if await repository.is_erased(uow.session, lead_id):
        raise Gone.of("the lead was erased", "lead_id", "its person was erased; no more verdicts")
    before = await repository.locked_facts(uow.session, lead_id)
    if before is None:
        raise NotFound.of("no such lead", "lead_id", "feedback has seen no event of this lead")
    rep = acting_rep(command.role, command.key_rep_id, before.segment.rep or None)
    stage = next_stage(before.stage, command.verdict)
    person = await repository.person(uow.session, lead_id)
    event = LeadFeedbackEvent(
        producer=PRODUCER,
        lead_id=lead_id,
        correlation_id=person.correlation_id if person is not None else None,
        occurred_at=utc_now(),
        payload=LeadFeedback(
            verdict=command.verdict,
            reason_code=command.reason_code,
            note=command.note,
            quality_rating=command.quality_rating,
            rep_id=rep,
            deal_value=command.deal_value,
            currency=command.currency,
        ),
    )
    deal = (
        (command.currency, command.deal_value)
        if command.currency and command.deal_value is not None
        else None
    )
    after = fold.judged(
        before,
        event.occurred_at,
        verdict=command.verdict,
        reason_code=command.reason_code.value if command.reason_code else None,
        rating=command.quality_rating,
        deal=deal,
    )
    await _save(uow, lead_id, before, after)
    actor = rep if command.role == "sales" else f"{rep or 'no rep'} (via {command.key_name})"
    await repository.add_to_timeline(
        uow.session,
        event_id=event.event_id,
        lead_id=lead_id,
        occurred_at=event.occurred_at,
        event_type=event.event_type,
        entry=entry(event, actor=actor),
    )
    await uow.publish(event)
    log.info("verdict %s", command.verdict.value, extra={"lead_id": str(lead_id)})
    return VerdictOut(
        event_id=event.event_id,
        lead_id=lead_id,
        verdict=command.verdict,
        rep_id=rep,
        stage=stage,
        allowed_next=list(allowed_verdicts(stage)),
        occurred_at=event.occurred_at,
    )
