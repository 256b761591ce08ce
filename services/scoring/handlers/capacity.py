"""sales.capacity.v1: keep each team's newest state and release held leads against it. Idempotent
beyond the runner's event-id check: a state older than the one kept changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from services.scoring import repository as repo
from services.scoring.handlers.release import release_best
from shared.events import SalesCapacityEvent
from shared.uow import UnitOfWork


async def record_capacity(event: SalesCapacityEvent, uow: UnitOfWork) -> None:
    """Keep the team's newest state, marked with the release counter, and release against it."""
    state = event.payload
    await repo.record_capacity_state(
        uow.session,
        event.event_id,
        state.team_id,
        state.total_capacity,
        state.free_slots,
        event.occurred_at,
        state.queue_length,
    )
    ledger = await repo.capacity(uow.session, lock=True)
    kept = await repo.save_team(
        uow.session,
        event.event_id,
        event.occurred_at,
        released_mark=ledger.released_total,
        **state.model_dump(include=TEAM_FIELDS),
    )
    if not kept:
        return  # an older state than the one kept
    await repo.change_ledger(
        uow.session,
        team_id=state.team_id,
        published_at=event.occurred_at,
        received_at=datetime.now(UTC),
    )
    model = await repo.active_model(uow.session)
    if model is not None:
        await release_best(uow, model, datetime.now(UTC), event)


TEAM_FIELDS = {
    "team_id",
    "reps_available",
    "total_capacity",
    "open_load",
    "free_slots",
    "queue_length",
}
