"""Placing one SQL: decide, claim the rep's slot in PostgreSQL, record and announce the outcome.

Shared by the MQL handler (a new SQL) and the queue drain (a waiting one). A `Placer` lives for
one transaction and keeps the teams' reps it has read, updating its copy after each claim, so a
drain of fifty queued leads reads each team once.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.routing.domain.deadlines import follow_up_due
from services.routing.domain.decision import Choice, Placement, explain, place
from services.routing.domain.evaluation import Verdict
from services.routing.domain.org import Lead, Rep, Strategy, Team
from services.routing.domain.rules import Match
from services.routing.domain.strategies import served, team_clock
from services.routing.repository import Repository
from services.routing.webhooks.outbox import Subscribers, enqueue_deliveries
from shared.events import LeadAssigned, LeadAssignedEvent, LeadQueued, LeadQueuedEvent
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

PRODUCER = "routing"
DRAIN_BATCH = 50  # queued leads looked at per team per drain


@dataclass(frozen=True)
class Sql:
    """An SQL to place, and the journey it belongs to."""

    lead_id: uuid.UUID
    lead: Lead
    verdict: Verdict
    correlation_id: uuid.UUID | None
    cause_event_id: uuid.UUID

    def as_queued(self) -> dict[str, Any]:
        return self.lead.__dict__ | {"criteria_version": self.verdict.version}

    @classmethod
    def from_queue(cls, row: Any) -> Sql:
        fields = dict(row.lead)
        version = fields.pop("criteria_version", None)
        return cls(
            row.lead_id,
            Lead(**fields),
            Verdict(True, version),
            row.correlation_id,
            row.cause_event_id,
        )


class Placer:
    def __init__(self, uow: UnitOfWork, now: datetime) -> None:
        self.uow, self.repo, self.now = uow, Repository(uow.session), now
        self._teams: dict[str, tuple[Team, list[Rep]]] = {}
        self._subscribers: Subscribers = {}  # webhook subscriptions by event type
        self._changed: set[str] = set()  # teams whose capacity change is noted already
        self.touched: set[uuid.UUID] = set()  # leads this placer assigned or queued
        # domains' account owners read at once for a batch, then kept by its assignments
        self._owners: dict[str, str | None] | None = None

    async def know_owners(self, domains: set[str]) -> None:
        """Read the account owners of a batch's domains in one query. Only for a transaction
        that closes no assignment while placing (a batch of MQLs): the placer's own
        assignments are the only change it keeps up with."""
        found = await self.repo.account_owners(domains)
        self._owners = {domain: found.get(domain) for domain in domains}

    async def capacity_changed(self, team_id: str | None) -> None:
        """Note the team for the coalesced sales.capacity.v1, once per transaction."""
        if team_id is not None and team_id not in self._changed:
            await self.repo.capacity_changed(team_id)
            self._changed.add(team_id)

    async def place(
        self,
        sql: Sql,
        match: Match,
        *,
        waiting: bool = False,
        attempt: int = 1,
        previous_rep_id: str | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> bool:
        """Assign the SQL, or queue it (a lead already `waiting` stays queued, unannounced).
        A reassignment (`attempt` > 1) skips the reps in `exclude`."""
        team, team_reps = await self._team(match.team_id)
        owner = await self._account_owner(sql.lead.company_domain, team_reps)
        placement = place(sql.lead, match, team, team_reps, self.now, owner)
        for choice in placement.ranked:
            if choice.rep.id in exclude:
                continue
            if await self._claim(choice, team, team_reps):
                await self._assigned(sql, placement, choice, attempt, previous_rep_id, waiting)
                return True
        if not waiting:
            await self._queued(sql, placement)
        return False

    async def drain(self, team_id: str) -> int:
        """Serve the team's queue in fair order while reps have room; one drain per team at
        a time (an advisory lock), so two drains never lock reps in opposite orders."""
        if not await self.repo.try_lock(f"routing.drain:{team_id}"):
            return 0
        assigned = 0
        for row in await self.repo.next_in_queue(team_id, DRAIN_BATCH):
            _, team_reps = await self._team(team_id)
            if not any(r.free() for r in team_reps):
                break
            sql = Sql.from_queue(row)
            if await self.place(sql, Match(row.rule, team_id), waiting=True):
                assigned += 1
        return assigned

    async def _team(self, team_id: str | None) -> tuple[Team | None, list[Rep]]:
        if team_id is None:
            return None, []
        if team_id not in self._teams:
            team = await self.repo.team(team_id)
            if team is None:
                return None, []
            self._teams[team_id] = (team, await self.repo.team_reps(team_id))
        return self._teams[team_id]

    async def _account_owner(self, domain: str | None, team_reps: list[Rep]) -> Rep | None:
        if not domain:
            return None
        if self._owners is not None and domain in self._owners:
            owner_id = self._owners[domain]
        else:
            owner_id = await self.repo.account_owner(domain)
        if owner_id is None:
            return None
        return next((r for r in team_reps if r.id == owner_id), None) or await self.repo.rep(
            owner_id
        )

    async def _claim(self, choice: Choice, team: Team | None, team_reps: list[Rep]) -> bool:
        rep = choice.rep
        clock = None
        if choice.strategy == Strategy.weighted_round_robin:
            clock = team_clock(team_reps)
        if not await self.repo.claim(rep, rep.hours.local_date(self.now), clock):
            return False
        day = rep.hours.local_date(self.now).isoformat()
        taken = replace(
            rep,
            open_load=rep.open_load + 1,
            assigned_today=rep.assigned_on(self.now) + 1,
            assigned_day=day,
            rr_pass=served(rep, clock) if clock is not None else rep.rr_pass,
        )
        if rep.team_id in self._teams:
            cached_team, reps = self._teams[rep.team_id]
            self._teams[rep.team_id] = (cached_team, [taken if r.id == rep.id else r for r in reps])
        return True

    async def _assigned(
        self,
        sql: Sql,
        placement: Placement,
        choice: Choice,
        attempt: int = 1,
        previous_rep_id: str | None = None,
        waiting: bool = False,
    ) -> None:
        rep = choice.rep
        self.touched.add(sql.lead_id)
        team, _ = await self._team(rep.team_id)
        sla = sla_minutes(team)
        due = follow_up_due(rep.hours, self.now, sla)
        rule = placement.match.rule
        if waiting:
            await self.repo.dequeue(sql.lead_id)
        await self.repo.add_assignment(
            lead_id=sql.lead_id,
            rep_id=rep.id,
            team_id=rep.team_id,
            rule=rule,
            strategy=choice.strategy,
            attempt=attempt,
            company_domain=sql.lead.company_domain,
            follow_up_due=due,
            assigned_at=self.now,
            previous_rep_id=previous_rep_id,
            lead=sql.as_queued(),
            correlation_id=sql.correlation_id,
            cause_event_id=sql.cause_event_id,
        )
        if self._owners is not None and sql.lead.company_domain:
            self._owners[sql.lead.company_domain] = rep.id  # now the domain's latest open lead
        await self.capacity_changed(rep.team_id)
        explanation = explain(sql.verdict, placement, choice) | {"follow_up_due": due.isoformat()}
        lowered = {r.id: r.share for r in (await self._team(rep.team_id))[1] if r.share < 1}
        if lowered:
            explanation["lowered_shares"] = lowered  # reps whose SLA breaches cut their share
        await self.repo.record_decision(sql.lead_id, "assigned", sql.verdict.version, explanation)
        payload = LeadAssigned(
            rep_id=rep.id,
            rep_email=rep.email,
            team_id=rep.team_id,
            rule=rule,
            strategy=choice.strategy,
            follow_up_due=due,
            attempt=attempt,
            previous_rep_id=previous_rep_id,
        )
        event = self._event(LeadAssignedEvent, sql, payload)
        await self.uow.publish(event)
        await enqueue_deliveries(self.uow.session, event, self._subscribers)
        log.info("assigned to %s by %s", rep.id, choice.strategy, extra={"lead_id": sql.lead_id})

    async def _queued(self, sql: Sql, placement: Placement) -> None:
        team_id = placement.match.team_id
        self.touched.add(sql.lead_id)
        reason = queue_reason(placement)
        await self.repo.enqueue(
            lead_id=sql.lead_id,
            team_id=team_id,
            rule=placement.match.rule,
            score=sql.lead.score,
            lead=sql.as_queued(),
            correlation_id=sql.correlation_id,
            cause_event_id=sql.cause_event_id,
            reason=reason,
            queued_at=self.now,
        )
        position = await self.repo.queue_position(sql.lead_id) or 1
        await self.capacity_changed(team_id)
        explanation = explain(sql.verdict, placement, None) | {"queue_reason": reason}
        await self.repo.record_decision(sql.lead_id, "queued", sql.verdict.version, explanation)
        payload = LeadQueued(reason=reason, team_id=team_id, queue_position=position)
        event = self._event(LeadQueuedEvent, sql, payload)
        await self.uow.publish(event)
        await enqueue_deliveries(self.uow.session, event, self._subscribers)
        log.info("queued at %d: %s", position, reason, extra={"lead_id": sql.lead_id})

    @staticmethod
    def _event(kind: type[Any], sql: Sql, payload: Any) -> Any:
        return kind(
            producer=PRODUCER,
            lead_id=sql.lead_id,
            correlation_id=sql.correlation_id,
            causation_id=sql.cause_event_id,
            payload=payload,
        )


def sla_minutes(team: Team | None) -> float:
    """The team's SLA in working minutes (seconds when the team sets them)."""
    if team is None:
        return 60
    return team.sla_seconds / 60 if team.sla_seconds else team.sla_minutes


def queue_reason(placement: Placement) -> str:
    if placement.match.team_id is None:
        return "no rule matched and there is no fallback team"
    if not placement.considered:
        return f"team {placement.match.team_id} has no reps"
    counts = Counter(reason for c in placement.considered for reason in c.skipped)
    detail = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    return f"no eligible rep with free capacity ({detail})"[:200]
