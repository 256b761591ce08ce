"""SLA deadlines: the durable schedule is the assignments table itself (`follow_up_due` of
each assignment still without a verdict, indexed). A job on every instance takes overdue rows
with `FOR UPDATE SKIP LOCKED` and, in the same transaction, closes the breached assignment,
frees the rep's slot, records the breach and reassigns the lead to another rep of the team
(attempt + 1) or, past the team's maximum attempts or with nobody else, escalates it. A row
is handled once: the lock keeps other instances off it and the closed status off later runs;
a deadline that passed while no instance ran is found by the first run after start-up."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from services.routing.domain.rules import Match
from services.routing.placement import Placer, Sql
from services.routing.repository import Repository
from services.routing.repository.sla import SlaQueries
from services.routing.webhooks.outbox import enqueue
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

SLA_BATCH = 50


async def enforce_deadlines(uow: UnitOfWork) -> None:
    sla, repo, now = SlaQueries(uow.session), Repository(uow.session), datetime.now(UTC)
    for row in await sla.overdue(SLA_BATCH):
        await _breached(uow, sla, repo, row, now)


async def refresh_records(uow: UnitOfWork) -> None:
    """Reps' shares follow their teams' record rule, down after breaches and back when old
    breaches leave the window. One instance at a time (an advisory lock)."""
    repo = Repository(uow.session)
    if not await repo.try_lock("routing.rep-records"):
        return
    for row in await repo.refresh_shares():
        log.info("rep %s: share now %s", row.id, row.share)
        await repo.capacity_changed(row.team_id)


async def _breached(
    uow: UnitOfWork, sla: SlaQueries, repo: Repository, row: Any, now: datetime
) -> None:
    await sla.close_breached(row.id)
    late_by = max(0.0, (now - row.follow_up_due).total_seconds())
    await sla.add_breach(
        lead_id=row.lead_id,
        rep_id=row.rep_id,
        team_id=row.team_id,
        attempt=row.attempt,
        due=row.follow_up_due,
        late_by_s=late_by,
        breached_at=now,
    )
    log.info("SLA breached by %s (late %.1fs)", row.rep_id, late_by, extra={"lead_id": row.lead_id})
    if await repo.release(row.rep_id) is not None:
        await repo.capacity_changed(row.team_id)
    team = await repo.team(row.team_id)
    max_attempts = team.max_attempts if team is not None else 1
    if row.attempt >= max_attempts:
        await _escalate(uow, sla, row, f"no verdict after {row.attempt} attempts")
        return
    if row.lead is None:  # erased, or assigned before leads were kept
        await _escalate(uow, sla, row, "the lead's profile is not kept; cannot reassign")
        return
    sql = Sql.from_queue(row)
    tried = frozenset(a.rep_id for a in await repo.lead_assignments(row.lead_id))
    placed = await Placer(uow, now).place(
        sql,
        Match(row.rule, row.team_id),
        waiting=True,  # not queued: a lead nobody else can take escalates
        attempt=row.attempt + 1,
        previous_rep_id=row.rep_id,
        exclude=tried,
    )
    if not placed:
        await _escalate(uow, sla, row, "no other eligible rep with room in the team")


async def _escalate(uow: UnitOfWork, sla: SlaQueries, row: Any, reason: str) -> None:
    await sla.escalate(
        lead_id=row.lead_id,
        team_id=row.team_id,
        last_rep_id=row.rep_id,
        attempts=row.attempt,
        reason=reason,
    )
    repo = Repository(uow.session)
    decision = await repo.decision(row.lead_id)
    explanation = dict(decision.explanation) if decision is not None else {}
    explanation["escalation"] = reason
    version = decision.criteria_version if decision is not None else None
    await repo.record_decision(row.lead_id, "escalated", version, explanation)
    team = await repo.team(row.team_id)
    data = {
        "lead_id": str(row.lead_id),
        "team_id": row.team_id,
        "last_rep_id": row.rep_id,
        "attempts": row.attempt,
        "reason": reason,
        "escalation_contact": team.escalation_contact if team is not None else None,
    }
    await enqueue(uow.session, "lead.escalated", row.lead_id, data, f"esc_{row.lead_id}")
    log.warning("escalated: %s", reason, extra={"lead_id": row.lead_id})
