"""Scoring's batch test helpers: run events one by one or in batches, as the consumer runner does.

Activities are dated in the future (they count as now: no decay), so the two runs, seconds apart,
score alike; the instants each run takes (held_since, mql_at, scored_at) are compared only for
being set or not."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from services.scoring.handlers.capacity import record_capacity
from services.scoring.handlers.intake import take_in
from services.scoring.handlers.leads import erase, record_activity, record_capture
from shared.events import Envelope
from tests.helpers import UowFactory

ONE_EVENT = {
    "lead.captured": record_capture,
    "lead.activity": record_activity,
    "lead.capacity": record_capacity,
    "sales.capacity": record_capacity,
    "lead.erased": erase,
}
BULK = {"lead.captured", "lead.activity"}
SOON = datetime.now(UTC) + timedelta(days=1)  # in the future: counts as now, no decay


async def one_by_one(uow: UowFactory, events: list[Envelope]) -> None:
    for event in events:
        async with uow() as unit:
            await ONE_EVENT[event.event_type](event, unit)


async def in_batches(uow: UowFactory, batches: list[list[Envelope]]) -> None:
    """As the consumer runner does: a batch in one transaction, each run of one type of lead
    event given to the batch use case, any other event to its one-event handler."""
    for batch in batches:
        async with uow() as unit:
            for event_type, run in itertools.groupby(batch, lambda e: e.event_type):
                if event_type in BULK:
                    await take_in(list(run), unit)
                else:
                    for event in run:
                        await ONE_EVENT[event_type](event, unit)
