"""A runner that gathers (`gather_ms`, feedback's) takes records that arrive over a while in a
few batches; one that does not takes about a batch per record."""

from __future__ import annotations

import asyncio
import math
import time
import uuid

import pytest
from sqlalchemy import text

from shared.events import LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import wait_for
from tests.platform.bus_helpers import erased, has_effects
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio

GATHER_MS = 400
EVENTS = 10
GAP_S = 0.04  # between two events: longer than a fetch takes to answer when it need not wait


async def transactions_taking(platform: Platform, gather_ms: int) -> tuple[int, float]:
    """How many transactions the runner took for EVENTS events sent GAP_S apart, and how long
    the sending took."""
    transaction_of: dict[uuid.UUID, int] = {}

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        transaction_of[event.event_id] = int(
            await uow.session.scalar(text("SELECT txid_current()"))
        )
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    runner = platform.runner({LeadErasedEvent: handler}, gather_ms=gather_ms)
    await runner.start()
    began = time.monotonic()
    for i in range(EVENTS):
        await platform.send(erased(f"lead {i}"))
        await asyncio.sleep(GAP_S)  # pacing the sender, not waiting on the runner
    sent_in_s = time.monotonic() - began
    await wait_for(lambda: has_effects(platform, EVENTS), message="every event's effect")
    return len(set(transaction_of.values())), sent_in_s


async def test_a_gathering_runner_takes_records_arriving_over_a_while_in_a_few_batches(
    platform: Platform,
) -> None:
    transactions, sent_in_s = await transactions_taking(platform, GATHER_MS)
    most = math.ceil(sent_in_s * 1000 / GATHER_MS) + 1  # one fetch per gathering, one partial
    assert transactions <= most, (
        f"{transactions} transactions for {EVENTS} events in {sent_in_s:.2f} s"
    )
