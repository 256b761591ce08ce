"""Routing's event handlers against the real broker and PostgreSQL: MQL in, assignment, queue or
return out; verdicts free slots; two instances never exceed a rep's capacity."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI
from sqlalchemy import text

from services.routing.app import create_app
from services.routing.criteria import approve_criteria, draft_criteria
from services.routing.handlers.capacity import publish_all_capacity, publish_capacity_changes
from services.routing.models import platform
from services.routing.repository import Repository
from services.routing.schemas.criteria import CriteriaIn
from shared.auth import Principal, Role
from shared.events import (
    Envelope,
    LeadAssignedEvent,
    LeadErased,
    LeadErasedEvent,
    LeadFeedback,
    LeadFeedbackEvent,
    LeadMqlEvent,
    LeadQueuedEvent,
    LeadReturnedEvent,
    ReasonCode,
    SalesCapacityEvent,
    Verdict,
)
from shared.outbox import Outbox
from shared.uow import UnitOfWork
from tests.helpers import reading, running, wait_for
from tests.routing.conftest import Routing, mql, rep, team

pytestmark = pytest.mark.asyncio


def values(records: list[ConsumerRecord]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


def feedback(lead_id: uuid.UUID | None, verdict: Verdict) -> LeadFeedbackEvent:
    reason = ReasonCode.no_budget if verdict in (Verdict.rejected, Verdict.lost) else None
    return LeadFeedbackEvent(
        producer="feedback",
        lead_id=lead_id,
        payload=LeadFeedback(verdict=verdict, reason_code=reason, rep_id=None),
    )


async def test_an_mql_is_assigned_with_its_rule_and_strategy(routing: Routing) -> None:
    await routing.load(
        teams=[team("emea", strategy="weighted_round_robin"), team("world", fallback=True)],
        reps=[rep("ann"), rep("wes", "world")],
        rules=[{"name": "uk", "team": "emea", "countries": ["GB", "IE"]}],
    )
    uk, brazil = mql(country="GB"), mql(country="BR")
    async with (
        running(create_app(routing.settings)),
        reading(routing.settings.kafka_bootstrap, routing.topic(LeadAssignedEvent)) as assigned,
        reading(routing.settings.kafka_bootstrap, routing.topic(SalesCapacityEvent)) as capacity,
    ):
        await routing.send(uk)
        await routing.send(brazil)
        got = await _events_of(assigned, uk, brazil)
        first = got[str(uk.lead_id)]
        assert first["payload"] | {"follow_up_due": None} == {
            "rep_id": "ann",
            "rep_email": "ann@sales.example",
            "team_id": "emea",
            "rule": "uk",
            "strategy": "weighted_round_robin",
            "attempt": 1,
            "follow_up_due": None,
        }
        assert first["causation_id"] == str(uk.event_id)
        assert first["correlation_id"] == str(uk.correlation_id)
        assert (
            got[str(brazil.lead_id)]["payload"]["rule"],
            got[str(brazil.lead_id)]["payload"]["rep_id"],
        ) == ("fallback", "wes")
        await wait_for(
            lambda: _capacity_shows(capacity, "emea", open_load=1), message="emea capacity"
        )


async def _capacity_shows(reader: Any, team_id: str, **expected: int) -> bool:
    for event in values(await reader.poll()):
        payload = event["payload"]
        if payload["team_id"] == team_id and all(payload[k] == v for k, v in expected.items()):
            return True
    return False


async def test_a_failing_criterion_returns_the_lead_to_marketing(routing: Routing) -> None:
    await routing.load(teams=[team(fallback=True)], reps=[rep("ann")])
    async with routing.sessions() as session, session.begin():
        uow = UnitOfWork(session, Outbox(platform, routing.settings, "routing"), routing.settings)
        draft = await draft_criteria(CriteriaIn(excluded_countries=["RU"], min_grade="B"), uow)
        for role in (Role.marketing, Role.sales):
            who = Principal(uuid.uuid4(), f"{role} key", role, None)
            await approve_criteria(draft.version, who, uow)
    excluded, graded_c = mql(country="RU"), mql(grade="C")
    async with (
        running(create_app(routing.settings)),
        reading(routing.settings.kafka_bootstrap, routing.topic(LeadReturnedEvent)) as returned,
    ):
        await routing.send(graded_c)
        await routing.send(excluded)
        arrived = await _events_of(returned, graded_c, excluded)
        by_lead = {lead: event["payload"] for lead, event in arrived.items()}
        assert by_lead[str(excluded.lead_id)] == {
            "reason": "country RU is excluded",
            "failed_criterion": "excluded_countries",
            "criteria_version": "1",
        }
        assert {p["failed_criterion"] for p in by_lead.values()} == {
            "excluded_countries",
            "min_grade",
        }
    assert await routing.rows("SELECT 1 FROM routing.assignments") == []


async def _events_of(reader: Any, *events: Envelope) -> dict[str, dict[str, Any]]:
    """Wait until every one of these leads has an event on the reader's topic; by lead id."""
    wanted = {str(e.lead_id) for e in events}

    async def arrived() -> dict[str, dict[str, Any]] | None:
        got = {v["lead_id"]: v for v in values(await reader.poll())}
        return got if wanted <= set(got) else None

    result = await wait_for(arrived, message=f"events of {len(wanted)} leads")
    assert result is not None
    return result


async def _leads_in(reader: Any, count: int) -> list[str] | None:
    """The first `count` distinct leads in the order they arrived (the relay may deliver an
    event twice; consumers dedupe by event id, and so does this)."""
    leads = list(dict.fromkeys(e["lead_id"] for e in values(await reader.poll())))
    return leads[:count] if len(leads) >= count else None


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


async def test_capacity_changes_are_coalesced_into_one_event_per_team(routing: Routing) -> None:
    await routing.load(teams=[team("emea"), team("apac")], reps=[rep("ann", capacity=5)])
    outbox = Outbox(platform, routing.settings, "routing")

    async def in_transaction(job: Any) -> None:
        async with routing.sessions() as session, session.begin():
            await job(UnitOfWork(session, outbox, routing.settings))

    async def burst(uow: UnitOfWork) -> None:
        repo = Repository(uow.session)
        for _ in range(1_000):
            await repo.capacity_changed("emea")

    await in_transaction(publish_capacity_changes)  # what the import itself changed
    await in_transaction(lambda uow: uow.session.execute(text("DELETE FROM routing.outbox")))
    await in_transaction(burst)
    await in_transaction(publish_capacity_changes)
    await in_transaction(publish_capacity_changes)  # nothing new: nothing sent
    sent = await routing.rows("SELECT topic, key FROM routing.outbox")
    assert sent == [(routing.topic(SalesCapacityEvent), b"emea")]
    await in_transaction(publish_all_capacity)  # the heartbeat: every team
    sent = await routing.rows("SELECT key FROM routing.outbox ORDER BY id")
    assert [key for (key,) in sent] == [b"emea", b"apac", b"emea"]


def _reads(app: FastAPI, topic: str) -> bool:
    """The instance's consumer holds a partition of `topic` (the runner keeps it private)."""
    consumer = app.state.runtime.consumer._consumer
    return consumer is not None and any(tp.topic == topic for tp in consumer.assignment())


async def test_two_instances_never_exceed_any_reps_capacity(routing: Routing) -> None:
    reps = [rep(f"r{i}", capacity=3) for i in range(5)]  # 15 slots for 60 leads
    await routing.load(teams=[team(fallback=True)], reps=reps)
    leads = [mql(score=50 + i % 7) for i in range(60)]
    peak = {"over": -99}

    async def watch() -> None:
        while True:
            [(over,)] = await routing.rows("SELECT max(open_load - capacity) FROM routing.reps")
            peak["over"] = max(peak["over"], over)
            await asyncio.sleep(0.005)

    apps = [create_app(routing.settings), create_app(routing.settings)]
    async with running(apps[0]), running(apps[1]):
        mql_topic = routing.topic(LeadMqlEvent)
        await wait_for(
            lambda: all(_reads(app, mql_topic) for app in apps),
            timeout_s=30,
            message="both instances reading lead.mql.v1",
        )
        watcher = asyncio.create_task(watch())
        try:
            await asyncio.gather(*(routing.send(lead) for lead in leads))

            async def all_decided() -> bool:
                [(n,)] = await routing.rows("SELECT count(*) FROM routing.decisions")
                return n == len(leads)

            await wait_for(all_decided, timeout_s=30, message="60 decisions")
            # Close a third of the assignments at once: the slots go to the queue, still capped.
            taken = await routing.rows("SELECT lead_id FROM routing.assignments LIMIT 5")
            await asyncio.gather(
                *(routing.send(feedback(lead_id, Verdict.lost)) for (lead_id,) in taken)
            )

            async def refilled() -> bool:
                [(n,)] = await routing.rows("SELECT count(*) FROM routing.assignments")
                return n == 20

            await wait_for(refilled, timeout_s=30, message="freed slots refilled")
        finally:
            watcher.cancel()
    assert peak["over"] == 0
    per_rep = await routing.rows(
        "SELECT rep_id, count(*) FROM routing.assignments WHERE status <> 'closed' GROUP BY rep_id"
    )
    assert sorted(per_rep) == [(f"r{i}", 3) for i in range(5)]
    handled = await routing.rows("SELECT count(*) FROM routing.processed_events")
    assert handled == [(65,)]
