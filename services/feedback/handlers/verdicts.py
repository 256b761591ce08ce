"""Giving a verdict: checked against the lead's stage and who sends it, then recorded (facts,
aggregates, timeline) and published as `lead.feedback.v1`, at most once per Idempotency-Key."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from services.feedback import repository
from services.feedback.domain import facts as fold
from services.feedback.domain.judge import acting_rep
from services.feedback.domain.stages import allowed_verdicts, next_stage
from services.feedback.domain.timeline import entry
from services.feedback.domain.verdicts import content_problems
from services.feedback.handlers.leads import save
from services.feedback.models import idempotent_requests
from services.feedback.schemas import VerdictOut
from shared.events import LeadFeedback, LeadFeedbackEvent, ReasonCode, Verdict, utc_now
from shared.idempotency import IdempotencyStore, IdempotentCall
from shared.problems import Gone, Invalid, NotFound
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
PRODUCER = "feedback"
STORE = IdempotencyStore(idempotent_requests)


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
    await save(uow, lead_id, before, after)
    actor = rep if command.role == "sales" else f"{rep or 'no rep'} (via {command.key_name})"
    await repository.add_to_timeline(uow.session, [(event, entry(event, actor=actor))])
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
