"""Periodic job: serve the queues, find a team for leads no rule matched, and keep the queue
gauges current."""

from __future__ import annotations

from datetime import UTC, datetime

from services.routing import metrics
from services.routing.domain.rules import match_rule
from services.routing.placement import DRAIN_BATCH, Placer, Sql
from services.routing.repository import QueueStats, Repository
from shared.uow import UnitOfWork


async def drain_queues(uow: UnitOfWork) -> None:
    """Serve queues whose reps have come on duty or got room; refresh the queue gauges."""
    repo, now = Repository(uow.session), datetime.now(UTC)
    stats = await repo.queue_stats()
    set_queue_gauges(stats, now)
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


_gauged: set[str] = set()


def set_queue_gauges(stats: dict[str | None, QueueStats], now: datetime) -> None:
    """Each team's queue length and oldest wait; a team whose queue has emptied goes to zero."""
    current = {team or "none": s for team, s in stats.items()}
    for team in _gauged | set(current):
        queue = current.get(team, QueueStats(0, None))
        metrics.QUEUE_LENGTH.labels(team).set(queue.length)
        metrics.QUEUE_OLDEST_SECONDS.labels(team).set(queue.oldest_age_s(now) or 0.0)
    _gauged.update(current)
