"""Routing's use cases: one per event it consumes and one per periodic job. None commits; the
consumer runner and the job runner do, at the edge.

`accepted` keeps the lead in the rep's open load (the rep is working it: that is what capacity
counts); `rejected`, `recycled`, `lost`, `won` and `converted` close the rep's work on it and free
the slot (a converted lead is an opportunity in the CRM, no longer an open lead); a later verdict
on a closed assignment changes nothing. An erased lead frees its slot too.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from services.routing import metrics
from services.routing.domain.criteria import Candidate, Criteria, evaluate
from services.routing.domain.decision import capacity, explain
from services.routing.domain.org import Lead, Rule, match_rule
from services.routing.placement import DRAIN_BATCH, PRODUCER, Placer, Sql
from services.routing.repository import QueueStats, Repository
from shared.events import (
    LeadErasedEvent,
    LeadFeedbackEvent,
    LeadMqlEvent,
    LeadReturned,
    LeadReturnedEvent,
    SalesCapacity,
    SalesCapacityEvent,
    Verdict,
)
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

FREES_SLOT = frozenset(
    {Verdict.rejected, Verdict.recycled, Verdict.lost, Verdict.won, Verdict.converted}
)


@dataclass(frozen=True)
class InForce:
    """What every MQL is judged and matched against: read once per batch of MQLs."""

    criteria: Criteria | None
    rules: list[Rule]
    fallback_team_id: str | None

    @classmethod
    async def read(cls, repo: Repository) -> InForce:
        return cls(await repo.active_criteria(), await repo.rules(), await repo.fallback_team_id())


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
    for event in events:
        await _route(event, uow, repo, in_force, placer, batch)


@dataclass
class Batch:
    """Where the batch's leads stood when it began, read in two queries. A lead this
    transaction has touched since (met earlier in the batch, or placed by a queue drain) is
    read afresh."""

    assigned_before: set[uuid.UUID]
    queued_before: dict[uuid.UUID, Row[Any]]
    touched: set[uuid.UUID]
    drained: set[str] = field(default_factory=set)

    @classmethod
    async def read(cls, repo: Repository, events: list[LeadMqlEvent], placer: Placer) -> Batch:
        ids = [event.lead_id for event in events if event.lead_id is not None]
        assigned = await repo.with_open_assignment(ids)
        return cls(assigned, await repo.queued_among(ids), placer.touched)

    async def has_open_assignment(self, repo: Repository, lead_id: uuid.UUID) -> bool:
        if lead_id in self.touched:
            return await repo.open_assignment(lead_id) is not None
        return lead_id in self.assigned_before

    async def waiting(self, repo: Repository, lead_id: uuid.UUID) -> Row[Any] | None:
        if lead_id in self.touched:
            return await repo.queued(lead_id)
        return self.queued_before.get(lead_id)


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


# ---- periodic jobs ----------------------------------------------------------------------------


async def publish_capacity_changes(uow: UnitOfWork) -> None:
    """One sales.capacity.v1 per changed team per run: a burst is coalesced into one event."""
    repo = Repository(uow.session)
    changed = await repo.take_capacity_changes()
    if changed:
        await _publish_capacity(uow, repo, changed)


async def publish_all_capacity(uow: UnitOfWork) -> None:
    """The heartbeat: every team's capacity, also when nothing changed. Each instance sends it on
    its own schedule; the advisory lock only keeps two from sending it at the same moment."""
    repo = Repository(uow.session)
    if await repo.try_lock("routing.capacity-heartbeat"):
        await _publish_capacity(uow, repo, {t.id for t in await repo.teams()})


async def drain_queues(uow: UnitOfWork) -> None:
    """Serve queues whose reps have come on duty or got room; refresh the queue gauges."""
    repo, now = Repository(uow.session), datetime.now(UTC)
    stats = await repo.queue_stats()
    _set_queue_gauges(stats, now)
    if None in stats:  # the rules may name a team for them by now
        await _find_teams(repo)
        stats = await repo.queue_stats()
    placer = Placer(uow, now)
    for team_id in sorted(t for t in stats if t is not None):
        await placer.drain(team_id)


async def _find_teams(repo: Repository) -> None:
    rules, fallback = await repo.rules(), await repo.fallback_team_id()
    for row in await repo.without_team(DRAIN_BATCH):
        match = match_rule(rules, Sql.from_queue(row).lead, fallback)
        if match.team_id is not None:
            await repo.queue_for(row.lead_id, match.team_id, match.rule)
            await repo.capacity_changed(match.team_id)


async def _publish_capacity(uow: UnitOfWork, repo: Repository, team_ids: set[str]) -> None:
    now = datetime.now(UTC)
    stats = await repo.queue_stats()
    _set_queue_gauges(stats, now)
    known = {t.id for t in await repo.teams()}
    for team_id in sorted(team_ids & known):
        snapshot = capacity(await repo.team_reps(team_id), now)
        queue = stats.get(team_id, QueueStats(0, None))
        payload = SalesCapacity(
            team_id=team_id,
            reps_available=snapshot.reps_available,
            total_capacity=snapshot.total_capacity,
            open_load=snapshot.open_load,
            free_slots=snapshot.free_slots,
            queue_length=queue.length,
            oldest_queued_age_s=queue.oldest_age_s(now),
            as_of=now,
        )
        await uow.publish(SalesCapacityEvent(producer=PRODUCER, payload=payload))


_gauged: set[str] = set()


def _set_queue_gauges(stats: dict[str | None, QueueStats], now: datetime) -> None:
    current = {team or "none": s for team, s in stats.items()}
    for team in _gauged | set(current):
        queue = current.get(team, QueueStats(0, None))
        metrics.QUEUE_LENGTH.labels(team).set(queue.length)
        metrics.QUEUE_OLDEST_SECONDS.labels(team).set(queue.oldest_age_s(now) or 0.0)
    _gauged.update(current)
