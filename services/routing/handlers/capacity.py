"""Periodic jobs: sales.capacity.v1 for the teams whose capacity changed, and the heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime

from services.routing.domain.capacity import capacity
from services.routing.handlers.queue import set_queue_gauges
from services.routing.placement import PRODUCER
from services.routing.repository import QueueStats, Repository
from shared.events import SalesCapacity, SalesCapacityEvent
from shared.uow import UnitOfWork


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


async def _publish_capacity(uow: UnitOfWork, repo: Repository, team_ids: set[str]) -> None:
    now = datetime.now(UTC)
    stats = await repo.queue_stats()
    set_queue_gauges(stats, now)
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
