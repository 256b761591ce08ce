"""Routing's queue: a lead waits when no rep or team can take it, and moves when one can."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.routing.app import create_app
from shared.events import (
    LeadAssignedEvent,
    LeadErased,
    LeadErasedEvent,
    LeadQueuedEvent,
    Verdict,
)
from tests.helpers import reading, running, wait_for
from tests.routing.conftest import Routing, mql, rep, team
from tests.routing.handlers_helpers import _leads_in, feedback, values

pytestmark = pytest.mark.asyncio


async def test_no_capacity_queues_and_a_rejection_frees_the_slot(routing: Routing) -> None:
    await routing.load(teams=[team(fallback=True)], reps=[rep("ann", capacity=1)])
    first, low, high = mql(score=90), mql(score=60), mql(score=70)
    bootstrap = routing.settings.kafka_bootstrap
    async with (
        running(create_app(routing.settings)),
        reading(bootstrap, routing.topic(LeadAssignedEvent)) as assigned,
        reading(bootstrap, routing.topic(LeadQueuedEvent)) as queued,
    ):
        await routing.send(first)
        await assigned.wait_for_count(1)
        await routing.send(low)
        await queued.wait_for_count(1)
        await routing.send(high)  # a higher score goes ahead of the older lead
        positions = {e["lead_id"]: e["payload"] for e in values(await queued.wait_for_count(2))}
        assert positions[str(low.lead_id)]["queue_position"] == 1
        assert positions[str(high.lead_id)]["queue_position"] == 1
        assert (
            positions[str(high.lead_id)]["reason"] == "no eligible rep with free capacity (1 full)"
        )
        await routing.send(feedback(first.lead_id, Verdict.accepted))  # still the rep's work
        await routing.send(feedback(first.lead_id, Verdict.rejected))
        await wait_for(lambda: _leads_in(assigned, 2), message="a second lead assigned")
        assert await _leads_in(assigned, 2) == [str(first.lead_id), str(high.lead_id)]
        await routing.send(feedback(high.lead_id, Verdict.won))
        await wait_for(lambda: _leads_in(assigned, 3), message="a third lead assigned")
        assert (await _leads_in(assigned, 3))[2] == str(low.lead_id)
    rows = await routing.rows("SELECT open_load FROM routing.reps WHERE id = 'ann'")
    assert rows == [(1,)]
    assert await routing.rows("SELECT 1 FROM routing.queue") == []


async def test_erasure_frees_the_slot_and_forgets_the_decision(routing: Routing) -> None:
    await routing.load(teams=[team(fallback=True)], reps=[rep("ann", capacity=1)])
    lead = mql(company_domain="acme.example")
    async with (
        running(create_app(routing.settings)),
        reading(routing.settings.kafka_bootstrap, routing.topic(LeadAssignedEvent)) as assigned,
    ):
        await routing.send(lead)
        await assigned.wait_for_count(1)
        erased = LeadErasedEvent(producer="capture", lead_id=lead.lead_id, payload=LeadErased())
        await routing.send(erased)

        async def forgotten() -> bool:
            return not await routing.rows("SELECT 1 FROM routing.decisions")

        await wait_for(forgotten, message="decision forgotten")
    assert await routing.rows("SELECT open_load FROM routing.reps") == [(0,)]
    assert await routing.rows("SELECT company_domain, status FROM routing.assignments") == [
        (None, "closed")
    ]


async def test_the_queue_moves_when_a_rep_comes_back_or_gets_more_room(routing: Routing) -> None:
    first, second = mql(score=90), mql(score=80)
    bootstrap = routing.settings.kafka_bootstrap
    async with (
        running(create_app(routing.settings)),
        reading(bootstrap, routing.topic(LeadAssignedEvent)) as assigned,
        reading(bootstrap, routing.topic(LeadQueuedEvent)) as queued,
    ):
        # Away until a few seconds from now (the service is running: it reads reps per decision).
        back_at = datetime.now(UTC) + timedelta(seconds=5)
        away = {"start": "2020-01-01T00:00:00Z", "end": back_at.isoformat()}
        await routing.load(
            teams=[team(fallback=True)],
            reps=[rep("ann", capacity=1, out_of_office=[away])],
        )
        await routing.send(first)
        await routing.send(second)
        await queued.wait_for_count(2)
        assert await assigned.poll() == []
        # Ann's leave ends: the periodic drain gives her the best-scored lead, no event needed.
        await wait_for(lambda: _leads_in(assigned, 1), timeout_s=15, message="first assigned")
        assert await _leads_in(assigned, 1) == [str(first.lead_id)]
        assert datetime.now(UTC) >= back_at
        # More room for Ann (a settings change): the second lead follows.
        await routing.load(reps=[rep("ann", capacity=2)])
        await wait_for(lambda: _leads_in(assigned, 2), timeout_s=15, message="second assigned")
        assert (await _leads_in(assigned, 2))[1] == str(second.lead_id)


async def test_a_lead_no_rule_placed_waits_until_a_team_takes_it(routing: Routing) -> None:
    await routing.load(
        teams=[team("dach")],
        reps=[rep("ann", "dach")],
        rules=[{"name": "dach", "team": "dach", "countries": ["DE", "AT", "CH"]}],
    )
    lead = mql(country="GB")
    bootstrap = routing.settings.kafka_bootstrap
    async with (
        running(create_app(routing.settings)),
        reading(bootstrap, routing.topic(LeadAssignedEvent)) as assigned,
        reading(bootstrap, routing.topic(LeadQueuedEvent)) as queued,
    ):
        await routing.send(lead)
        [waiting] = values(await queued.wait_for_count(1))
        assert waiting["payload"] == {
            "reason": "no rule matched and there is no fallback team",
            "queue_position": 1,
        }
        await routing.load(teams=[team("dach", fallback=True)])  # now the fallback
        await wait_for(lambda: _leads_in(assigned, 1), message="assigned through the fallback")
    assert await routing.rows("SELECT rule, team_id FROM routing.assignments") == [
        ("fallback", "dach")
    ]
