"""lead.mql.v1: check the SQL criteria, then assign the SQL, queue it, or return it to marketing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.routing.domain.decision import explain
from services.routing.domain.evaluation import Candidate, evaluate
from services.routing.domain.org import Lead
from services.routing.domain.rules import match_rule
from services.routing.handlers.batch import Batch, InForce
from services.routing.placement import PRODUCER, Placer, Sql
from services.routing.repository import Repository
from shared.events import LeadMqlEvent, LeadReturned, LeadReturnedEvent
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


async def route_mql(event: LeadMqlEvent, uow: UnitOfWork) -> None:
    await route_mqls([event], uow)


async def route_mqls(events: list[LeadMqlEvent], uow: UnitOfWork) -> None:
    """MQLs in order: check the SQL criteria, then assign each, queue it, or return it to
    marketing. One placer serves the batch, so each team and its reps are read once, and each
    team's queue is served before the batch's first new SQL for it."""
    repo = Repository(uow.session)
    in_force = await InForce.read(repo)
    placer = Placer(uow, datetime.now(UTC))
    batch = await Batch.read(repo, events, placer)
    await placer.know_owners({d for e in events if (d := e.payload.profile.company_domain)})
    for event in events:
        await _route(event, uow, repo, in_force, placer, batch)


async def _route(
    event: LeadMqlEvent,
    uow: UnitOfWork,
    repo: Repository,
    in_force: InForce,
    placer: Placer,
    batch: Batch,
) -> None:
    assert event.lead_id is not None
    mql, lead_id = event.payload, event.lead_id
    if await batch.has_open_assignment(repo, lead_id):
        log.info("already assigned; MQL ignored", extra={"lead_id": lead_id})
        return
    waiting = await batch.waiting(repo, lead_id)
    batch.touched.add(lead_id)
    profile = mql.profile
    verdict = evaluate(
        in_force.criteria,
        Candidate(mql.score, mql.grade.value, profile.consent_given, profile.model_dump()),
    )
    if waiting is not None:  # scored again while waiting: judged and placed afresh
        await repo.dequeue(lead_id)
        await placer.capacity_changed(waiting.team_id)
    if not verdict.passed:
        assert verdict.failed_criterion is not None and verdict.reason is not None
        await repo.record_decision(
            event.lead_id, "returned", verdict.version, explain(verdict, None, None)
        )
        payload = LeadReturned(
            reason=verdict.reason,
            failed_criterion=verdict.failed_criterion,
            criteria_version=str(verdict.version),
        )
        await uow.publish(LeadReturnedEvent.caused_by(event, producer=PRODUCER, payload=payload))
        log.info("returned: %s", verdict.reason, extra={"lead_id": event.lead_id})
        return
    lead = Lead(
        score=mql.score,
        grade=mql.grade.value,
        country=profile.country,
        language=profile.language,
        company_size=profile.company_size,
        industry=profile.industry,
        product_interest=profile.product_interest,
        company_domain=profile.company_domain,
    )
    match = match_rule(in_force.rules, lead, in_force.fallback_team_id)
    if match.team_id is not None and match.team_id not in batch.drained:
        await placer.drain(match.team_id)  # those already waiting go first
        batch.drained.add(match.team_id)
    sql = Sql(event.lead_id, lead, verdict, event.correlation_id, event.event_id)
    await placer.place(sql, match)
